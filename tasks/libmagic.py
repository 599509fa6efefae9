"""Name the MIME type libmagic reads in a file's first bytes, under its registered name."""

from __future__ import annotations

import magic

# libmagic needs a few KiB for most signatures (an MP4's 'ftyp' box, an Ogg
# codec header, a TIFF's first directory); more costs time for nothing.
HEAD_BYTES = 8192
OCTET_STREAM = "application/octet-stream"

# Other names libmagic gives to types we record under their registered name.
_ALIASES = {
    "image/x-ms-bmp": "image/bmp",
    "audio/x-wav": "audio/wav",
    "audio/x-aiff": "audio/aiff",
    "audio/x-m4a": "audio/mp4",
    "audio/x-hx-aac-adts": "audio/aac",
    "audio/x-flac": "audio/flac",
}

# python-magic serialises calls on one handle with its own lock.
_magic = magic.Magic(mime=True)


def libmagic_type(head: bytes) -> str:
    """Return the MIME type libmagic reads in ``head`` (application/octet-stream if none)."""
    if not head:
        return OCTET_STREAM
    told = str(_magic.from_buffer(head)).split(";")[0].strip().lower()
    return _ALIASES.get(told, told)
