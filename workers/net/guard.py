"""SSRF guard: an ``httpx.Client`` that only talks to public addresses.

Ferry's workers fetch URLs that strangers send (media to download, webhooks
to call).  Without a guard, ``http://169.254.169.254/`` reads cloud
credentials and ``http://127.1:6379/`` talks to our own Redis.  Each step
below closes one known bypass:

1. **Only http and https.**  ``file://``, ``ftp://``, ``ws://`` and friends
   are refused before anything else happens (checked in the transport, so
   redirect targets are checked too).

2. **Check the resolved addresses, not the URL text.**  ``ipaddress`` rejects
   ``2130706433``, ``0x7f.1`` and ``127.1`` as IP literals, yet
   ``getaddrinfo`` happily maps them to 127.0.0.1, and any DNS name can point
   anywhere.  So the guard resolves the host itself (A *and* AAAA) and
   refuses if *any* address is not global: an attacker who controls DNS
   chooses which record a client tries first.

3. **Unwrap embedded IPv4.**  ``::ffff:127.0.0.1`` (IPv4-mapped),
   ``::127.0.0.1`` (IPv4-compatible), ``2002:7f00:1::`` (6to4) and
   ``64:ff9b::7f00:1`` (NAT64) all carry an IPv4 address that a dual-stack
   host or gateway may route to; several of them count as "global" for
   Python's ``ipaddress``.  The embedded address is checked instead.

4. **Check at connect time, inside the transport.**  The check lives in an
   ``httpcore`` network backend, so every TCP connection -- the first request
   and every redirect hop httpx follows -- passes through it; no caller can
   forget to re-check a ``Location`` header.

5. **Connect to the address that was checked.**  The backend connects to the
   checked IP itself rather than handing the hostname to the socket layer,
   which would resolve it a second time (DNS rebinding: public answer for the
   check, 127.0.0.1 for the connect).  TLS SNI, certificate verification and
   the ``Host`` header still use the hostname, because httpcore takes those
   from the URL, not from the socket.

6. **Ignore proxy environment variables** (``trust_env=False``): a proxy
   would do its own resolution and connect on our behalf, bypassing 2-5.

``allow_private=True`` keeps the same code path (scheme check, pinned
connect, injectable resolver) but skips the address check: for local
development and tests against servers on 127.0.0.1.

Not covered: DNS resolution time is not bounded by ``timeout`` (it is the
system resolver's own timeout, as with stock httpx).
"""
from __future__ import annotations

import functools
import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterable

import httpcore
import httpx

from workers.core.errors import FetchError

__all__ = ["BlockedAddress", "check_ip", "guarded_client"]

Resolver = Callable[[str, int], list[str]]
Policy = Callable[[str], str | None]

ALLOWED_SCHEMES = frozenset({"http", "https"})

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_SITE_LOCAL = ipaddress.ip_network("fec0::/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_RFC1918 = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")


class BlockedAddress(FetchError):
    """A URL was refused because of its scheme or the addresses its host resolves to."""


class _Refused(Exception):
    """Raised inside the network backend; the transport adds the URL and re-raises BlockedAddress."""


def _embedded_ipv4(addr: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address tunnels to, if it is one of the known wrappings."""
    if addr.ipv4_mapped is not None:  # ::ffff:a.b.c.d
        return addr.ipv4_mapped
    if addr.sixtofour is not None:  # 2002:AABB:CCDD::/48
        return addr.sixtofour
    if addr in _NAT64:  # 64:ff9b::a.b.c.d
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    if int(addr) >> 32 == 0 and int(addr) > 1:  # ::a.b.c.d (deprecated IPv4-compatible); not :: or ::1
        return ipaddress.IPv4Address(int(addr))
    return None


def check_ip(ip: str) -> str | None:
    """Why ``ip`` must not be fetched ("loopback", "private", ...), or None if it is global."""
    try:
        addr: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(ip)
    except ValueError:
        return "invalid"
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.scope_id is not None:  # fe80::1%eth0 -> classify the address itself
            addr = ipaddress.IPv6Address(str(addr).split("%", 1)[0])
        inner = _embedded_ipv4(addr)
        if inner is not None:
            addr = inner
    if addr.is_unspecified:
        return "unspecified"
    if addr.is_loopback:
        return "loopback"
    if addr.is_link_local:  # includes 169.254.169.254, the cloud metadata service
        return "link-local"
    if addr.is_multicast:
        return "multicast"
    if addr in _CGNAT:
        return "cgnat"
    if isinstance(addr, ipaddress.IPv6Address) and addr in _SITE_LOCAL:
        return "site-local"
    if any(addr in net for net in _RFC1918) or (isinstance(addr, ipaddress.IPv6Address) and addr in _UNIQUE_LOCAL):
        return "private"
    if addr.is_reserved or not addr.is_global:  # 240/4, documentation, benchmarking, 192.0.0/24, ...
        return "reserved"
    return None


def _system_resolver(host: str, port: int) -> list[str]:
    """All A and AAAA answers for ``host``, in the order the system resolver returns them."""
    infos = socket.getaddrinfo(host, port, socket.AF_UNSPEC, socket.SOCK_STREAM)
    out: list[str] = []
    for family, _type, _proto, _canon, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            ip = str(sockaddr[0])
            if ip not in out:
                out.append(ip)
    return out


class GuardedBackend(httpcore.SyncBackend):
    """httpcore backend that resolves once, checks every answer, and connects to a checked IP.

    ``policy`` is :func:`check_ip` in production (None when private addresses are
    allowed); it is a parameter so tests can exercise the hop-by-hop check
    against servers that only exist on loopback.
    """

    def __init__(self, *, resolver: Resolver | None, policy: Policy | None) -> None:
        self._resolver: Resolver = resolver or _system_resolver
        self._policy = policy

    def resolve_and_check(self, host: str, port: int) -> list[str]:
        """Resolve ``host`` and return its addresses; raise _Refused if any is not allowed."""
        try:
            ips = list(self._resolver(host, port))
        except (OSError, UnicodeError) as exc:  # socket.gaierror is an OSError
            raise httpcore.ConnectError(f"could not resolve {host}: {exc}") from exc
        if not ips:
            raise httpcore.ConnectError(f"could not resolve {host}: no addresses")
        for ip in ips:  # a resolver must answer with literals, or connect_ip would resolve again
            try:
                ipaddress.ip_address(ip)
            except ValueError:
                raise _Refused(f"resolver returned {ip!r} for {host}, not an IP address") from None
        if self._policy is not None:
            for ip in ips:
                reason = self._policy(ip)
                if reason is not None:
                    via = "" if ip == host else f" (resolved from {host})"
                    raise _Refused(f"{ip} is a {reason} address{via}")
        return ips

    def connect_ip(
        self,
        ip: str,
        port: int,
        timeout: float | None,
        local_address: str | None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None,
    ) -> httpcore.NetworkStream:
        """Connect to one already-checked IP literal.

        ``ip`` is a validated literal, so the stock backend's getaddrinfo call
        parses it numerically and performs no DNS lookup.
        """
        return super().connect_tcp(ip, port, timeout, local_address, socket_options)

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        ips = self.resolve_and_check(host, port)
        options = list(socket_options or [])
        last: Exception | None = None
        for ip in ips:  # every one of them was checked above
            try:
                return self.connect_ip(ip, port, timeout, local_address, options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last


@functools.lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    """One verifying TLS context per process: building one loads the CA bundle (~20 ms of CPU), and a
    context is safe to share between threads and clients."""
    return httpx.create_ssl_context(trust_env=False)


class _GuardedTransport(httpx.HTTPTransport):
    """An HTTPTransport whose connection pool uses :class:`GuardedBackend`."""

    def __init__(self, backend: GuardedBackend) -> None:
        super().__init__(verify=_ssl_context(), trust_env=False)
        if not isinstance(getattr(self, "_pool", None), httpcore.ConnectionPool):  # pragma: no cover
            raise RuntimeError("httpx.HTTPTransport internals changed; netguard cannot install its backend")
        # Same settings HTTPTransport would use, but with our network backend.
        self._pool = httpcore.ConnectionPool(
            ssl_context=_ssl_context(),
            max_connections=100,  # httpx's DEFAULT_LIMITS
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=backend,
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme not in ALLOWED_SCHEMES:
            raise BlockedAddress(
                f"refused to fetch {request.url}: scheme not allowed ({request.url.scheme or 'none'})"
            )
        try:
            return super().handle_request(request)
        except _Refused as exc:
            raise BlockedAddress(f"refused to fetch {request.url}: {exc}") from None


def _client(
    *,
    policy: Policy | None,
    timeout: float,
    max_redirects: int,
    resolver: Resolver | None,
    headers: dict[str, str] | None,
) -> httpx.Client:
    transport = _GuardedTransport(GuardedBackend(resolver=resolver, policy=policy))
    return httpx.Client(
        transport=transport,
        trust_env=False,
        follow_redirects=True,
        max_redirects=max_redirects,
        timeout=timeout,
        headers=headers,
    )


def guarded_client(
    *,
    allow_private: bool,
    timeout: float,
    max_redirects: int = 5,
    resolver: Resolver | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Client:
    """An httpx.Client that follows redirects and refuses non-global addresses at every hop.

    Raises :class:`BlockedAddress` (a ``FetchError``, 422) from ``send``/``get``
    when a hop is refused; transport failures stay ordinary ``httpx`` errors.
    ``resolver(host, port) -> [ip, ...]`` replaces getaddrinfo (tests).
    """
    return _client(
        policy=None if allow_private else check_ip,
        timeout=timeout,
        max_redirects=max_redirects,
        resolver=resolver,
        headers=headers,
    )
