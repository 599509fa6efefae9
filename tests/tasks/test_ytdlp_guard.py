"""Every request yt-dlp makes goes through the address guard: attacks from an allowed host.

Two real servers: "allowed" on 127.0.0.1 (in the test settings' allowed
networks) and "blocked" on 127.0.0.2, loopback outside them, standing for an
internal service. Each attack starts on the allowed host and points yt-dlp at
the blocked one; the blocked server must see no request at all.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from yt_dlp.networking.common import Request
from yt_dlp.networking.exceptions import RequestError

from core.errors import ForbiddenSource
from core.settings import Settings
from tasks.ytdlp import download_page_video
from tasks.ytdlp_guard import GuardedYoutubeDL
from tests.fixtures.http_server import LocalHTTPServer, Redirect, ServeFile, Status, serve_http


@pytest.fixture(scope="module")
def blocked() -> Iterator[LocalHTTPServer]:
    """A server on 127.0.0.2: loopback, outside the test settings' allowed 127.0.0.1/32."""
    with serve_http("127.0.0.2") as server:
        yield server


@pytest.fixture
def settings(fetch_settings: Settings) -> Settings:
    """The test settings with Mediasite on: an extractor that takes any host."""
    return fetch_settings.model_copy(update={"ytdlp_extractors": ["generic", "mediasite"]})


@pytest.fixture(scope="module")
def segment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One second of MPEG-TS video: an HLS segment."""
    path = tmp_path_factory.mktemp("hls") / "seg.ts"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x64:rate=10", "-t", "1",
         "-c:v", "libx264", "-f", "mpegts", str(path)],
        check=True,
    )  # fmt: skip
    return path


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / uuid.uuid4().hex
    path.write_text(text)
    return path


def _mediasite(
    tmp_path: Path, allowed: LocalHTTPServer, *, playlist: str, service: str | None = None,
    mime: str = "application/x-mpegURL",
) -> tuple[str, str]:  # fmt: skip
    """Serve a Mediasite presentation on the allowed host; return its page URL and options path.

    The page names its player service (where yt-dlp POSTs for the player
    options): ``service``, or one beside the page. The options name ``playlist``
    (of type ``mime``) as the video.
    """
    folder = f"/{uuid.uuid4().hex}"
    service = service or allowed.url(f"{folder}/svc")
    page = _file(tmp_path, f'<html><body><div id="ServicePath">{service}</div></body></html>')
    stream = {"StreamType": 0, "VideoUrls": [{"Location": playlist, "MimeType": mime}]}
    options = {"d": {"Presentation": {"Title": "Lecture", "Duration": 2000, "Streams": [stream]}}}
    options_path = f"{folder}/svc/GetPlayerOptions"
    allowed.route(options_path, ServeFile(_file(tmp_path, json.dumps(options)), "application/json"))
    # Mediasite pages live at /Mediasite/Play/<id>: the id keeps tests apart.
    page_url = allowed.route(f"/Mediasite/Play/{folder[1:]}", ServeFile(page, "text/html"))
    return page_url, options_path


def _playlist(
    tmp_path: Path, server: LocalHTTPServer, segments: list[str], *, key: str = ""
) -> str:
    """Serve an HLS media playlist of one-second ``segments`` (after the line ``key``)."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:1", "#EXT-X-MEDIA-SEQUENCE:0"]
    lines += [key] if key else []
    for url in segments:
        lines += ["#EXTINF:1.0,", url]
    lines.append("#EXT-X-ENDLIST")
    path = _file(tmp_path, "\n".join(lines) + "\n")
    return server.route(f"/{uuid.uuid4().hex}/index.m3u8", ServeFile(path, "application/x-mpegURL"))


def _segment_on(server: LocalHTTPServer, segment: Path) -> str:
    return server.route(f"/{uuid.uuid4().hex}/seg.ts", ServeFile(segment, "video/mp2t"))


def test_an_hls_stream_of_an_allowed_host_is_downloaded(
    tmp_path: Path, http_server: LocalHTTPServer, settings: Settings, segment: Path
) -> None:
    segments = [_segment_on(http_server, segment), _segment_on(http_server, segment)]
    page_url, options_path = _mediasite(
        tmp_path, http_server, playlist=_playlist(tmp_path, http_server, segments)
    )

    result = download_page_video(page_url, dest_dir=tmp_path / "dl", settings=settings)

    assert (result.page.extractor, result.page.title) == ("Mediasite", "Lecture")
    assert result.fetched.size > segment.stat().st_size  # both segments
    [post] = http_server.requests(options_path)
    assert post.method == "POST"
    assert json.loads(post.body)["getPlayerOptionsRequest"]["ResourceId"] == page_url[-32:]


def test_an_hls_segment_on_a_blocked_host_is_refused(
    tmp_path: Path, http_server: LocalHTTPServer, blocked: LocalHTTPServer, settings: Settings,
    segment: Path,
) -> None:  # fmt: skip
    segments = [_segment_on(http_server, segment), _segment_on(blocked, segment)]
    page_url, _ = _mediasite(
        tmp_path, http_server, playlist=_playlist(tmp_path, http_server, segments)
    )

    with pytest.raises(ForbiddenSource, match=r"127\.0\.0\.2 resolves to a loopback address"):
        download_page_video(page_url, dest_dir=tmp_path / "dl", settings=settings)
    assert blocked.all_requests() == []
    assert not (tmp_path / "dl" / "video.mp4").exists()


def test_an_hls_key_on_a_blocked_host_is_refused(
    tmp_path: Path, http_server: LocalHTTPServer, blocked: LocalHTTPServer, settings: Settings,
    segment: Path,
) -> None:  # fmt: skip
    key = blocked.route(f"/{uuid.uuid4().hex}/key", Status(200, body=b"k" * 16))
    playlist = _playlist(
        tmp_path, http_server, [_segment_on(http_server, segment)],
        key=f'#EXT-X-KEY:METHOD=AES-128,URI="{key}"',
    )  # fmt: skip
    page_url, _ = _mediasite(tmp_path, http_server, playlist=playlist)

    with pytest.raises(ForbiddenSource, match=r"127\.0\.0\.2"):
        download_page_video(page_url, dest_dir=tmp_path / "dl", settings=settings)
    assert blocked.all_requests() == []


def test_a_stream_yt_dlp_would_hand_to_ffmpeg_is_refused(
    tmp_path: Path, http_server: LocalHTTPServer, blocked: LocalHTTPServer, settings: Settings,
    segment: Path,
) -> None:  # fmt: skip
    # SAMPLE-AES is beyond yt-dlp's own HLS downloader: it would let ffmpeg
    # fetch the playlist, key and segments itself, past any request handler.
    key = blocked.route(f"/{uuid.uuid4().hex}/key", Status(200, body=b"k" * 16))
    playlist = _playlist(
        tmp_path, http_server, [_segment_on(blocked, segment)],
        key=f'#EXT-X-KEY:METHOD=SAMPLE-AES,URI="{key}"',
    )  # fmt: skip
    page_url, _ = _mediasite(tmp_path, http_server, playlist=playlist)

    with pytest.raises(ForbiddenSource, match="ffmpeg"):
        download_page_video(page_url, dest_dir=tmp_path / "dl", settings=settings)
    assert blocked.all_requests() == []


def test_a_format_only_an_external_program_can_fetch_is_refused(
    tmp_path: Path, http_server: LocalHTTPServer, blocked: LocalHTTPServer, settings: Settings
) -> None:
    # yt-dlp fetches RTMP with rtmpdump, which would connect wherever the page says.
    rtmp = blocked.url("/live/stream").replace("http:", "rtmp:")
    page_url, _ = _mediasite(tmp_path, http_server, playlist=rtmp, mime="video/mp4")

    with pytest.raises(ForbiddenSource, match="connections the address guard cannot check"):
        download_page_video(page_url, dest_dir=tmp_path / "dl", settings=settings)


def test_an_extractor_api_post_to_a_blocked_host_is_refused(
    tmp_path: Path, http_server: LocalHTTPServer, blocked: LocalHTTPServer, settings: Settings,
    segment: Path,
) -> None:  # fmt: skip
    service = blocked.url(f"/{uuid.uuid4().hex}/svc")
    page_url, _ = _mediasite(
        tmp_path, http_server, service=service,
        playlist=_playlist(tmp_path, http_server, [_segment_on(http_server, segment)]),
    )  # fmt: skip

    with pytest.raises(ForbiddenSource, match=r"127\.0\.0\.2 resolves to a loopback address"):
        download_page_video(page_url, dest_dir=tmp_path / "dl", settings=settings)
    assert blocked.all_requests() == []


def _video_page(tmp_path: Path, server: LocalHTTPServer, src: str) -> str:
    page = _file(
        tmp_path,
        f'<html><head><title>T</title></head><body><video src="{src}"></video></body></html>',
    )
    return server.route(f"/{uuid.uuid4().hex}/watch", ServeFile(page, "text/html"))


def test_a_page_redirect_to_a_blocked_host_is_refused(
    tmp_path: Path, http_server: LocalHTTPServer, blocked: LocalHTTPServer, settings: Settings,
    segment: Path,
) -> None:  # fmt: skip
    target = _video_page(tmp_path, blocked, _segment_on(blocked, segment))
    url = http_server.route(f"/{uuid.uuid4().hex}/watch", Redirect(target))

    with pytest.raises(ForbiddenSource, match=r"127\.0\.0\.2 resolves to a loopback address"):
        download_page_video(url, dest_dir=tmp_path / "dl", settings=settings, force_generic=True)
    assert blocked.all_requests() == []


@pytest.mark.parametrize("through_redirect", [False, True], ids=["direct", "redirect"])
def test_a_chosen_format_on_a_blocked_host_is_refused(
    tmp_path: Path, http_server: LocalHTTPServer, blocked: LocalHTTPServer, settings: Settings,
    segment: Path, through_redirect: bool,
) -> None:  # fmt: skip
    media = blocked.route(f"/{uuid.uuid4().hex}/clip.mp4", ServeFile(segment, "video/mp4"))
    if through_redirect:
        media = http_server.route(f"/{uuid.uuid4().hex}/clip.mp4", Redirect(media))
    url = _video_page(tmp_path, http_server, media)

    with pytest.raises(ForbiddenSource, match=r"127\.0\.0\.2 resolves to a loopback address"):
        download_page_video(url, dest_dir=tmp_path / "dl", settings=settings, force_generic=True)
    assert blocked.all_requests() == []
    assert not (tmp_path / "dl" / "video.mp4").exists()


def test_yt_dlp_has_no_other_way_out(
    http_server: LocalHTTPServer, blocked: LocalHTTPServer, settings: Settings
) -> None:
    echo = http_server.route(f"/{uuid.uuid4().hex}/api", Status(200, body=b"ok"))
    with GuardedYoutubeDL({"quiet": True}, settings=settings) as ydl:
        assert ydl.urlopen(Request(echo, data=b"q=1")).read() == b"ok"
        for request in (Request(blocked.url("/api"), data=b"q=1"), Request(blocked.url("/api"))):
            with pytest.raises(RequestError, match=r"127\.0\.0\.2 resolves to a loopback"):
                ydl.urlopen(request)
        # No other handler (websockets, urllib's ftp) takes what the guarded one declines.
        for scheme in ("ws", "ftp"):
            with pytest.raises(RequestError):
                ydl.urlopen(Request(blocked.url("/api").replace("http", scheme, 1)))
    assert blocked.all_requests() == []
    assert [r.body for r in http_server.requests(urlsplit(echo).path)] == [b"q=1"]


def test_a_page_of_an_extractor_not_allowed_is_refused_before_any_request(
    tmp_path: Path, http_server: LocalHTTPServer, fetch_settings: Settings
) -> None:
    page_url, _ = _mediasite(tmp_path, http_server, playlist=http_server.url("/none.m3u8"))

    with pytest.raises(ForbiddenSource, match="yt-dlp's mediasite extractor is not allowed"):
        download_page_video(page_url, dest_dir=tmp_path / "dl", settings=fetch_settings)
    assert http_server.requests(urlsplit(page_url).path) == []


def test_an_embed_of_an_extractor_not_allowed_is_refused(
    tmp_path: Path, http_server: LocalHTTPServer, fetch_settings: Settings
) -> None:
    page_url, _ = _mediasite(tmp_path, http_server, playlist=http_server.url("/none.m3u8"))
    embedding = _file(tmp_path, f'<html><body><iframe src="{page_url}"></iframe></body></html>')
    url = http_server.route(f"/{uuid.uuid4().hex}/talk", ServeFile(embedding, "text/html"))

    with pytest.raises(ForbiddenSource, match="yt-dlp's mediasite extractor is not allowed"):
        download_page_video(url, dest_dir=tmp_path / "dl", settings=fetch_settings)
    assert len(http_server.requests(urlsplit(url).path)) == 1  # the embedding page, read
    assert http_server.requests(urlsplit(page_url).path) == []


def test_the_extractor_allow_list_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert "youtube" in Settings(_env_file=None).ytdlp_extractors  # type: ignore[call-arg]
    monkeypatch.setenv("ASSETFLOW_YTDLP_EXTRACTORS", "Generic, mediasite")

    assert Settings(_env_file=None).ytdlp_extractors == ["generic", "mediasite"]  # type: ignore[call-arg]
