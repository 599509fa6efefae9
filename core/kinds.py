"""The kinds of asset: what the sniffer decides and the recipes branch on."""

from __future__ import annotations

from enum import StrEnum


class AssetKind(StrEnum):
    """What an asset is, decided from its bytes; each kind has its own recipe."""

    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    DOCUMENT = "document"
    OTHER = "other"
