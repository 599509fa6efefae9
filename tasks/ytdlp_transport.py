"""A yt-dlp request handler that sends every request through assetflow's guarded transport.

yt-dlp makes its requests (the page, its redirects, an extractor's API calls,
HLS/DASH manifests, segments, keys, the chosen formats) through one
``RequestDirector``. ``GuardedYoutubeDL`` (tasks/ytdlp_guard.py) gives that
director this handler alone, so each request, and each redirect hop, opens its
connection through ``GuardedTransport``: the host is resolved once and every
address checked at connect time (tasks/net_guard.py).

Only http(s) without a proxy: a proxy would resolve the names itself.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import IO, Any

import httpx
from yt_dlp.networking.common import Request, RequestHandler, Response
from yt_dlp.networking.exceptions import HTTPError, RequestError, TransportError

from core.errors import ForbiddenSource, InvalidSource, PermanentError
from core.redact import redact_source
from core.settings import Settings
from tasks.net_guard import GuardedTransport


class GuardRefusal(RequestError):
    """A request the guard refused; ``cause`` is the assetflow error to report.

    Not a ``TransportError``: yt-dlp retries those, and skips fragments that
    fail with them; a refusal must end the download.
    """

    def __init__(self, error: PermanentError) -> None:
        super().__init__(str(error), cause=error)


class AssetflowGuardRH(RequestHandler):
    """Send http(s) requests with httpx over ``GuardedTransport``, following checked redirects."""

    _SUPPORTED_URL_SCHEMES = ("http", "https")
    _SUPPORTED_PROXY_SCHEMES = ()
    _SUPPORTED_FEATURES = ()
    RH_NAME = "assetflow-guard"

    def __init__(self, *, settings: Settings, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._settings = settings
        # One pool for the handler's life: an HLS stream's segments reuse connections.
        self._transport = GuardedTransport(allowed=settings.allowed_networks)

    def close(self) -> None:
        """Close the pooled connections."""
        self._transport.close()

    def _check_extensions(self, extensions: dict[str, Any]) -> None:
        super()._check_extensions(extensions)
        extensions.pop("cookiejar", None)
        extensions.pop("timeout", None)
        extensions.pop("keep_header_casing", None)
        # Older TLS options are not offered: the request goes out with the default context.
        extensions.pop("legacy_ssl", None)

    def _send(self, request: Request) -> Response:
        timeout = httpx.Timeout(
            self._calculate_timeout(request), connect=self._settings.connect_timeout_s
        )
        # A client per request shares the pool and takes the request's cookie jar,
        # so cookies set and sent across redirects are the ones yt-dlp keeps.
        client = httpx.Client(
            transport=self._transport,
            cookies=self._get_cookiejar(request),
            timeout=timeout,
            follow_redirects=True,
            max_redirects=self._settings.max_redirects,
            trust_env=False,
        )
        shown = redact_source(request.url)
        try:
            sent = client.build_request(
                request.method,
                request.url,
                headers=self._get_headers(request),
                content=_content(request.data),
            )
            response = client.send(sent, stream=True)
        except ForbiddenSource as exc:
            raise GuardRefusal(ForbiddenSource(f"refusing to fetch {shown}: {exc}")) from exc
        except httpx.TooManyRedirects as exc:
            raise GuardRefusal(
                InvalidSource(
                    f"too many redirects fetching {shown} "
                    f"(more than {self._settings.max_redirects}, ASSETFLOW_MAX_REDIRECTS)"
                )
            ) from exc
        except httpx.UnsupportedProtocol as exc:
            # yt-dlp checked the request's own scheme: a redirect led elsewhere (file:, ftp:).
            raise GuardRefusal(
                InvalidSource(f"{shown} redirects to a URL that is not http(s): {exc}")
            ) from exc
        except (httpx.TransportError, httpx.InvalidURL) as exc:
            raise TransportError(cause=exc) from exc
        result = _GuardedResponse(response)
        if not 200 <= result.status < 300:
            raise HTTPError(result)
        return result


def _content(data: bytes | Iterable[bytes] | IO[bytes] | None) -> bytes | Iterable[bytes] | None:
    """Return yt-dlp's request body (bytes, an iterable of bytes or a file) as httpx takes it."""
    if isinstance(data, io.IOBase):
        stream = data
        return iter(lambda: stream.read(64 * 1024), b"")
    return data


class _BodyReader(io.RawIOBase):
    """A response body as a file: yt-dlp reads pages whole and media in blocks."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self._chunks = response.iter_bytes()
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        # yt-dlp asks for "everything" with None, which RawIOBase spells -1.
        return super().read(-1 if size is None else size)

    def readinto(self, buffer: Any) -> int:
        # Fill the whole buffer as a socket file does: yt-dlp pays per read, and
        # httpx hands the body over in chunks of at most 64 KiB.
        filled = 0
        while filled < len(buffer):
            if not self._pending:
                chunk = next(self._chunks, None)
                if chunk is None:
                    break
                self._pending = memoryview(chunk)  # a view: slicing it copies nothing
            size = min(len(buffer) - filled, len(self._pending))
            buffer[filled : filled + size] = self._pending[:size]
            self._pending = self._pending[size:]
            filled += size
        return filled

    def close(self) -> None:
        self._response.close()
        super().close()


class _GuardedResponse(Response):
    """yt-dlp's view of an httpx response (a read error becomes yt-dlp's TransportError)."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(
            fp=_BodyReader(response),
            url=str(response.url),
            headers=dict(response.headers.multi_items()),
            status=response.status_code,
            reason=response.reason_phrase,
        )
