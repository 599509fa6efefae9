"""Redaction of credentials and signatures from source strings and log records."""

from __future__ import annotations

import logging

import pytest

from core.redact import redact_logger, redact_source, redact_text


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("https://user:pa55@example.com/a.mp4", "https://example.com/a.mp4"),
        ("https://token@example.com/a.mp4", "https://example.com/a.mp4"),
        ("https://u:p@ss@example.com:8443/a", "https://example.com:8443/a"),
        ("s3://AKIA:secret@bucket/key.mov", "s3://bucket/key.mov"),
        # AWS SigV4
        (
            "https://b.s3.amazonaws.com/k.mp4?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Credential=AKIA%2F20240101%2Fus-east-1%2Fs3%2Faws4_request"
            "&X-Amz-Date=20240101T000000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host"
            "&X-Amz-Security-Token=FwoG&X-Amz-Signature=deadbeef",
            "https://b.s3.amazonaws.com/k.mp4?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Credential=REDACTED"
            "&X-Amz-Date=20240101T000000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host"
            "&X-Amz-Security-Token=REDACTED&X-Amz-Signature=REDACTED",
        ),
        # AWS SigV2
        (
            "https://b.s3.amazonaws.com/k?AWSAccessKeyId=AKIA&Expires=1700000000&Signature=abc%3D",
            "https://b.s3.amazonaws.com/k?AWSAccessKeyId=REDACTED&Expires=1700000000"
            "&Signature=REDACTED",
        ),
        # GCS V4 and V2
        (
            "https://storage.googleapis.com/b/o?X-Goog-Algorithm=GOOG4-RSA-SHA256"
            "&X-Goog-Credential=sa%40p.iam&X-Goog-Signature=0a1b",
            "https://storage.googleapis.com/b/o?X-Goog-Algorithm=GOOG4-RSA-SHA256"
            "&X-Goog-Credential=REDACTED&X-Goog-Signature=REDACTED",
        ),
        (
            "https://storage.googleapis.com/b/o?GoogleAccessId=sa&Expires=1&Signature=xyz",
            "https://storage.googleapis.com/b/o?GoogleAccessId=REDACTED&Expires=1"
            "&Signature=REDACTED",
        ),
        # Azure SAS
        (
            "https://acct.blob.core.windows.net/c/b.mp4?sv=2022-11-02&se=2030-01-01&sp=r"
            "&sig=AbC%2Bd%3D",
            "https://acct.blob.core.windows.net/c/b.mp4?sv=2022-11-02&se=2030-01-01&sp=r"
            "&sig=REDACTED",
        ),
        # CloudFront
        (
            "https://d1.cloudfront.net/v.mp4?Expires=1&Policy=eyJ&Signature=Zm9v&Key-Pair-Id=K2",
            "https://d1.cloudfront.net/v.mp4?Expires=1&Policy=REDACTED&Signature=REDACTED"
            "&Key-Pair-Id=REDACTED",
        ),
        # generic keys and tokens, any case, fragments too
        (
            "https://api.example.com/f?API_KEY=k1&apikey=k2&key=k3&token=t&access_token=a"
            "&password=p&secret=s&page=2#access_token=frag",
            "https://api.example.com/f?API_KEY=REDACTED&apikey=REDACTED&key=REDACTED"
            "&token=REDACTED&access_token=REDACTED&password=REDACTED&secret=REDACTED&page=2"
            "#access_token=REDACTED",
        ),
        # a percent-encoded parameter name is still recognised
        ("https://e.com/a?X%2DAmz%2DSignature=abc", "https://e.com/a?X%2DAmz%2DSignature=REDACTED"),
        # nothing secret: unchanged
        ("https://example.com/a.mp4?w=640&h=480", "https://example.com/a.mp4?w=640&h=480"),
        # malformed URLs are still redacted
        ("http://u:pw@[::1/x?sig=1", "http://[::1/x?sig=REDACTED"),
        # local paths are never touched, even when they look like queries
        ("/data/in/a?key=1.mp4", "/data/in/a?key=1.mp4"),
        ("relative/user:pw@host.txt", "relative/user:pw@host.txt"),
    ],
)
def test_redact_source(source: str, expected: str) -> None:
    assert redact_source(source) == expected


def test_redact_text_finds_urls_inside_messages() -> None:
    text = "GET 'https://u:pw@h/x?sig=1' failed; retry https://h/y?token=2 later"

    assert redact_text(text) == (
        "GET 'https://h/x?sig=REDACTED' failed; retry https://h/y?token=REDACTED later"
    )


def test_redacting_filter_cleans_third_party_records(caplog: pytest.LogCaptureFixture) -> None:
    redact_logger("tests.third_party")
    redact_logger("tests.third_party")  # installing twice adds one filter
    logger = logging.getLogger("tests.third_party")
    caplog.set_level(logging.INFO, logger="tests.third_party")

    logger.info("HTTP Request: %s %s %d", "GET", "https://u:pw@h/x?X-Amz-Signature=s1", 200)
    logger.info("inline https://h/y?sig=s2 too")

    assert [r.getMessage() for r in caplog.records] == [
        "HTTP Request: GET https://h/x?X-Amz-Signature=REDACTED 200",
        "inline https://h/y?sig=REDACTED too",
    ]
    assert len(logger.filters) == 1


@pytest.mark.parametrize(
    "name",
    [
        "Authorization",
        "hdnts",
        "auth_key",
        "md5",
        "x-oss-signature",
        "X-OSS-Credential",
        "sign",
        "jwt",
        "session",
        "code",
        "private_token",
        "X-Plex-Token",
        "access_key",
        "secret_key",
        "token[]",
        "token%5B%5D",
        "auth[key]",
    ],
)
def test_signature_parameters_of_every_spelling_are_redacted(name: str) -> None:
    assert redact_source(f"https://h/a.mp4?w=1&{name}=s3cr3t&h=2") == (
        f"https://h/a.mp4?w=1&{name}=REDACTED&h=2"
    )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # a ';' does not end a secret's value: a server may read "abc;def" as the token
        ("https://h/a?token=abc;def&w=1", "https://h/a?token=REDACTED&w=1"),
        # but a secret after a ';' is still found
        ("https://h/a?w=1;sig=abc", "https://h/a?w=1;sig=REDACTED"),
        # malformed: the userinfo still goes, however the authority is opened or closed
        ("https://user:pa?ss@h/a", "https://h/a"),
        ("https://user:pa#ss@h", "https://h"),
        ("http:/user:pw@h/a", "http:/h/a"),
        ("http:user:pw@h/a", "http:h/a"),
        ("https:\\\\user:pw@h\\a", "https:\\\\h\\a"),
        ("https:/\\user:pw@h/a", "https:/\\h/a"),
        # an '@' in the path is not userinfo
        ("https://medium.com/@someone/post", "https://medium.com/@someone/post"),
        ("file:///srv/in/a@2x.png", "file:///srv/in/a@2x.png"),
        ("file://user:pw@localhost/srv/a.png", "file://localhost/srv/a.png"),
        # padding: whitespace, control and invisible characters around it
        (" \t\u200b\ufeffhttps://u:pw@h/a?sig=1\x00\n", "https://h/a?sig=REDACTED"),
        # a name hidden by a control character is still recognised
        ("https://h/a?si%09g=1", "https://h/a?si%09g=REDACTED"),
    ],
)
def test_hard_cases_are_redacted(source: str, expected: str) -> None:
    assert redact_source(source) == expected


def test_redact_text_finds_malformed_urls_inside_messages() -> None:
    text = "cannot fetch https:\\\\u:pw@h\\x nor http:/v:pw2@h/y?token=t;k"

    assert redact_text(text) == "cannot fetch https:\\\\h\\x nor http:/h/y?token=REDACTED"


def test_redacting_filter_renders_tracebacks_redacted(caplog: pytest.LogCaptureFixture) -> None:
    redact_logger("tests.third_party")
    logger = logging.getLogger("tests.third_party")
    caplog.set_level(logging.INFO, logger="tests.third_party")

    try:
        raise ValueError("bad https://u:hunter2@h/x?X-Amz-Signature=SIGONE")
    except ValueError:
        logger.exception("while fetching %s", "https://h/y?sig=SIGTWO")

    (record,) = caplog.records
    assert record.exc_info is None  # no handler can render the raw exception again
    shown = logging.Formatter().format(record)
    assert "ValueError: bad https://h/x?X-Amz-Signature=REDACTED" in shown
    assert "while fetching https://h/y?sig=REDACTED" in shown
    assert "hunter2" not in shown and "SIGONE" not in shown and "SIGTWO" not in shown
