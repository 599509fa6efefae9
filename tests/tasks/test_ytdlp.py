from __future__ import annotations

import hashlib
import logging
import socket
from pathlib import Path

import pytest

from core.errors import ForbiddenSource, InvalidSource, SourceNotFound, SourceTooLarge
from core.settings import Settings
from tasks.ytdlp import download_page_video, is_video_page
from tests.fixtures.audio_media import video_with_audio
from tests.fixtures.http_server import LocalHTTPServer, ServeFile, Status


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return video_with_audio(tmp_path_factory.mktemp("media") / "clip.mp4", seed=5, duration_s=3)


def _page(tmp_path: Path, http_server: LocalHTTPServer, clip: Path, name: str) -> str:
    http_server.route(f"/{name}/clip.mp4", ServeFile(clip, content_type="video/mp4"))
    html = tmp_path / "page.html"
    html.write_text(
        "<!doctype html><html><head><title>Harbour at dawn</title></head><body>"
        '<video controls src="clip.mp4"></video></body></html>'
    )
    return http_server.route(f"/{name}/watch", ServeFile(html, content_type="text/html"))


def test_page_video_is_downloaded_with_its_title(
    tmp_path: Path, http_server: LocalHTTPServer, clip: Path, fetch_settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    page_url = _page(tmp_path, http_server, clip, "ok")
    caplog.set_level(logging.DEBUG, logger="assetflow.ytdlp")

    result = download_page_video(
        page_url + "?token=s3cret", dest_dir=tmp_path / "dl", settings=fetch_settings,
        force_generic=True,
    )  # fmt: skip

    data = clip.read_bytes()
    assert result.fetched.path == tmp_path / "dl" / "video.mp4"
    assert result.fetched.path.read_bytes() == data
    assert result.fetched.sha256 == hashlib.sha256(data).hexdigest()
    assert result.fetched.md5 == hashlib.md5(data).hexdigest()
    assert result.fetched.size == len(data)
    assert result.page.title == "Harbour at dawn"
    assert result.page.extractor == "HTML5MediaEmbed"  # what the generic reader reports
    assert "s3cret" not in result.page.webpage_url + result.fetched.source
    assert "s3cret" not in caplog.text
    assert caplog.records, "yt-dlp's output goes to the assetflow.ytdlp logger"


def test_page_over_the_size_limit_is_too_large(
    tmp_path: Path, http_server: LocalHTTPServer, clip: Path, fetch_settings: Settings
) -> None:
    page_url = _page(tmp_path, http_server, clip, "big")
    small = fetch_settings.model_copy(update={"max_source_bytes": 1000})

    with pytest.raises(SourceTooLarge):
        download_page_video(page_url, dest_dir=tmp_path / "dl", settings=small, force_generic=True)
    assert not (tmp_path / "dl" / "video.mp4").exists()


def test_missing_page_is_not_found(
    tmp_path: Path, http_server: LocalHTTPServer, fetch_settings: Settings
) -> None:
    url = http_server.route("/gone/watch", Status(404))

    with pytest.raises(SourceNotFound, match="404"):
        download_page_video(url, dest_dir=tmp_path, settings=fetch_settings, force_generic=True)


def test_page_without_video_is_invalid(
    tmp_path: Path, http_server: LocalHTTPServer, fetch_settings: Settings
) -> None:
    html = tmp_path / "plain.html"
    html.write_text("<html><head><title>Nothing</title></head><body>text</body></html>")
    url = http_server.route("/plain/page", ServeFile(html, content_type="text/html"))

    with pytest.raises(InvalidSource, match="no video found"):
        download_page_video(url, dest_dir=tmp_path, settings=fetch_settings, force_generic=True)


def test_private_address_is_refused_before_any_request(
    tmp_path: Path, http_server: LocalHTTPServer, clip: Path
) -> None:
    page_url = _page(tmp_path, http_server, clip, "private")
    strict = Settings(_env_file=None)  # type: ignore[call-arg]

    with pytest.raises(ForbiddenSource, match="loopback"):
        download_page_video(page_url, dest_dir=tmp_path, settings=strict, force_generic=True)
    assert http_server.requests("/private/watch") == []


@pytest.mark.parametrize(
    "url",
    [
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "https://youtube.com/shorts/abcdefghijk",
        "https://youtu.be/dQw4w9WgXcQ",
        "https://www.youtube.com/embed/dQw4w9WgXcQ",
        "https://music.youtube.com/watch?v=dQw4w9WgXcQ",
        "https://vimeo.com/76979871",
    ],
)
def test_video_pages_go_to_ytdlp_without_a_connection(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("is_video_page opened a connection")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)

    assert is_video_page(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/video.mp4",
        "https://www.youtube.com/some/file.mp4",
        "https://example.com/page.html",
        "s3://bucket/key.mp4",
        "/local/path.mov",
        "https://www.youtube.com/",
    ],
)
def test_files_and_plain_pages_are_not_video_pages(url: str) -> None:
    assert not is_video_page(url)
