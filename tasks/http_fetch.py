"""Open http(s) sources: guarded connections, checked redirects, status codes mapped to errors."""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import httpx

from core.errors import (
    ForbiddenSource,
    InvalidSource,
    PermanentError,
    SourceNotFound,
    SourceUnavailable,
)
from core.redact import redact_logger, redact_source, redact_text
from core.settings import Settings
from tasks.filenames import filename_from_disposition, filename_from_url_path
from tasks.net_guard import GuardedTransport
from tasks.source_stream import SourceStream
from tasks.spool import CHUNK_BYTES

USER_AGENT = "assetflow/0.1"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_TRANSIENT = frozenset({408, 425, 429})

# httpx logs every request URL at INFO, signatures included.
redact_logger("httpx")


class UnexpectedStatus(PermanentError):
    """The remote answered with a 4xx (or other non-success) status that retrying cannot change."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


@contextmanager
def open_http(url: str, *, settings: Settings) -> Iterator[SourceStream]:
    """GET ``url``, following checked redirects, and yield its body as a stream.

    Every hop connects through ``GuardedTransport`` (private addresses are
    refused unless allowed); credentials in the URL are sent as Basic auth to
    its origin only, never to another origin a redirect leads to.
    """
    start = _parse(url)
    auth = _auth_of(start)
    origin = _origin(start)
    timeout = httpx.Timeout(
        connect=settings.connect_timeout_s,
        read=settings.read_timeout_s,
        write=settings.read_timeout_s,
        pool=settings.connect_timeout_s,
    )
    # trust_env=False: an environment proxy would resolve names itself and
    # bypass the address check; .netrc credentials must not leak to sources.
    with httpx.Client(
        transport=GuardedTransport(allowed=settings.allowed_networks),
        timeout=timeout,
        trust_env=False,
        follow_redirects=False,
        # identity: store exactly the bytes the server holds, and make
        # Content-Length count those same bytes.
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
    ) as client:
        target = start.copy_with(username=None, password=None)
        for _hop in range(settings.max_redirects + 1):
            shown = redact_source(str(target))
            request = client.build_request("GET", target)
            response = _send(
                client, request, auth=auth if _origin(target) == origin else None, shown=shown
            )
            try:
                location = _redirect_location(response, shown)
                if location is None:
                    _check_status(response, shown)
                    yield _stream_of(response, shown=shown)
                    return
            finally:
                response.close()
            target = _next_hop(target, location, shown)
        raise InvalidSource(
            f"too many redirects fetching {redact_source(url)} "
            f"(more than {settings.max_redirects}, ASSETFLOW_MAX_REDIRECTS)"
        )


def _parse(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        shown = redact_source(url)
        # httpx quotes the part it could not read, which may be a piece of a
        # password ("Invalid port: 'pa'" for https://u:pa?ss@h): not said, nor
        # chained (a traceback would print it), when redaction changed the URL.
        if shown != url:
            raise InvalidSource(f"malformed URL {shown}") from None
        raise InvalidSource(f"malformed URL {shown}: {exc}") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidSource(f"malformed URL {redact_source(url)}: expected http(s)://host/...")
    return parsed


def _auth_of(url: httpx.URL) -> httpx.BasicAuth | None:
    if not url.username and not url.password:
        return None
    return httpx.BasicAuth(url.username, url.password)


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.host, url.port)


def _send(
    client: httpx.Client, request: httpx.Request, *, auth: httpx.BasicAuth | None, shown: str
) -> httpx.Response:
    try:
        return client.send(request, auth=auth, stream=True)
    except ForbiddenSource as exc:
        raise ForbiddenSource(f"refusing to fetch {shown}: {exc}") from exc
    except httpx.TimeoutException as exc:
        raise SourceUnavailable(f"timed out fetching {shown}: {_describe(exc)}") from exc
    except httpx.TransportError as exc:
        raise SourceUnavailable(f"could not fetch {shown}: {_describe(exc)}") from exc


def _describe(exc: Exception) -> str:
    # Library messages rarely hold the URL, but redact in case one does.
    return redact_text(f"{type(exc).__name__}: {exc}")


def _redirect_location(response: httpx.Response, shown: str) -> str | None:
    if response.status_code not in _REDIRECTS:
        return None
    location = response.headers.get("Location")
    if not location:
        raise UnexpectedStatus(
            f"{shown} answered {response.status_code} without a Location header",
            status=response.status_code,
        )
    return location


def _next_hop(current: httpx.URL, location: str, shown: str) -> httpx.URL:
    try:
        target = current.join(location)
    except httpx.InvalidURL as exc:
        raise InvalidSource(f"{shown} redirects to a malformed URL: {exc}") from exc
    if target.scheme not in ("http", "https") or not target.host:
        raise InvalidSource(
            f"{shown} redirects to {redact_source(str(target))}, which is not an http(s) URL"
        )
    # A redirect must not carry credentials chosen by the remote server.
    return target.copy_with(username=None, password=None)


def _check_status(response: httpx.Response, shown: str) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    if status in (404, 410):
        raise SourceNotFound(f"{shown} answered {status}: nothing is there")
    if status in (401, 403):
        raise ForbiddenSource(f"{shown} answered {status}: access denied; check the credentials")
    if status in _TRANSIENT or status >= 500:
        raise SourceUnavailable(
            f"{shown} answered {status}",
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
    raise UnexpectedStatus(f"{shown} answered {status}", status=status)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Read a Retry-After header (delay seconds or an HTTP date) as seconds from ``now``."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass  # not a number of seconds: an HTTP date, then
    else:
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = datetime.fromtimestamp(time.time() if now is None else now, tz=UTC)
    return max((when - current).total_seconds(), 0.0)


def _stream_of(response: httpx.Response, *, shown: str) -> SourceStream:
    announced = _content_length(response)
    filename = filename_from_disposition(
        response.headers.get("Content-Disposition")
    ) or filename_from_url_path(response.url.path)
    return SourceStream(
        chunks=_body(response, shown=shown, announced=announced),
        size=announced,
        content_type=response.headers.get("Content-Type"),
        filename=filename,
    )


def _content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("Content-Length")
    if value is None or not value.strip().isdigit():
        return None
    return int(value)


def _body(response: httpx.Response, *, shown: str, announced: int | None) -> Iterator[bytes]:
    try:
        yield from response.iter_raw(CHUNK_BYTES)
    except httpx.TimeoutException as exc:
        raise SourceUnavailable(
            f"timed out reading {shown} after {response.num_bytes_downloaded} bytes: "
            f"{_describe(exc)}"
        ) from exc
    except httpx.TransportError as exc:
        if announced is None or response.num_bytes_downloaded >= announced:
            raise SourceUnavailable(
                f"could not read {shown} after {response.num_bytes_downloaded} bytes: "
                f"{_describe(exc)}"
            ) from exc
        raise _truncated(shown, response.num_bytes_downloaded, announced) from exc
    if announced is not None and response.num_bytes_downloaded < announced:
        raise _truncated(shown, response.num_bytes_downloaded, announced)


def _truncated(shown: str, received: int, announced: int) -> SourceUnavailable:
    return SourceUnavailable(f"truncated download of {shown}: got {received} of {announced} bytes")
