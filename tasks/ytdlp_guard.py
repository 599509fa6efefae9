"""A YoutubeDL whose every request passes the address guard, with allowed extractors only.

Four doors are closed here:
- requests: the request director has one handler, ``AssetflowGuardRH``; yt-dlp's
  own urllib/requests/websockets handlers are never built, so there is no
  fallback that would connect unchecked;
- downloaders: only yt-dlp's native ones (plain HTTP, HLS, DASH), which fetch
  through that director; ffmpeg, curl or aria2c would open their own
  connections, so a format that needs one is refused, and ffmpeg, should
  yt-dlp's HLS downloader hand a stream to it anyway, may read local files only;
- ffmpeg steps on what was downloaded: their inputs are read as the media
  containers they should be, never as playlists naming other files;
- extractors: each URL yt-dlp extracts, the page and any page it leads to,
  must be read by an extractor in ``ytdlp_extractors``.
"""

from __future__ import annotations

import functools
from typing import Any

from yt_dlp import YoutubeDL
from yt_dlp.downloader import get_suitable_downloader
from yt_dlp.downloader.dash import DashSegmentsFD
from yt_dlp.downloader.hls import HlsFD
from yt_dlp.downloader.http import HttpFD
from yt_dlp.networking.common import RequestDirector

from core.errors import ForbiddenSource
from core.redact import redact_source
from core.settings import Settings
from tasks.ytdlp_extractors import check_extractor
from tasks.ytdlp_transport import AssetflowGuardRH

# The downloaders that fetch through YoutubeDL.urlopen, hence through the guard.
NATIVE_DOWNLOADERS = (HttpFD, HlsFD, DashSegmentsFD)

# Demuxers that read the one file they are given and open no other input.
_CONTAINERS = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,mpegts,flv,aac,mp3,ogg,wav,flac,avi,asf,mpeg"
# yt-dlp's ffmpeg steps on downloaded bytes (merging video and audio, mending
# HLS/DASH output). A "video" whose bytes are an HLS playlist would have them
# read the local files it names into the merged result, so their inputs are
# confined to those containers. yt-dlp looks their arguments up by step name.
_FFMPEG_STEPS = (
    "Merger",
    "FixupStretched",
    "FixupM4a",
    "FixupM3u8",
    "FixupDuplicateMoov",
    "FixupTimestamp",
    "FixupDuration",
)

# Parameters a caller cannot override: they keep every fetch inside the guard.
_GUARDED_PARAMS: dict[str, Any] = {
    # An environment proxy would resolve names itself (the handler takes none).
    "proxy": "",
    # Never hand a protocol to an external program (ffmpeg, curl, aria2c, wget).
    "external_downloader": {"default": "native"},
    # yt-dlp's HLS downloader hands streams it cannot read to ffmpeg; confined to
    # local files, ffmpeg then fails instead of fetching the stream itself.
    "external_downloader_args": {"ffmpeg_i": ["-protocol_whitelist", "file"]},
    # A segment that cannot be fetched (or is refused) fails the download: never
    # store a video with a hole where the refused segment was.
    "skip_unavailable_fragments": False,
    "postprocessor_args": {
        f"{step.lower()}+ffmpeg_i": ["-format_whitelist", _CONTAINERS] for step in _FFMPEG_STEPS
    },
    "enable_file_urls": False,
    "allow_unplayable_formats": False,
}


class GuardedYoutubeDL(YoutubeDL):
    """YoutubeDL with the guarded handler alone, native downloaders, allowed extractors."""

    def __init__(self, params: dict[str, Any], *, settings: Settings) -> None:
        self._settings = settings
        super().__init__({**params, **_GUARDED_PARAMS})

    @functools.cached_property
    def _request_director(self) -> RequestDirector:
        # Replaces YoutubeDL's director, built from every registered handler.
        return self.build_request_director(
            [functools.partial(AssetflowGuardRH, settings=self._settings)]
        )

    def extract_info(
        self,
        url: str,
        download: bool = True,
        ie_key: str | None = None,
        extra_info: dict[str, Any] | None = None,
        process: bool = True,
        force_generic_extractor: bool = False,
    ) -> Any:
        """Refuse a URL whose extractor is not allowed, then extract as YoutubeDL does.

        yt-dlp comes back here for every URL a page leads to (an embed, a
        redirecting result), so each of them is checked too.
        """
        key = ie_key or ("Generic" if force_generic_extractor else None)
        check_extractor(url, key, allowed=self._settings.ytdlp_extractors, shown=redact_source(url))
        return super().extract_info(url, download, key, extra_info, process)

    def dl(
        self, name: str, info: dict[str, Any], subtitle: bool = False, test: bool = False
    ) -> Any:
        """Refuse a format that only a downloader opening its own connections can fetch."""
        downloader = get_suitable_downloader(info, self.params, to_stdout=(name == "-"))
        if downloader not in NATIVE_DOWNLOADERS:
            raise ForbiddenSource(
                f"refusing the format {info.get('format_id') or '?'} "
                f"({info.get('protocol') or '?'}): yt-dlp would fetch it with "
                f"{getattr(downloader, '__name__', 'an external program')}, which opens "
                "connections the address guard cannot check"
            )
        return super().dl(name, info, subtitle, test)
