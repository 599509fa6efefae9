"""API keys: made once, kept only as a SHA-256, checked in constant time.

A key reads ``afk_<12 hex>_<secret>``; its first part is public and indexes
the row, the whole key's SHA-256 is what is stored. Keys are 256-bit random
tokens, so a plain hash suffices (no password stretching needed).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from enum import StrEnum

from sqlmodel import Session, col, select

from models.tables import ApiKey, utcnow

KEY_MARK = "afk"


class Scope(StrEnum):
    """What a key may do."""

    ASSETS = "assets"  # read, create, upload
    ASSETS_PUBLISH = "assets_publish"  # update metadata, publish
    ASSETS_DELETE = "assets_delete"


@dataclass(frozen=True)
class NewKey:
    """A key just made: the row, and the key itself, which is shown this once."""

    row: ApiKey
    key: str


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _prefix_of(key: str) -> str | None:
    mark, _, rest = key.partition("_")
    public, _, secret = rest.partition("_")
    if mark != KEY_MARK or len(public) != 12 or not secret:
        return None
    return f"{mark}_{public}"


def create_key(*, session: Session, name: str, scopes: list[Scope]) -> NewKey:
    """Add a key with these scopes to the caller's transaction; return it with its secret."""
    prefix = f"{KEY_MARK}_{secrets.token_hex(6)}"
    key = f"{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey(
        name=name,
        prefix=prefix,
        key_sha256=_digest(key),
        scopes=sorted({str(scope) for scope in scopes}),
    )
    session.add(row)
    return NewKey(row=row, key=key)


def list_keys(*, session: Session) -> list[ApiKey]:
    """Return every key, revoked ones included, oldest first."""
    return list(session.exec(select(ApiKey).order_by(col(ApiKey.created_at))).all())


def revoke_key(*, session: Session, key_id: uuid.UUID) -> ApiKey | None:
    """Revoke a key in the caller's transaction; None when there is no such key."""
    row = session.get(ApiKey, key_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
    return row


def verify_key(*, session: Session, key: str) -> ApiKey | None:
    """Return the live key row this key opens, or None (unknown, malformed or revoked)."""
    prefix = _prefix_of(key)
    if prefix is None:
        return None
    row = session.exec(select(ApiKey).where(ApiKey.prefix == prefix)).one_or_none()
    if row is None or not hmac.compare_digest(row.key_sha256, _digest(key)):
        return None
    return row if row.revoked_at is None else None
