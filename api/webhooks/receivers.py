"""Refuse, when it is made, a subscription whose receiver the sender would not be let reach."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

import httpcore

from api.errors import ApiError
from core.errors import ForbiddenSource
from core.settings import IPNetwork
from tasks.net_guard import check_address, resolve


def refuse_a_blocked_receiver(url: str, allowed: Sequence[IPNetwork]) -> None:
    """Raise 422 when ``url``'s host resolves to a refused address.

    A courtesy: the guard that counts is the sender's, at connect time (the name
    may resolve elsewhere by then). A name that does not resolve now is let through.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        for address in resolve(host, port):
            check_address(host, address, allowed)
    except ForbiddenSource as exc:
        raise ApiError(422, f"url: {exc}", field="url") from exc
    except (OSError, httpcore.ConnectError, ValueError):
        return
