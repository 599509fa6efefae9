"""The SSRF guard: which addresses are refused, and that the socket goes to the checked one."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator

import pytest

from core.errors import ForbiddenSource
from tasks.net_guard import GuardedBackend, blocked_reason, check_address


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.5", "private"),
        ("172.16.3.4", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("169.254.169.254", "cloud metadata"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("100.127.255.254", "carrier-grade NAT"),
        ("240.0.0.1", "private"),
        ("255.255.255.255", "private"),
        ("192.0.2.7", "private"),
        ("::ffff:10.0.0.5", "private (embedded in IPv6)"),
        ("::ffff:127.0.0.1", "loopback (embedded in IPv6)"),
        ("::ffff:169.254.169.254", "cloud metadata (embedded in IPv6)"),
        ("2002:a00:5::1", "private (embedded in IPv6)"),
        ("64:ff9b::a00:5", "reserved"),
    ],
)
def test_non_public_addresses_are_blocked(address: str, reason: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8"]
)
def test_public_addresses_pass(address: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) is None


def test_allowed_networks_override_the_block() -> None:
    allowed = [ipaddress.ip_network("10.0.0.0/24"), ipaddress.ip_network("127.0.0.1/32")]

    check_address("nas.lab", ipaddress.ip_address("10.0.0.5"), allowed)
    check_address("x", ipaddress.ip_address("::ffff:127.0.0.1"), allowed)
    with pytest.raises(ForbiddenSource) as raised:
        check_address("nas.lab", ipaddress.ip_address("10.0.1.5"), allowed)

    assert str(raised.value) == (
        "nas.lab resolves to a private address 10.0.1.5; "
        "add it to ASSETFLOW_ALLOWED_NETWORKS to allow it"
    )


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        sock.settimeout(0)
        yield sock


def test_backend_connects_to_the_checked_address(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    backend = GuardedBackend([ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1")])

    stream = backend.connect_tcp("localhost", port, timeout=2)
    try:
        assert stream.get_extra_info("server_addr") == ("127.0.0.1", port)
    finally:
        stream.close()


def test_backend_refuses_before_opening_a_socket(listener: socket.socket) -> None:
    port = listener.getsockname()[1]

    with pytest.raises(ForbiddenSource, match="localhost resolves to a loopback address"):
        GuardedBackend([]).connect_tcp("localhost", port, timeout=2)

    with pytest.raises(BlockingIOError):
        listener.accept()  # nobody knocked


def test_backend_refuses_unix_sockets() -> None:
    with pytest.raises(ForbiddenSource, match="Unix socket"):
        GuardedBackend([]).connect_unix_socket("/var/run/docker.sock")
