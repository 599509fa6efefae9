"""Derive a safe original filename from what a source claims (header, URL, path)."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote

# RFC 6266: filename* (RFC 5987 "charset'lang'pct-encoded") wins over filename.
_EXTENDED = re.compile(r"""(?:^|;)\s*filename\*\s*=\s*([^';]*)'[^']*'([^;\s]*)""", re.IGNORECASE)
_PLAIN = re.compile(r"""(?:^|;)\s*filename\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)""", re.IGNORECASE)
# The longest name most filesystems store; counted in UTF-8 bytes.
MAX_NAME_BYTES = 255
_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,10}")


def safe_filename(name: str | None) -> str | None:
    """Reduce ``name`` to a plain basename, or None when nothing usable is left.

    The result never contains a path separator, a control character or '..',
    and is never '.' alone.
    """
    if not name:
        return None
    basename = re.split(r"[/\\]", name)[-1]
    cleaned = "".join(ch for ch in basename if unicodedata.category(ch)[0] != "C")
    cleaned = re.sub(r"\.{2,}", ".", cleaned).strip(" .")
    encoded = cleaned.encode()[:MAX_NAME_BYTES]
    cleaned = encoded.decode(errors="ignore")
    return cleaned or None


def filename_from_disposition(header: str | None) -> str | None:
    """Read the filename a Content-Disposition header proposes, sanitised."""
    if not header:
        return None
    extended = _EXTENDED.search(header)
    if extended:
        charset = extended.group(1).strip() or "utf-8"
        try:
            return safe_filename(unquote(extended.group(2), encoding=charset, errors="replace"))
        except LookupError:  # an unknown charset name
            return safe_filename(unquote(extended.group(2), errors="replace"))
    plain = _PLAIN.search(header)
    if plain:
        value = plain.group(1).strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        return safe_filename(value)
    return None


def filename_from_url_path(path: str) -> str | None:
    """Take the last segment of a URL path, percent-decoded and sanitised."""
    return safe_filename(unquote(path.rsplit("/", 1)[-1]))


def suffix_of(filename: str | None) -> str:
    """Return the filename's extension ('.mp4') when it is short and plain, else ''."""
    if not filename:
        return ""
    dot = filename.rfind(".")
    suffix = filename[dot:] if dot > 0 else ""
    return suffix.lower() if _SUFFIX.fullmatch(suffix) else ""
