"""Which yt-dlp extractor reads a URL, and whether the settings allow it.

An extractor is code that parses whatever a remote page says and then makes
requests of its own, so only the extractors named in ``ytdlp_extractors``
(ASSETFLOW_YTDLP_EXTRACTORS) run: the generic page reader and the big video
sites by default.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from yt_dlp.extractor import gen_extractor_classes, get_info_extractor

from core.errors import ForbiddenSource

ALL = "all"


@cache
def specific_extractors() -> tuple[Any, ...]:
    """Return yt-dlp's extractor classes, less the generic one that takes any URL."""
    return tuple(ie for ie in gen_extractor_classes() if ie.ie_key() != "Generic")


def extractor_name(url: str, ie_key: str | None = None) -> str:
    """Name the extractor yt-dlp would read ``url`` with ("youtube", "generic", ...).

    ``ie_key`` is the extractor yt-dlp was told to use, if any. Opens no connection.
    """
    if ie_key:
        return str(get_info_extractor(ie_key).IE_NAME).lower()
    chosen = next((ie for ie in specific_extractors() if ie.suitable(url)), None)
    return "generic" if chosen is None else str(chosen.IE_NAME).lower()


def is_allowed(name: str, allowed: Sequence[str]) -> bool:
    """Tell whether extractor ``name`` is in ``allowed``, itself or as a sub-extractor of one."""
    return any(entry in (ALL, name) or name.startswith(f"{entry}:") for entry in allowed)


def check_extractor(url: str, ie_key: str | None, *, allowed: Sequence[str], shown: str) -> None:
    """Raise ForbiddenSource unless the extractor that would read ``url`` is allowed."""
    name = extractor_name(url, ie_key)
    if not is_allowed(name, allowed):
        raise ForbiddenSource(
            f"refusing {shown}: yt-dlp's {name} extractor is not allowed; "
            "add it to ASSETFLOW_YTDLP_EXTRACTORS to allow it"
        )
