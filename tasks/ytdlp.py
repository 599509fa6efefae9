"""Download the video behind a page URL (YouTube and the other allowed sites) with yt-dlp.

yt-dlp is embedded, never run as a CLI: ``GuardedYoutubeDL.extract_info``
finds the formats, then the same YoutubeDL downloads and merges them into
``dest_dir/video.mp4``. Every request it makes goes through the SSRF guard at
connect time, and only the allowed extractors run (tasks/ytdlp_guard.py). Its
errors are translated into the ``core.errors`` tree; every URL that reaches a
log line, an error or a result is redacted.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from yt_dlp.networking.exceptions import HTTPError, TransportError
from yt_dlp.utils import (
    DownloadError,
    ExtractorError,
    PostProcessingError,
    UnsupportedError,
    YoutubeDLError,
)

from core.errors import (
    CorruptMedia,
    ForbiddenSource,
    IngestError,
    InvalidSource,
    SourceNotFound,
    SourceUnavailable,
)
from core.redact import REDACTED, is_secret_param, redact_logger, redact_source, redact_text
from core.settings import Settings
from storage.digest import digest_file
from tasks.fetch import FetchedSource
from tasks.spool import too_large
from tasks.ytdlp_extractors import specific_extractors
from tasks.ytdlp_guard import GuardedYoutubeDL

log = logging.getLogger("assetflow.ytdlp")
redact_logger(log.name)

# Best MP4 up to 1080p: separate H.264/MP4 video + M4A audio merged by ffmpeg,
# else a single MP4 file, else whatever single file is there up to 1080p, else anything.
FORMAT = "bv*[height<=1080][ext=mp4]+ba[ext=m4a]/b[height<=1080][ext=mp4]/b[height<=1080]/b"
# The download is always saved under this fixed name: never the page's title.
OUTPUT_STEM = "video"
_YOUTUBE_HOSTS = re.compile(
    r"^(?:(?:www|m|music)\.)?(?:youtube\.com|youtube-nocookie\.com)$|^youtu\.be$"
)
_YOUTUBE_PATHS = re.compile(r"^/(?:watch|shorts/|embed/|live/|v/)")
# A URL ending in one of these names a file to fetch directly, not a page.
_DIRECT_SUFFIXES = frozenset(
    {
        ".mp4",
        ".m4v",
        ".mov",
        ".mkv",
        ".webm",
        ".avi",
        ".mpg",
        ".mpeg",
        ".ts",
        ".m3u8",
        ".mpd",
        ".mp3",
        ".m4a",
        ".aac",
        ".wav",
        ".flac",
        ".ogg",
        ".opus",
        ".jpg",
        ".jpeg",
        ".png",
        ".gif",
        ".webp",
        ".pdf",
        ".zip",
    }
)
# What yt-dlp's HLS downloader says when it hands a stream it cannot read to ffmpeg.
_TO_FFMPEG = "delegated to ffmpeg"
# Phrases in yt-dlp's messages that mean the video does not exist for us.
_NOT_FOUND = re.compile(
    r"private video|video unavailable|not available|has been removed|does not exist|"
    r"404|410|members-only|sign in to confirm your age|account.*terminated",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class PageInfo:
    """What the page said about its video, as kept from yt-dlp's sanitized info."""

    title: str | None
    uploader: str | None
    duration: float | None
    webpage_url: str
    extractor: str


@dataclass(frozen=True)
class PageDownload:
    """A page's video downloaded and hashed, and what the page said about it."""

    fetched: FetchedSource
    page: PageInfo


def is_video_page(url: str) -> bool:
    """Tell whether a URL names a video page for yt-dlp, not a file to fetch directly.

    Pure: matches the URL against yt-dlp's extractors, opens no connection.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    if Path(parts.path).suffix.lower() in _DIRECT_SUFFIXES:
        return False
    if _YOUTUBE_HOSTS.match(parts.hostname.lower()):
        return parts.hostname.lower() == "youtu.be" or bool(_YOUTUBE_PATHS.match(parts.path))
    return any(extractor.suitable(url) for extractor in specific_extractors())


def download_page_video(
    url: str, *, dest_dir: Path, settings: Settings, force_generic: bool = False
) -> PageDownload:
    """Download the video of a page into ``dest_dir/video.mp4`` (or its own extension) and hash it.

    ``force_generic`` makes yt-dlp read the page as plain HTML (<video> and
    friends) instead of a site extractor. Raises SourceNotFound, SourceTooLarge,
    SourceUnavailable (worth a retry), InvalidSource or ForbiddenSource (a
    request to a non-public address, an extractor not allowed).
    """
    shown = redact_source(url)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidSource(f"not an http(s) page URL: {shown}")
    dest_dir.mkdir(parents=True, exist_ok=True)
    messages: list[str] = []
    logger = _Logger(messages, secrets=_secrets_of(url))
    with GuardedYoutubeDL(_options(dest_dir, settings, logger), settings=settings) as ydl:
        try:
            info = ydl.extract_info(url, download=True, ie_key="Generic" if force_generic else None)
        except YoutubeDLError as exc:  # DownloadError, ExtractorError, a request's error
            if any(_TO_FFMPEG in message for message in messages):
                raise ForbiddenSource(
                    f"refusing {shown}: yt-dlp would hand its stream to ffmpeg, which "
                    "opens connections the address guard cannot check"
                ) from exc
            raise _translate(exc, shown) from exc
        kept = ydl.sanitize_info(info)
    path = _downloaded_path(kept, dest_dir)
    if path is None:
        if any("larger than max-filesize" in message for message in messages):
            raise too_large(shown, settings.max_source_bytes)
        raise SourceUnavailable(f"yt-dlp wrote no file for {shown}")
    digest = digest_file(path)
    extractor = str(kept.get("extractor_key") or kept.get("extractor") or "unknown")
    page = PageInfo(
        title=_page_title(kept.get("title"), extractor),
        uploader=kept.get("uploader"),
        duration=float(kept["duration"]) if kept.get("duration") is not None else None,
        webpage_url=redact_source(str(kept.get("webpage_url") or url)),
        extractor=extractor,
    )
    log.info("downloaded %s (%s): %d bytes", shown, page.extractor, digest.size)
    fetched = FetchedSource(
        path=path,
        size=digest.size,
        sha256=digest.sha256,
        md5=digest.md5,
        content_type="video/mp4" if path.suffix == ".mp4" else None,
        filename=path.name,
        source=shown,
    )
    return PageDownload(fetched=fetched, page=page)


def _options(dest_dir: Path, settings: Settings, logger: _Logger) -> dict[str, Any]:
    limit = settings.max_source_bytes

    def check_size(progress: dict[str, Any]) -> None:
        # max_filesize trusts Content-Length; this also stops a body sent without one.
        if int(progress.get("downloaded_bytes") or 0) > limit:
            raise too_large("the page's video", limit)

    return {
        "format": FORMAT,
        "merge_output_format": "mp4",
        "noplaylist": True,
        "max_filesize": limit,
        "outtmpl": {"default": str(dest_dir / f"{OUTPUT_STEM}.%(ext)s")},
        "restrictfilenames": True,
        "quiet": True,
        "no_warnings": False,
        "noprogress": True,
        "logger": logger,
        "socket_timeout": settings.read_timeout_s,
        "progress_hooks": [check_size],
        # No network beyond the URL given: no update checks, no cache, no cookies file,
        # no subtitles/thumbnails/comments, no remote components.
        "cachedir": False,
        "call_home": False,
        "writesubtitles": False,
        "writethumbnail": False,
        "getcomments": False,
        "remote_components": [],
        "overwrites": True,
    }


class _Logger:
    """Route yt-dlp's output to the "assetflow.ytdlp" logger, redacted, and keep its messages.

    yt-dlp also names a page by its URL's last segment ("watch?token=..."),
    which no URL pattern catches, so the URL's secrets are replaced by value.
    """

    def __init__(self, messages: list[str], *, secrets: list[str]) -> None:
        self._messages = messages
        self._secrets = secrets

    def _clean(self, message: str) -> str:
        message = redact_text(message)
        for secret in self._secrets:
            message = message.replace(secret, REDACTED)
        return message

    def debug(self, message: str) -> None:
        self._messages.append(message)
        log.debug("%s", self._clean(message))

    def info(self, message: str) -> None:
        self._messages.append(message)
        log.info("%s", self._clean(message))

    def warning(self, message: str) -> None:
        self._messages.append(message)
        log.warning("%s", self._clean(message))

    def error(self, message: str) -> None:
        self._messages.append(message)
        log.error("%s", self._clean(message))


def _secrets_of(url: str) -> list[str]:
    """Return the credential and secret query values in a URL, longest first."""
    parts = urlsplit(url)
    values = [parts.username or "", parts.password or ""]
    values += [
        value
        for name, value in parse_qsl(parts.query, keep_blank_values=False)
        if is_secret_param(name)
    ]
    return sorted({v for v in values if len(v) >= 3}, key=len, reverse=True)


def _page_title(title: object, extractor: str) -> str | None:
    """Return the page's title; the HTML5 embed reader numbers it per media element ("T (1)")."""
    if not isinstance(title, str):
        return None
    if extractor == "HTML5MediaEmbed":
        return re.sub(r" \(\d+\)$", "", title)
    return title


def _downloaded_path(info: dict[str, Any], dest_dir: Path) -> Path | None:
    for download in info.get("requested_downloads") or []:
        path = Path(str(download.get("filepath") or ""))
        if download.get("filepath") and path.is_file() and path.parent == dest_dir:
            return path
    return None


def _translate(exc: YoutubeDLError, shown: str) -> Exception:
    """Map a yt-dlp failure to the error tree, most specific first."""
    cause: BaseException | None = exc
    if isinstance(exc, DownloadError) and exc.exc_info and exc.exc_info[1] is not None:
        cause = exc.exc_info[1]
    # assetflow's own errors (the guard's refusals, the size limit) say it best.
    own = next((e for e in _chain(cause) if isinstance(e, IngestError)), None)
    if own is not None:
        return own
    message = redact_text(str(getattr(cause, "orig_msg", None) or cause or exc))
    http = next((e for e in _chain(cause) if isinstance(e, HTTPError)), None)
    if http is not None:
        status = http.status
        if status in (404, 410):
            return SourceNotFound(f"{shown}: HTTP {status}")
        if status in (401, 403):
            return ForbiddenSource(f"{shown}: HTTP {status}")
        if status in (408, 429) or status >= 500:
            return SourceUnavailable(f"{shown}: HTTP {status}")
    if any(isinstance(e, PostProcessingError) for e in _chain(cause)):
        # ffmpeg merges and mends the downloaded files, reading each as a media container only.
        return CorruptMedia(
            f"{shown}: the downloaded media could not be remuxed (it is not a media container "
            f"ffmpeg may read, e.g. a playlist naming other files): {message}"
        )
    if any(isinstance(e, UnsupportedError) for e in _chain(cause)):
        return InvalidSource(f"no video found at {shown}: {message}")
    if any(isinstance(e, TransportError) for e in _chain(cause)):
        return SourceUnavailable(f"{shown}: network error: {message}")
    if _NOT_FOUND.search(message):
        return SourceNotFound(f"{shown}: {message}")
    if isinstance(cause, ExtractorError) and cause.expected:
        # yt-dlp says this is a known, final answer from the site (not a bug of its own).
        return SourceNotFound(f"{shown}: {message}")
    return SourceUnavailable(f"yt-dlp failed on {shown}: {message}")


def _chain(exc: BaseException | None) -> list[BaseException]:
    """Return the exception and its causes (yt-dlp keeps the original one in ``cause``)."""
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        nxt = getattr(exc, "cause", None) or exc.__cause__ or exc.__context__
        if isinstance(nxt, tuple):  # DownloadError.exc_info
            nxt = nxt[1]
        exc = nxt if isinstance(nxt, BaseException) else None
    return seen
