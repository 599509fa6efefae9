"""Redact credentials and signatures from source strings before they reach a log or a record."""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote

REDACTED = "REDACTED"

# Query (and fragment) parameters whose value grants access, lower-cased:
# AWS SigV4 and SigV2, GCS V4 and V2, Azure SAS, CloudFront signed URLs,
# and the usual API-key and OAuth spellings. Expiry dates, versions and
# permissions (Expires, X-Amz-Date, se, sp, sv) stay: they help to debug.
SECRET_PARAMS = frozenset(
    {
        # AWS SigV4 / SigV2
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
        "awsaccesskeyid",
        "signature",
        # GCS V4 / V2
        "x-goog-signature",
        "x-goog-credential",
        "x-goog-security-token",
        "googleaccessid",
        # Azure SAS
        "sig",
        # CloudFront
        "key-pair-id",
        "policy",
        # generic tokens, keys and passwords
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "auth",
        "key",
        "api_key",
        "apikey",
        "api-key",
        "client_secret",
        "password",
        "passwd",
        "secret",
    }
)

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
# scheme://userinfo@ — the userinfo ends at the last '@' before the path.
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@")
# A URL inside free text: a scheme, '://', then up to the next whitespace or quote.
_URL_IN_TEXT = re.compile(r"""[A-Za-z][A-Za-z0-9+.-]*://[^\s'"<>]+""")
# One name=value pair after '?', '&', ';' or '#'.
_PARAM = re.compile(r"([?&;#])([^=&;#]+)=([^&;#]*)")


def redact_source(source: str) -> str:
    """Return ``source`` without userinfo and with secret query values replaced by REDACTED.

    Local paths (anything without a URL scheme) are returned unchanged. Works
    on malformed URLs too, since it never needs a full parse.
    """
    if not _SCHEME.match(source):
        return source
    without_userinfo = _USERINFO.sub(r"\1", source)
    return _PARAM.sub(_redact_param, without_userinfo)


def _redact_param(match: re.Match[str]) -> str:
    separator, name, _value = match.groups()
    if unquote(name).strip().lower() in SECRET_PARAMS:
        return f"{separator}{name}={REDACTED}"
    return match.group(0)


def redact_text(text: str) -> str:
    """Redact every URL found inside free text (a log message, an error from a library)."""
    return _URL_IN_TEXT.sub(lambda match: redact_source(match.group(0)), text)


class RedactUrlsFilter(logging.Filter):
    """Redact every URL-like argument of a log record (third-party loggers log raw URLs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message and arguments in place; never drop the record."""
        if isinstance(record.msg, str):
            record.msg = redact_text(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_arg(arg) for arg in record.args)
        return True


def _redact_arg(arg: object) -> object:
    if isinstance(arg, int | float):
        return arg  # keep %d and %.1f working
    text = str(arg)
    return redact_text(text) if "://" in text else arg


def redact_logger(name: str) -> None:
    """Install ``RedactUrlsFilter`` on the named logger once."""
    logger = logging.getLogger(name)
    if not any(isinstance(existing, RedactUrlsFilter) for existing in logger.filters):
        logger.addFilter(RedactUrlsFilter())
