"""Readable ids of the files and tasks family: ``file_<32 hex>``, ``task_<32 hex>``, ``req_...``.

The hex is the row's UUID, so a prefixed id and the native API's UUID name the
same row; the routes take either.
"""

from __future__ import annotations

import secrets
import uuid

FILE = "file"
TASK = "task"


def file_id(asset_id: uuid.UUID) -> str:
    """Name an asset as the files family shows it."""
    return f"{FILE}_{asset_id.hex}"


def task_id(job_id: uuid.UUID) -> str:
    """Name a job as the tasks family shows it."""
    return f"{TASK}_{job_id.hex}"


def request_id() -> str:
    """Return a new id for one answer (``meta.id``)."""
    return f"req_{secrets.token_hex(12)}"


def parse_id(value: str, prefix: str) -> uuid.UUID | None:
    """Read ``prefix_<hex>`` or a plain UUID; None when it is neither."""
    value = value.strip()
    if value.startswith(f"{prefix}_"):
        value = value[len(prefix) + 1 :]
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
