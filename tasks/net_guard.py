"""Refuse to connect to private, loopback and other non-public addresses (SSRF guard).

The check happens where the socket is opened: the host is resolved once, every
address it resolves to is checked, and the connection goes to a checked
address. A name that resolves to a public address when validated and to
169.254.169.254 a moment later (DNS rebinding) gains nothing, because nothing
resolves it a second time. Redirect hops open their connections through the
same backend, so each hop is checked too.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl
from collections.abc import Iterable, Sequence
from typing import Any

import httpcore
import httpx

from core.errors import ForbiddenSource
from core.settings import IPNetwork

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Carrier-grade NAT (RFC 6598): not "private" to Python, yet not reachable from outside.
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_METADATA = ipaddress.IPv4Address("169.254.169.254")


def blocked_reason(address: IPAddress) -> str | None:
    """Say why ``address`` is not public ("loopback", "private", ...), or None when it is."""
    if isinstance(address, ipaddress.IPv6Address):
        # An IPv6 address that carries an IPv4 one is as reachable as that one.
        embedded = address.ipv4_mapped or address.sixtofour
        if address.teredo is not None:
            embedded = address.teredo[1]
        if embedded is not None:
            reason = blocked_reason(embedded)
            return None if reason is None else f"{reason} (embedded in IPv6)"
    if address == _METADATA:
        return "cloud metadata"
    checks = (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("unspecified", address.is_unspecified),
        ("carrier-grade NAT", isinstance(address, ipaddress.IPv4Address) and address in _CGNAT),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("non-public", not address.is_global),
    )
    return next((reason for reason, hit in checks if hit), None)


def check_address(host: str, address: IPAddress, allowed: Sequence[IPNetwork]) -> None:
    """Raise ForbiddenSource unless ``address`` is public or inside an allowed network."""
    if _is_allowed(address, allowed):
        return
    reason = blocked_reason(address)
    if reason is not None:
        raise ForbiddenSource(
            f"{host} resolves to a {reason} address {address}; "
            "add it to ASSETFLOW_ALLOWED_NETWORKS to allow it"
        )


def _is_allowed(address: IPAddress, allowed: Sequence[IPNetwork]) -> bool:
    candidates: list[IPAddress] = [address]
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        candidates.append(address.ipv4_mapped)
    return any(
        candidate in network
        for candidate in candidates
        for network in allowed
        if candidate.version == network.version
    )


def resolve(host: str, port: int) -> list[IPAddress]:
    """Resolve ``host`` to its addresses, in the resolver's order, without duplicates."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
    addresses: list[IPAddress] = []
    for info in infos:
        # sockaddr[0] may carry an IPv6 zone ("fe80::1%eth0"); the zone is not part of the address.
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


class GuardedBackend(httpcore.NetworkBackend):
    """An httpcore network backend that connects only to permitted addresses."""

    def __init__(self, allowed: Sequence[IPNetwork]) -> None:
        self._allowed = list(allowed)
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        """Resolve ``host`` once, check every address, connect to the first that answers.

        TLS is started afterwards by httpcore with the original host name as
        SNI, and the Host header comes from the URL, so only the socket's
        peer address changes.
        """
        addresses = resolve(host, port)
        for address in addresses:
            check_address(host, address, self._allowed)
        last_error: Exception | None = None
        for address in addresses:
            try:
                return self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        if last_error is None:
            raise httpcore.ConnectError(f"{host} resolves to no address")
        raise last_error

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        """Refuse: a Unix socket is never a source."""
        raise ForbiddenSource(f"refusing to connect to the Unix socket {path}")

    def sleep(self, seconds: float) -> None:
        """Sleep as the default backend does (httpcore's connect retries call this)."""
        self._inner.sleep(seconds)


class GuardedTransport(httpx.HTTPTransport):
    """An httpx transport whose every connection goes through ``GuardedBackend``.

    Proxies are not supported on purpose: through a proxy, the proxy resolves
    the name and the guard would check the proxy's address instead.
    """

    def __init__(
        self, *, allowed: Sequence[IPNetwork], ssl_context: ssl.SSLContext | None = None
    ) -> None:
        context = default_ssl_context() if ssl_context is None else ssl_context
        super().__init__(verify=context, trust_env=False)
        # httpx (0.28) offers no public way to pass an httpcore network backend,
        # so the pool HTTPTransport built above is replaced by one that has it;
        # handle_request, the exception mapping and close() keep working on it.
        self._pool = httpcore.ConnectionPool(
            ssl_context=context, network_backend=GuardedBackend(allowed)
        )


@functools.cache
def default_ssl_context() -> ssl.SSLContext:
    """Return the shared client TLS context (loading the CA bundle takes ~70 ms)."""
    return httpx.create_ssl_context()
