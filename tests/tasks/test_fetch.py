"""fetch_source against a real local HTTP server and real files."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import logging
import os
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from core.errors import (
    EmptySource,
    ForbiddenSource,
    InvalidSource,
    SourceNotFound,
    SourceTooLarge,
    SourceUnavailable,
)
from core.settings import Settings
from tasks.fetch import FetchedSource, fetch_source
from tasks.http_fetch import UnexpectedStatus, parse_retry_after
from tasks.retrying import RetryPolicy
from tests.fixtures.http_server import (
    FailThenServe,
    LocalHTTPServer,
    Redirect,
    ServeFile,
    Stall,
    Status,
    Truncated,
)
from tests.fixtures.seaweed import S3Server

# "localhost" may resolve to either loopback address.
LOOPBACK = [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")]


class Sleeps:
    """A fake clock for RetryPolicy: records the delays instead of sleeping."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def retry(sleeps: Sleeps) -> RetryPolicy:
    return RetryPolicy(attempts=3, base_delay_s=0.01, sleep=sleeps, draw=lambda: 1.0)


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    return tmp_path / "dest"


def random_file(path: Path, size: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(size))
    return path


def assert_matches(fetched: FetchedSource, original: Path) -> None:
    data = original.read_bytes()
    assert fetched.path.read_bytes() == data
    assert fetched.size == len(data)
    assert fetched.sha256 == hashlib.sha256(data).hexdigest()
    assert fetched.md5 == hashlib.md5(data).hexdigest()


def leftovers(dest: Path) -> list[Path]:
    return sorted(dest.iterdir()) if dest.exists() else []


# --- HTTP: success ---------------------------------------------------------


def test_multi_megabyte_file_hashes_match_hashlib(
    http_server: LocalHTTPServer, fetch_settings: Settings, tmp_path: Path, dest: Path
) -> None:
    original = random_file(tmp_path / "big.bin", 6 * 1024 * 1024 + 123)
    url = http_server.route(
        "/big.bin",
        ServeFile(
            original,
            content_type="video/mp4",
            headers={"Content-Disposition": 'attachment; filename="../../holiday clip.MP4"'},
        ),
    )

    fetched = fetch_source(url, dest_dir=dest, settings=fetch_settings)

    assert_matches(fetched, original)
    assert fetched.content_type == "video/mp4"
    assert fetched.filename == "holiday clip.MP4"
    assert fetched.path == dest / f"{fetched.sha256}.mp4"
    assert fetched.source == url
    assert leftovers(dest) == [fetched.path]


def test_filename_comes_from_the_url_path_without_disposition(
    http_server: LocalHTTPServer, fetch_settings: Settings, tmp_path: Path, dest: Path
) -> None:
    original = random_file(tmp_path / "p.jpg", 1000)
    url = http_server.route("/photos/summer%20day.jpg", ServeFile(original))

    fetched = fetch_source(url, dest_dir=dest, settings=fetch_settings)

    assert fetched.filename == "summer day.jpg"
    assert fetched.content_type is None


def test_500_twice_then_200_succeeds_on_the_third_request(
    http_server: LocalHTTPServer,
    fetch_settings: Settings,
    tmp_path: Path,
    dest: Path,
    retry: RetryPolicy,
    sleeps: Sleeps,
) -> None:
    original = random_file(tmp_path / "flaky.bin", 5000)
    url = http_server.route("/flaky.bin", FailThenServe(2, ServeFile(original)))

    fetched = fetch_source(url, dest_dir=dest, settings=fetch_settings, retry=retry)

    assert_matches(fetched, original)
    assert len(http_server.requests("/flaky.bin")) == 3
    # Full jitter with the draw pinned at 1.0: the ceilings, doubling.
    assert sleeps.delays == [0.01, 0.02]


def test_429_retry_after_seconds_is_honoured(
    http_server: LocalHTTPServer,
    fetch_settings: Settings,
    tmp_path: Path,
    dest: Path,
    retry: RetryPolicy,
    sleeps: Sleeps,
) -> None:
    original = random_file(tmp_path / "rl.bin", 100)
    url = http_server.route(
        "/rate-limited.bin",
        FailThenServe(1, ServeFile(original), failure=Status(429, {"Retry-After": "7"})),
    )

    fetch_source(url, dest_dir=dest, settings=fetch_settings, retry=retry)

    assert sleeps.delays == [7.0]
    assert len(http_server.requests("/rate-limited.bin")) == 2


def test_503_retry_after_http_date_is_honoured(
    http_server: LocalHTTPServer,
    fetch_settings: Settings,
    tmp_path: Path,
    dest: Path,
    retry: RetryPolicy,
    sleeps: Sleeps,
) -> None:
    original = random_file(tmp_path / "maint.bin", 100)
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    url = http_server.route(
        "/maintenance.bin",
        FailThenServe(1, ServeFile(original), failure=Status(503, {"Retry-After": when})),
    )

    fetch_source(url, dest_dir=dest, settings=fetch_settings, retry=retry)

    assert len(sleeps.delays) == 1
    assert 25 <= sleeps.delays[0] <= 30


def test_retry_after_parses_seconds_and_dates() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


# --- HTTP: permanent failures, not retried --------------------------------


def test_404_raises_not_found_without_retrying(
    http_server: LocalHTTPServer, fetch_settings: Settings, dest: Path, retry: RetryPolicy
) -> None:
    url = http_server.route("/gone.bin", Status(404))

    with pytest.raises(SourceNotFound, match="answered 404"):
        fetch_source(url, dest_dir=dest, settings=fetch_settings, retry=retry)

    assert len(http_server.requests("/gone.bin")) == 1
    assert leftovers(dest) == []


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (410, SourceNotFound),
        (401, ForbiddenSource),
        (403, ForbiddenSource),
        (418, UnexpectedStatus),
    ],
)
def test_client_errors_are_permanent(
    http_server: LocalHTTPServer,
    fetch_settings: Settings,
    dest: Path,
    retry: RetryPolicy,
    status: int,
    error: type[Exception],
) -> None:
    path = f"/status-{status}"
    url = http_server.route(path, Status(status))

    with pytest.raises(error, match=str(status)) as raised:
        fetch_source(url, dest_dir=dest, settings=fetch_settings, retry=retry)

    assert len(http_server.requests(path)) == 1
    if isinstance(raised.value, UnexpectedStatus):
        assert raised.value.status == status


# --- HTTP: transient failures ----------------------------------------------


@pytest.mark.parametrize(
    ("path", "stall"),
    [("/stall-headers", Stall()), ("/stall-body", Stall(after_bytes=1000))],
)
def test_stalled_server_times_out_after_the_configured_attempts(
    http_server: LocalHTTPServer,
    fetch_settings: Settings,
    dest: Path,
    sleeps: Sleeps,
    path: str,
    stall: Stall,
) -> None:
    url = http_server.route(path, stall)
    settings = fetch_settings.model_copy(update={"read_timeout_s": 0.3})
    policy = RetryPolicy(attempts=2, base_delay_s=0.0, sleep=sleeps)

    with pytest.raises(SourceUnavailable, match="timed out"):
        fetch_source(url, dest_dir=dest, settings=settings, retry=policy)

    assert len(http_server.requests(path)) == 2
    assert leftovers(dest) == []


def test_truncated_body_is_transient_and_names_the_byte_counts(
    http_server: LocalHTTPServer, fetch_settings: Settings, dest: Path, retry: RetryPolicy
) -> None:
    url = http_server.route("/short.bin", Truncated(b"x" * 100, announce=1000))

    with pytest.raises(SourceUnavailable, match=r"truncated download .*got 100 of 1000 bytes"):
        fetch_source(url, dest_dir=dest, settings=fetch_settings, retry=retry)

    assert len(http_server.requests("/short.bin")) == 3
    assert leftovers(dest) == []


def test_connection_refused_is_transient(
    fetch_settings: Settings, dest: Path, retry: RetryPolicy
) -> None:
    import socket

    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with pytest.raises(SourceUnavailable, match="could not fetch"):
        fetch_source(
            f"http://127.0.0.1:{port}/x", dest_dir=dest, settings=fetch_settings, retry=retry
        )


# --- size limits -------------------------------------------------------------


def test_too_large_by_content_length_is_refused_before_the_body(
    http_server: LocalHTTPServer, fetch_settings: Settings, dest: Path, retry: RetryPolicy
) -> None:
    # The server announces 5000 bytes and then stalls: reading the body would
    # time out, so SourceTooLarge proves the header alone decided.
    url = http_server.route("/huge-announced", Stall(b"y" * 5000, after_bytes=0))
    settings = fetch_settings.model_copy(update={"max_source_bytes": 1000})

    with pytest.raises(SourceTooLarge, match=r"\(5000 bytes\) is over the limit of 1000 bytes"):
        fetch_source(url, dest_dir=dest, settings=settings, retry=retry)

    assert len(http_server.requests("/huge-announced")) == 1
    assert leftovers(dest) == []


def test_too_large_while_streaming_a_chunked_body(
    http_server: LocalHTTPServer, fetch_settings: Settings, tmp_path: Path, dest: Path
) -> None:
    original = random_file(tmp_path / "chunked.bin", 600 * 1024)
    url = http_server.route("/chunked.bin", ServeFile(original, chunked=True))
    settings = fetch_settings.model_copy(update={"max_source_bytes": 300 * 1024})

    with pytest.raises(SourceTooLarge, match="over the limit of 307200 bytes"):
        fetch_source(url, dest_dir=dest, settings=settings)

    assert leftovers(dest) == []


def test_chunked_body_within_the_limit_is_fetched(
    http_server: LocalHTTPServer, fetch_settings: Settings, tmp_path: Path, dest: Path
) -> None:
    original = random_file(tmp_path / "chunked-ok.bin", 600 * 1024)
    url = http_server.route("/chunked-ok.bin", ServeFile(original, chunked=True))

    assert_matches(fetch_source(url, dest_dir=dest, settings=fetch_settings), original)


def test_zero_bytes_over_http_is_empty(
    http_server: LocalHTTPServer, fetch_settings: Settings, tmp_path: Path, dest: Path
) -> None:
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    url = http_server.route("/empty.bin", ServeFile(empty))

    with pytest.raises(EmptySource, match="0 bytes"):
        fetch_source(url, dest_dir=dest, settings=fetch_settings)

    assert leftovers(dest) == []


# --- SSRF guard and redirects ---------------------------------------------


def test_redirect_to_cloud_metadata_is_forbidden(
    http_server: LocalHTTPServer, fetch_settings: Settings, dest: Path
) -> None:
    url = http_server.route("/to-metadata", Redirect("http://169.254.169.254/latest/meta-data"))

    with pytest.raises(ForbiddenSource, match=r"169\.254\.169\.254.*ASSETFLOW_ALLOWED_NETWORKS"):
        fetch_source(url, dest_dir=dest, settings=fetch_settings)


def test_loopback_is_refused_when_not_allowed(
    http_server: LocalHTTPServer, fetch_settings: Settings, tmp_path: Path, dest: Path
) -> None:
    original = random_file(tmp_path / "private.bin", 100)
    url = http_server.route("/private.bin", ServeFile(original))
    settings = fetch_settings.model_copy(update={"allowed_networks": []})

    with pytest.raises(ForbiddenSource) as raised:
        fetch_source(url, dest_dir=dest, settings=settings)

    assert str(raised.value) == (
        f"refusing to fetch {url}: 127.0.0.1 resolves to a loopback address 127.0.0.1; "
        "add it to ASSETFLOW_ALLOWED_NETWORKS to allow it"
    )
    assert http_server.requests("/private.bin") == []


def test_localhost_name_is_checked_by_the_address_it_resolves_to(
    http_server: LocalHTTPServer, fetch_settings: Settings, tmp_path: Path, dest: Path
) -> None:
    original = random_file(tmp_path / "local.bin", 100)
    http_server.route("/local.bin", ServeFile(original))
    url = http_server.url("/local.bin", host="localhost")

    refused = fetch_settings.model_copy(update={"allowed_networks": []})
    with pytest.raises(ForbiddenSource, match="localhost resolves to a loopback address"):
        fetch_source(url, dest_dir=dest, settings=refused)

    allowed = fetch_settings.model_copy(update={"allowed_networks": LOOPBACK})
    fetched = fetch_source(url, dest_dir=dest, settings=allowed)
    assert_matches(fetched, original)
    # The Host header still names the host of the URL, not the address connected to.
    assert http_server.requests("/local.bin")[-1].headers["Host"] == f"localhost:{http_server.port}"


def test_redirect_loop_stops_at_max_redirects(
    http_server: LocalHTTPServer, fetch_settings: Settings, dest: Path
) -> None:
    url = http_server.route("/loop", Redirect("/loop"))

    with pytest.raises(InvalidSource, match="too many redirects"):
        fetch_source(url, dest_dir=dest, settings=fetch_settings)

    assert len(http_server.requests("/loop")) == fetch_settings.max_redirects + 1


def test_relative_redirect_is_followed(
    http_server: LocalHTTPServer, fetch_settings: Settings, tmp_path: Path, dest: Path
) -> None:
    original = random_file(tmp_path / "target.bin", 2048)
    http_server.route("/files/target.bin", ServeFile(original))
    url = http_server.route("/files/moved", Redirect("target.bin", status=301))

    fetched = fetch_source(url, dest_dir=dest, settings=fetch_settings)

    assert_matches(fetched, original)
    assert fetched.filename == "target.bin"


def test_redirect_to_a_non_http_scheme_is_invalid(
    http_server: LocalHTTPServer, fetch_settings: Settings, dest: Path
) -> None:
    url = http_server.route("/to-file", Redirect("file:///etc/passwd"))

    with pytest.raises(InvalidSource, match="not an http"):
        fetch_source(url, dest_dir=dest, settings=fetch_settings)


# --- credentials and redaction -------------------------------------------


def test_credentials_are_sent_but_never_shown(
    http_server: LocalHTTPServer,
    fetch_settings: Settings,
    tmp_path: Path,
    dest: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    original = random_file(tmp_path / "signed.bin", 100)
    http_server.route("/signed.bin", ServeFile(original))
    url = f"http://user:secret@127.0.0.1:{http_server.port}/signed.bin?X-Amz-Signature=abcSIG&v=1"

    fetched = fetch_source(url, dest_dir=dest, settings=fetch_settings)

    assert_matches(fetched, original)
    assert fetched.source == (
        f"http://127.0.0.1:{http_server.port}/signed.bin?X-Amz-Signature=REDACTED&v=1"
    )
    request = http_server.requests("/signed.bin")[-1]
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"user:secret").decode()
    assert "X-Amz-Signature=abcSIG" in request.target  # the real URL went to the server
    assert "HTTP Request: GET" in caplog.text  # httpx logged the request, redacted
    assert "secret" not in caplog.text
    # (a longer value than "abc": the sha256 in the info line may contain "abc")
    assert "abcSIG" not in caplog.text


def test_failures_never_show_credentials_in_errors_or_logs(
    http_server: LocalHTTPServer,
    fetch_settings: Settings,
    dest: Path,
    retry: RetryPolicy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    http_server.route("/down", Status(502))
    url = f"http://user:hunter2@127.0.0.1:{http_server.port}/down?sig=s3cr3tsig&token=tok42"

    with pytest.raises(SourceUnavailable) as raised:
        fetch_source(url, dest_dir=dest, settings=fetch_settings, retry=retry)

    retries = [r for r in caplog.records if r.name == "assetflow.fetch"]
    assert len(retries) == 2
    assert all(r.levelno == logging.WARNING for r in retries)
    assert "sig=REDACTED&token=REDACTED" in retries[0].getMessage()
    for secret in ("hunter2", "s3cr3tsig", "tok42"):
        assert secret not in str(raised.value)
        assert secret not in caplog.text


def test_credentials_do_not_follow_a_redirect_to_another_origin(
    http_server: LocalHTTPServer, fetch_settings: Settings, tmp_path: Path, dest: Path
) -> None:
    original = random_file(tmp_path / "elsewhere.bin", 100)
    http_server.route("/elsewhere.bin", ServeFile(original))
    http_server.route("/hop", Redirect(http_server.url("/elsewhere.bin", host="localhost")))
    settings = fetch_settings.model_copy(update={"allowed_networks": LOOPBACK})

    fetch_source(
        f"http://user:secret@127.0.0.1:{http_server.port}/hop", dest_dir=dest, settings=settings
    )

    assert "Authorization" in http_server.requests("/hop")[-1].headers
    assert "Authorization" not in http_server.requests("/elsewhere.bin")[-1].headers


# --- local sources -----------------------------------------------------------


def test_file_url_inside_a_root_is_copied_and_hashed(
    fetch_settings: Settings, tmp_path: Path, dest: Path
) -> None:
    original = random_file(tmp_path / "in root" / "clip.mov", 3 * 1024 * 1024 + 7)

    fetched = fetch_source(original.as_uri(), dest_dir=dest, settings=fetch_settings)

    assert_matches(fetched, original)
    assert fetched.filename == "clip.mov"
    assert fetched.source == original.as_uri()
    assert original.exists()


def test_plain_path_inside_a_root_is_copied(
    fetch_settings: Settings, tmp_path: Path, dest: Path
) -> None:
    original = random_file(tmp_path / "photo.jpg", 1000)

    assert_matches(fetch_source(str(original), dest_dir=dest, settings=fetch_settings), original)


def test_path_outside_the_roots_is_forbidden_and_names_the_roots(
    fetch_settings: Settings, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, dest: Path
) -> None:
    outside = random_file(tmp_path_factory.mktemp("elsewhere") / "x.bin", 10)

    with pytest.raises(ForbiddenSource, match=f"outside the local roots \\({tmp_path}\\)"):
        fetch_source(str(outside), dest_dir=dest, settings=fetch_settings)


def test_dotdot_traversal_out_of_a_root_is_forbidden(
    fetch_settings: Settings, tmp_path: Path, dest: Path
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    random_file(tmp_path / "secret.txt", 10)
    settings = fetch_settings.model_copy(update={"local_roots": [root]})

    with pytest.raises(ForbiddenSource, match="outside the local roots"):
        fetch_source(f"{root}/../secret.txt", dest_dir=dest, settings=settings)


def test_symlink_escaping_a_root_is_forbidden(
    fetch_settings: Settings, tmp_path: Path, dest: Path
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    target = random_file(tmp_path / "outside.bin", 10)
    (root / "link.bin").symlink_to(target)
    settings = fetch_settings.model_copy(update={"local_roots": [root]})

    with pytest.raises(ForbiddenSource, match="symbolic link") as refused:
        fetch_source(str(root / "link.bin"), dest_dir=dest, settings=settings)

    assert str(target) not in str(refused.value)  # where it points is not said


def test_no_local_roots_means_no_local_sources(tmp_path: Path, dest: Path) -> None:
    original = random_file(tmp_path / "a.bin", 10)

    with pytest.raises(ForbiddenSource, match="ASSETFLOW_LOCAL_ROOTS"):
        fetch_source(str(original), dest_dir=dest, settings=Settings(_env_file=None))  # type: ignore[call-arg]


def test_missing_local_file_is_not_found(
    fetch_settings: Settings, tmp_path: Path, dest: Path
) -> None:
    with pytest.raises(SourceNotFound, match="does not exist"):
        fetch_source(str(tmp_path / "nope.bin"), dest_dir=dest, settings=fetch_settings)


def test_directory_is_not_a_source(fetch_settings: Settings, tmp_path: Path, dest: Path) -> None:
    (tmp_path / "folder").mkdir()

    with pytest.raises(InvalidSource, match="not a regular file"):
        fetch_source(str(tmp_path / "folder"), dest_dir=dest, settings=fetch_settings)


def test_zero_byte_local_file_is_empty(
    fetch_settings: Settings, tmp_path: Path, dest: Path
) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")

    with pytest.raises(EmptySource):
        fetch_source(str(empty), dest_dir=dest, settings=fetch_settings)

    assert leftovers(dest) == []


def test_local_file_over_the_limit_is_too_large(
    fetch_settings: Settings, tmp_path: Path, dest: Path
) -> None:
    original = random_file(tmp_path / "big.bin", 2000)
    settings = fetch_settings.model_copy(update={"max_source_bytes": 1000})

    with pytest.raises(SourceTooLarge, match="2000 bytes"):
        fetch_source(str(original), dest_dir=dest, settings=settings)


# --- malformed and unsupported sources -----------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "ftp://example.com/a.mp4",
        "javascript:alert(1)",
        "data:text/plain;base64,aGk=",
        "gopher://example.com/1",
        "http://",
        "http://[::1/x",
        "https:///nohost",
        "http://example.com/a\nb",
        "file://otherhost/etc/passwd",
        "",
    ],
)
def test_unsupported_or_malformed_sources_are_invalid(
    source: str, fetch_settings: Settings, dest: Path, retry: RetryPolicy, sleeps: Sleeps
) -> None:
    with pytest.raises(InvalidSource):
        fetch_source(source, dest_dir=dest, settings=fetch_settings, retry=retry)

    assert sleeps.delays == []


def test_environment_proxies_are_ignored(
    http_server: LocalHTTPServer,
    fetch_settings: Settings,
    tmp_path: Path,
    dest: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Through a proxy the guard would check the proxy's address, not the source's.
    original = random_file(tmp_path / "direct.bin", 100)
    url = http_server.route("/direct.bin", ServeFile(original))
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")

    assert_matches(fetch_source(url, dest_dir=dest, settings=fetch_settings), original)


# --- S3 sources ---------------------------------------------------------------


def test_s3_object_is_streamed_and_hashed(
    s3_server: S3Server, s3_bucket: str, tmp_path: Path, dest: Path
) -> None:
    original = random_file(tmp_path / "clip.mp4", 2 * 1024 * 1024 + 5)
    s3_server.client().fput_object(
        s3_bucket, "drop/in/clip.mp4", str(original), content_type="video/mp4"
    )

    fetched = fetch_source(
        f"s3://{s3_bucket}/drop/in/clip.mp4", dest_dir=dest, settings=s3_server.settings(s3_bucket)
    )

    assert_matches(fetched, original)
    assert fetched.content_type == "video/mp4"
    assert fetched.filename == "clip.mp4"


def test_missing_s3_object_is_not_found(
    s3_server: S3Server, s3_bucket: str, dest: Path, retry: RetryPolicy
) -> None:
    with pytest.raises(SourceNotFound, match="does not exist"):
        fetch_source(
            f"s3://{s3_bucket}/nope.bin",
            dest_dir=dest,
            settings=s3_server.settings(s3_bucket),
            retry=retry,
        )


def test_s3_source_needs_an_endpoint(fetch_settings: Settings, dest: Path) -> None:
    with pytest.raises(InvalidSource, match="ASSETFLOW_S3_ENDPOINT"):
        fetch_source("s3://bucket/key.mp4", dest_dir=dest, settings=fetch_settings)
