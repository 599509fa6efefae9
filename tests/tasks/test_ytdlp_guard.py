"""Every request yt-dlp makes goes through the address guard: attacks from an allowed host.

Two real servers: "allowed" on 127.0.0.1 (in the test settings' allowed
networks) and "blocked" on 127.0.0.2, loopback outside them, standing for an
internal service. Each attack starts on the allowed host and points yt-dlp at
the blocked one; the blocked server must see no request at all.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from Cryptodome.Cipher import AES
from yt_dlp.networking.common import Request
from yt_dlp.networking.exceptions import RequestError

from core.errors import CorruptMedia, ForbiddenSource, InvalidSource, SourceNotFound
from core.settings import Settings
from tasks.ytdlp import download_page_video
from tasks.ytdlp_guard import GuardedYoutubeDL
from tests.fixtures.audio_media import video_without_audio
from tests.fixtures.http_server import LocalHTTPServer, Redirect, ServeFile, Status
from tests.fixtures.video_pages import (
    dash_manifest,
    hls_playlist,
    m4a_audio,
    mediasite_page,
    segment_on,
    text_file,
    ts_segment,
    video_page,
)


@pytest.fixture
def blocked(blocked_http_server: LocalHTTPServer) -> LocalHTTPServer:
    """This test's server on 127.0.0.2, which no request may reach."""
    return blocked_http_server


@pytest.fixture
def settings(fetch_settings: Settings) -> Settings:
    """The test settings with Mediasite on: an extractor that takes any host."""
    return fetch_settings.model_copy(update={"ytdlp_extractors": ["generic", "mediasite"]})


@pytest.fixture(scope="module")
def segment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One second of MPEG-TS video: an HLS segment."""
    return ts_segment(tmp_path_factory.mktemp("hls") / "seg.ts")


def test_an_hls_stream_of_an_allowed_host_is_downloaded(
    tmp_path: Path, http_server: LocalHTTPServer, settings: Settings, segment: Path
) -> None:
    segments = [segment_on(http_server, segment), segment_on(http_server, segment)]
    page_url, options_path = mediasite_page(
        tmp_path, http_server, playlist=hls_playlist(tmp_path, http_server, segments)
    )

    result = download_page_video(page_url, dest_dir=tmp_path / "dl", settings=settings)

    assert (result.page.extractor, result.page.title) == ("Mediasite", "Lecture")
    assert result.fetched.size > segment.stat().st_size  # both segments
    [post] = http_server.requests(options_path)
    assert post.method == "POST"
    assert json.loads(post.body)["getPlayerOptionsRequest"]["ResourceId"] == page_url[-32:]


def test_a_missing_segment_fails_the_download_instead_of_leaving_a_hole(
    tmp_path: Path, http_server: LocalHTTPServer, settings: Settings, segment: Path
) -> None:
    gone = http_server.route(f"/{uuid.uuid4().hex}/seg.ts", Status(404))
    segments = [segment_on(http_server, segment), gone, segment_on(http_server, segment)]
    page_url, _ = mediasite_page(
        tmp_path, http_server, playlist=hls_playlist(tmp_path, http_server, segments)
    )

    with pytest.raises(SourceNotFound, match="404"):
        download_page_video(page_url, dest_dir=tmp_path / "dl", settings=settings)
    assert not (tmp_path / "dl" / "video.mp4").exists()


def test_an_hls_segment_on_a_blocked_host_is_refused(
    tmp_path: Path, http_server: LocalHTTPServer, blocked: LocalHTTPServer, settings: Settings,
    segment: Path,
) -> None:  # fmt: skip
    segments = [segment_on(http_server, segment), segment_on(blocked, segment)]
    page_url, _ = mediasite_page(
        tmp_path, http_server, playlist=hls_playlist(tmp_path, http_server, segments)
    )

    with pytest.raises(ForbiddenSource, match=r"127\.0\.0\.2 resolves to a loopback address"):
        download_page_video(page_url, dest_dir=tmp_path / "dl", settings=settings)
    assert blocked.all_requests() == []
    assert not (tmp_path / "dl" / "video.mp4").exists()


def test_an_aes_128_hls_stream_is_decrypted_by_yt_dlp_itself(
    tmp_path: Path, http_server: LocalHTTPServer, settings: Settings, segment: Path
) -> None:
    # Without pycryptodomex yt-dlp would hand this stream to ffmpeg, which the guard refuses.
    key, iv = b"0123456789abcdef", bytes(16)
    plain = segment.read_bytes()
    padding = 16 - len(plain) % 16
    encrypted = tmp_path / "enc.ts"
    cipher = AES.new(key, AES.MODE_CBC, iv)
    encrypted.write_bytes(cipher.encrypt(plain + bytes([padding]) * padding))
    key_url = http_server.route(f"/{uuid.uuid4().hex}/key", Status(200, body=key))
    playlist = hls_playlist(
        tmp_path, http_server, [segment_on(http_server, encrypted)],
        key=f'#EXT-X-KEY:METHOD=AES-128,URI="{key_url}",IV=0x{iv.hex()}',
    )  # fmt: skip
    page_url, _ = mediasite_page(tmp_path, http_server, playlist=playlist)

    result = download_page_video(page_url, dest_dir=tmp_path / "dl", settings=settings)

    assert result.fetched.size > 0
    assert len(http_server.requests(urlsplit(key_url).path)) == 1


def test_an_hls_key_on_a_blocked_host_is_refused(
    tmp_path: Path, http_server: LocalHTTPServer, blocked: LocalHTTPServer, settings: Settings,
    segment: Path,
) -> None:  # fmt: skip
    key = blocked.route(f"/{uuid.uuid4().hex}/key", Status(200, body=b"k" * 16))
    playlist = hls_playlist(
        tmp_path, http_server, [segment_on(http_server, segment)],
        key=f'#EXT-X-KEY:METHOD=AES-128,URI="{key}"',
    )  # fmt: skip
    page_url, _ = mediasite_page(tmp_path, http_server, playlist=playlist)

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
    playlist = hls_playlist(
        tmp_path, http_server, [segment_on(blocked, segment)],
        key=f'#EXT-X-KEY:METHOD=SAMPLE-AES,URI="{key}"',
    )  # fmt: skip
    page_url, _ = mediasite_page(tmp_path, http_server, playlist=playlist)

    with pytest.raises(ForbiddenSource, match="ffmpeg"):
        download_page_video(page_url, dest_dir=tmp_path / "dl", settings=settings)
    assert blocked.all_requests() == []


def test_a_format_only_an_external_program_can_fetch_is_refused(
    tmp_path: Path, http_server: LocalHTTPServer, blocked: LocalHTTPServer, settings: Settings
) -> None:
    # yt-dlp fetches RTMP with rtmpdump, which would connect wherever the page says.
    rtmp = blocked.url("/live/stream").replace("http:", "rtmp:")
    page_url, _ = mediasite_page(tmp_path, http_server, playlist=rtmp, mime="video/mp4")

    with pytest.raises(ForbiddenSource, match="connections the address guard cannot check"):
        download_page_video(page_url, dest_dir=tmp_path / "dl", settings=settings)


def test_an_extractor_api_post_to_a_blocked_host_is_refused(
    tmp_path: Path, http_server: LocalHTTPServer, blocked: LocalHTTPServer, settings: Settings,
    segment: Path,
) -> None:  # fmt: skip
    service = blocked.url(f"/{uuid.uuid4().hex}/svc")
    page_url, _ = mediasite_page(
        tmp_path, http_server, service=service,
        playlist=hls_playlist(tmp_path, http_server, [segment_on(http_server, segment)]),
    )  # fmt: skip

    with pytest.raises(ForbiddenSource, match=r"127\.0\.0\.2 resolves to a loopback address"):
        download_page_video(page_url, dest_dir=tmp_path / "dl", settings=settings)
    assert blocked.all_requests() == []


def test_a_page_redirect_to_a_blocked_host_is_refused(
    tmp_path: Path, http_server: LocalHTTPServer, blocked: LocalHTTPServer, settings: Settings,
    segment: Path,
) -> None:  # fmt: skip
    target = video_page(tmp_path, blocked, segment_on(blocked, segment))
    url = http_server.route(f"/{uuid.uuid4().hex}/watch", Redirect(target))

    with pytest.raises(ForbiddenSource, match=r"127\.0\.0\.2 resolves to a loopback address"):
        download_page_video(url, dest_dir=tmp_path / "dl", settings=settings, force_generic=True)
    assert blocked.all_requests() == []


def test_a_redirect_out_of_http_is_refused(
    tmp_path: Path, http_server: LocalHTTPServer, settings: Settings
) -> None:
    url = http_server.route(f"/{uuid.uuid4().hex}/watch", Redirect("file:///etc/passwd"))

    with pytest.raises(InvalidSource, match="redirects to a URL that is not http"):
        download_page_video(url, dest_dir=tmp_path / "dl", settings=settings, force_generic=True)


@pytest.mark.parametrize("through_redirect", [False, True], ids=["direct", "redirect"])
def test_a_chosen_format_on_a_blocked_host_is_refused(
    tmp_path: Path, http_server: LocalHTTPServer, blocked: LocalHTTPServer, settings: Settings,
    segment: Path, through_redirect: bool,
) -> None:  # fmt: skip
    media = blocked.route(f"/{uuid.uuid4().hex}/clip.mp4", ServeFile(segment, "video/mp4"))
    if through_redirect:
        media = http_server.route(f"/{uuid.uuid4().hex}/clip.mp4", Redirect(media))
    url = video_page(tmp_path, http_server, media)

    with pytest.raises(ForbiddenSource, match=r"127\.0\.0\.2 resolves to a loopback address"):
        download_page_video(url, dest_dir=tmp_path / "dl", settings=settings, force_generic=True)
    assert blocked.all_requests() == []
    assert not (tmp_path / "dl" / "video.mp4").exists()


def test_a_dash_video_and_audio_pair_is_merged(
    tmp_path: Path, http_server: LocalHTTPServer, settings: Settings
) -> None:
    video = video_without_audio(tmp_path / "v.mp4", duration_s=1)
    url = dash_manifest(tmp_path, http_server, video=video, audio=m4a_audio(tmp_path / "a.m4a"))

    result = download_page_video(
        url, dest_dir=tmp_path / "dl", settings=settings, force_generic=True
    )

    assert result.fetched.path == tmp_path / "dl" / "video.mp4"
    assert result.fetched.size > video.stat().st_size  # the video with the audio


def test_a_downloaded_playlist_of_local_files_is_not_merged_into_the_video(
    tmp_path: Path, http_server: LocalHTTPServer, settings: Settings, segment: Path
) -> None:
    # The "video" of a DASH pair is an HLS playlist naming a local file: ffmpeg,
    # merging it with the audio, would read that file into the stored video.
    playlist = text_file(
        tmp_path, f"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\n{segment}\n#EXT-X-ENDLIST\n"
    )
    url = dash_manifest(tmp_path, http_server, video=playlist, audio=m4a_audio(tmp_path / "a.m4a"))

    with pytest.raises(CorruptMedia, match="could not be remuxed"):
        download_page_video(url, dest_dir=tmp_path / "dl", settings=settings, force_generic=True)
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
    page_url, _ = mediasite_page(tmp_path, http_server, playlist=http_server.url("/none.m3u8"))

    with pytest.raises(ForbiddenSource, match="yt-dlp's mediasite extractor is not allowed"):
        download_page_video(page_url, dest_dir=tmp_path / "dl", settings=fetch_settings)
    assert http_server.requests(urlsplit(page_url).path) == []


def test_an_embed_of_an_extractor_not_allowed_is_refused(
    tmp_path: Path, http_server: LocalHTTPServer, fetch_settings: Settings
) -> None:
    page_url, _ = mediasite_page(tmp_path, http_server, playlist=http_server.url("/none.m3u8"))
    embedding = text_file(tmp_path, f'<html><body><iframe src="{page_url}"></iframe></body></html>')
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
