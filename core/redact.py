"""Redact credentials and signatures from source strings before they reach a log or a record."""

from __future__ import annotations

import logging
import re
import unicodedata
from urllib.parse import unquote_plus

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
        # Alibaba Cloud OSS V1 / V4
        "ossaccesskeyid",
        "x-oss-signature",
        "x-oss-credential",
        "x-oss-security-token",
        "security-token",
        # Akamai token auth (EdgeAuth), Plex, GitLab, Qiniu/Tencent-style "sign"
        "hdnts",
        "hdnea",
        "__token__",
        "x-plex-token",
        "private_token",
        "auth_key",
        "sign",
        "md5",
        # generic tokens, keys, sessions and passwords
        "authorization",
        "jwt",
        "session",
        "session_token",
        "sessionid",
        "code",
        "access_key",
        "secret_key",
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

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
# A URL inside free text: a scheme, then at least one slash or backslash (browsers
# read '\\' as '/'), then up to the next whitespace or quote.
_URL_IN_TEXT = re.compile(r"""[A-Za-z][A-Za-z0-9+.-]*:[/\\]+[^\s'"<>]+""")
# One name=value pair after '?', '&', ';' or '#'. The value runs to the next '&'
# or '#': a server that does not split on ';' reads "token=abc;def" as one token.
_PARAM = re.compile(r"([?&;#])([^=&;#]+)=([^&#]*)")
# A PHP-style array suffix: token[] or auth[key] name the same secret as token and auth.
_ARRAY_SUFFIX = re.compile(r"\[[^\]]*\]$")


def normalise_source(source: str) -> str:
    """Strip whitespace, control and invisible format characters (a BOM, U+200B) from both ends.

    Run before anything redacts, logs or stores a source: a source that
    starts with a space or a zero-width character must be recognised as the
    URL it is, or redaction, which acts on URLs, would pass it over.
    """
    start, end = 0, len(source)
    while start < end and _is_padding(source[start]):
        start += 1
    while end > start and _is_padding(source[end - 1]):
        end -= 1
    return source[start:end]


def _is_padding(char: str) -> bool:
    return char.isspace() or unicodedata.category(char) in ("Cc", "Cf")


def redact_source(source: str) -> str:
    """Return ``source`` normalised, without userinfo and with secret parameter values REDACTED.

    Local paths (anything without a URL scheme) are returned unchanged. Works
    on malformed URLs too, since it never needs a full parse.
    """
    source = normalise_source(source)
    scheme = _SCHEME.match(source)
    if scheme is None:
        return source
    return _PARAM.sub(_redact_param, _without_userinfo(source, scheme.end()))


def _without_userinfo(url: str, after_scheme: int) -> str:
    """Drop everything up to the last '@' of the authority.

    Read as a browser reads it, so that malformed forms lose their userinfo
    too: any run of slashes and backslashes opens the authority
    (``http:/u:p@h``, ``https:\\\\u:p@h``), and only '/' or '\\' closes it, since a
    password may hold a '?' or '#' (``https://u:pa?ss@h``). A file URL's
    authority is what follows exactly '//'.
    """
    if url[:after_scheme].lower() == "file:":
        start = after_scheme + 2 if url.startswith("//", after_scheme) else len(url)
    else:
        start = after_scheme
        while start < len(url) and url[start] in "/\\":
            start += 1
    end = start
    while end < len(url) and url[end] not in "/\\":
        end += 1
    at = url.rfind("@", start, end)
    return url if at < 0 else url[:start] + url[at + 1 :]


def is_secret_param(name: str) -> bool:
    """Tell whether a query parameter of this name carries a credential or a signature."""
    plain = "".join(char for char in unquote_plus(name) if not _is_padding(char)).lower()
    return plain in SECRET_PARAMS or _ARRAY_SUFFIX.sub("", plain) in SECRET_PARAMS


def _redact_param(match: re.Match[str]) -> str:
    separator, name, value = match.groups()
    if is_secret_param(name):
        return f"{separator}{name}={REDACTED}"
    # Not a secret, but a server that splits on ';' may read a secret after it.
    head, semicolon, tail = value.partition(";")
    rest = _PARAM.sub(_redact_param, semicolon + tail) if semicolon else ""
    return f"{separator}{name}={head}{rest}"


def redact_text(text: str) -> str:
    """Redact every URL found inside free text (a log message, an error from a library)."""
    return _URL_IN_TEXT.sub(lambda match: redact_source(match.group(0)), text)


class RedactUrlsFilter(logging.Filter):
    """Redact every URL in a log record: its message, arguments, traceback and stack.

    A traceback is rendered here, redacted, into ``exc_text`` (which every
    ``logging.Formatter`` prints as is), and ``exc_info`` is dropped, so no
    handler can render the raw exception again.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drop it."""
        record.msg = _redact_arg(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_arg(arg) for arg in record.args)
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True


_TRACEBACKS = logging.Formatter()


def _redact_arg(arg: object) -> object:
    if isinstance(arg, int | float):
        return arg  # keep %d and %.1f working
    text = str(arg)
    return redact_text(text) if _URL_IN_TEXT.search(text) else arg


def redact_logger(name: str) -> None:
    """Install ``RedactUrlsFilter`` on the named logger once.

    A logger's filters see only the records logged on it, not its children's:
    each logger that may carry a URL gets its own (see ``core.logs``).
    """
    logger = logging.getLogger(name)
    if not any(isinstance(existing, RedactUrlsFilter) for existing in logger.filters):
        logger.addFilter(RedactUrlsFilter())
