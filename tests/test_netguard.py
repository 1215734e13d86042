"""Tests for workers.net.guard. Offline: every socket goes to 127.0.0.1 or nowhere."""
from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import httpcore
import httpx
import pytest

from workers.net import guard as netguard
from workers.core.errors import FetchError
from workers.net.guard import BlockedAddress, GuardedBackend, check_ip, guarded_client


# --------------------------------------------------------------------------- check_ip


@pytest.mark.parametrize(
    ("ip", "reason"),
    [
        # IPv4
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("169.254.0.1", "link-local"),
        ("100.64.0.1", "cgnat"),
        ("100.127.255.254", "cgnat"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("0.1.2.3", "reserved"),  # "this network"
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("192.0.2.1", "reserved"),  # documentation
        ("198.18.0.1", "reserved"),  # benchmarking
        # IPv6
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("fec0::1", "site-local"),
        ("ff02::1", "multicast"),
        ("2001:db8::1", "reserved"),  # documentation
        ("2001::1", "reserved"),  # Teredo
        # IPv6 wrapping an IPv4 address: the embedded address decides
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:7f00:1", "loopback"),
        ("::ffff:169.254.169.254", "link-local"),
        ("::ffff:10.0.0.1", "private"),
        ("::127.0.0.1", "loopback"),  # IPv4-compatible (deprecated)
        ("2002:7f00:1::", "loopback"),  # 6to4
        ("2002:a9fe:a9fe::1", "link-local"),  # 6to4 of 169.254.169.254
        ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
        ("64:ff9b::127.0.0.1", "loopback"),
        # garbage
        ("not-an-ip", "invalid"),
        ("127.1", "invalid"),  # only resolved addresses reach check_ip
    ],
)
def test_check_ip_refuses(ip: str, reason: str) -> None:
    assert check_ip(ip) == reason


@pytest.mark.parametrize(
    "ip",
    ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700::1111", "2001:4860:4860::8888", "::ffff:8.8.8.8", "2002:808:808::"],
)
def test_check_ip_allows_global(ip: str) -> None:
    assert check_ip(ip) is None


# --------------------------------------------------------------------------- local servers


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like a real server
    routes: dict[str, tuple[int, dict[str, str], bytes]] = {}

    def do_GET(self) -> None:  # noqa: N802
        status, headers, body = self.routes.get(self.path, (200, {}, b"hello " + self.headers["Host"].encode()))
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def server() -> Iterator[tuple[int, dict[str, tuple[int, dict[str, str], bytes]]]]:
    routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
    handler = type("H", (_Handler,), {"routes": routes})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    t.start()
    try:
        yield srv.server_address[1], routes
    finally:
        srv.shutdown()
        srv.server_close()


def _loopback_only(table: dict[str, list[str]]) -> netguard.Resolver:
    """A fake resolver; unknown names fail like NXDOMAIN (never touches real DNS)."""

    def resolve(host: str, port: int) -> list[str]:
        if host in table:
            return list(table[host])
        raise OSError(f"fake NXDOMAIN {host}")

    return resolve


# --------------------------------------------------------------------------- guarded_client


def test_loopback_refused_with_clear_message(server) -> None:
    port, _ = server
    url = f"http://127.0.0.1:{port}/x"
    with guarded_client(allow_private=False, timeout=2) as client:
        with pytest.raises(BlockedAddress) as ei:
            client.get(url)
    assert str(ei.value) == f"refused to fetch {url}: 127.0.0.1 is a loopback address"
    assert isinstance(ei.value, FetchError) and ei.value.status == 422 and ei.value.type == "fetch_error"


def test_allow_private_fetches(server) -> None:
    port, _ = server
    with guarded_client(allow_private=True, timeout=2, headers={"User-Agent": "ferry-test"}) as client:
        r = client.get(f"http://127.0.0.1:{port}/x")
    assert r.status_code == 200 and r.text == f"hello 127.0.0.1:{port}"
    assert r.request.headers["User-Agent"] == "ferry-test"


def test_connects_to_resolved_ip_but_keeps_hostname_in_host_header(server) -> None:
    port, _ = server
    resolver = _loopback_only({"media.test": ["127.0.0.1"]})
    with guarded_client(allow_private=True, timeout=2, resolver=resolver) as client:
        r = client.get(f"http://media.test:{port}/x")
    assert r.text == f"hello media.test:{port}"


@pytest.mark.parametrize("host", ["2130706433", "0x7f.1", "127.1", "0x7f000001", "localhost", "[::ffff:127.0.0.1]", "[::1]"])
def test_numeric_spellings_refused_with_system_resolver(host: str) -> None:
    # The real getaddrinfo maps these to loopback; nothing listens on port 9, and nothing connects.
    with guarded_client(allow_private=False, timeout=2) as client:
        with pytest.raises(BlockedAddress, match=r"is a loopback address"):
            client.get(f"http://{host}:9/")


def test_octal_spelling_refused() -> None:
    # httpx itself rejects "0177.0.0.1" as a URL; the resolver maps it to loopback, and the
    # backend refuses it too should a future httpx let it through.
    with guarded_client(allow_private=False, timeout=2) as client:
        with pytest.raises((BlockedAddress, httpx.InvalidURL)):
            client.get("http://0177.0.0.1:9/")
    backend = GuardedBackend(resolver=None, policy=check_ip)
    with pytest.raises(netguard._Refused, match=r"127\.0\.0\.1 is a loopback address \(resolved from 0177\.0\.0\.1\)"):
        backend.connect_tcp("0177.0.0.1", 9, timeout=1)


def test_metadata_and_any_bad_answer_refused() -> None:
    resolver = _loopback_only({"meta.test": ["169.254.169.254"], "mixed.test": ["8.8.8.8", "2606:4700::1111", "::ffff:10.0.0.7"]})
    with guarded_client(allow_private=False, timeout=2, resolver=resolver) as client:
        with pytest.raises(BlockedAddress, match=r"^refused to fetch http://meta\.test/latest: 169\.254\.169\.254 is a link-local"):
            client.get("http://meta.test/latest")
        # one non-global answer among global ones is enough: refused before any connect
        with pytest.raises(BlockedAddress, match=r"::ffff:10\.0\.0\.7 is a private address \(resolved from mixed\.test\)"):
            client.get("https://mixed.test/")


def test_resolver_must_answer_with_ip_literals() -> None:
    resolver = _loopback_only({"x.test": ["localhost"]})
    with guarded_client(allow_private=True, timeout=2, resolver=resolver) as client:
        with pytest.raises(BlockedAddress, match="not an IP address"):
            client.get("http://x.test/")


def test_unresolvable_is_connect_error() -> None:
    with guarded_client(allow_private=False, timeout=2, resolver=_loopback_only({})) as client:
        with pytest.raises(httpx.ConnectError, match="could not resolve nowhere.test"):
            client.get("http://nowhere.test/")


@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd", "ws://example.com/", "gopher://127.0.0.1:6379/_INFO"])
def test_other_schemes_refused(url: str) -> None:
    with guarded_client(allow_private=True, timeout=2) as client:
        with pytest.raises(BlockedAddress, match="scheme not allowed"):
            client.get(url)


def test_redirect_to_other_scheme_refused(server) -> None:
    port, routes = server
    routes["/r"] = (302, {"Location": "file:///etc/passwd"}, b"")
    with guarded_client(allow_private=True, timeout=2) as client:
        with pytest.raises(BlockedAddress, match=r"^refused to fetch file://.*/etc/passwd: scheme not allowed"):
            client.get(f"http://127.0.0.1:{port}/r")


def _trusting(*trusted: str) -> netguard.Policy:
    """check_ip, except that `trusted` addresses play the part of public hosts (they are loopback here)."""
    return lambda ip: None if ip in trusted else check_ip(ip)


def test_redirect_hop_to_private_refused(server) -> None:
    # "public.test" is our loopback server standing in for a public host; the production
    # policy applies to every other address. Its redirect to an internal host must be refused
    # at the hop, before any connection to it is attempted.
    port, routes = server
    routes["/go"] = (302, {"Location": "http://internal.test/admin"}, b"")
    resolver = _loopback_only({"public.test": ["127.0.0.1"], "internal.test": ["10.0.0.5"]})
    with netguard._client(policy=_trusting(), timeout=2, max_redirects=5, resolver=resolver, headers=None) as c:
        # sanity: without the stand-in, the first hop itself is refused
        with pytest.raises(BlockedAddress):
            c.get(f"http://public.test:{port}/go")

    class Recording(GuardedBackend):
        seen: list[str] = []

        def connect_ip(self, ip, port, timeout, local_address, socket_options):  # type: ignore[no-untyped-def]
            self.seen.append(ip)
            return super().connect_ip(ip, port, timeout, local_address, socket_options)

    backend = Recording(resolver=resolver, policy=_trusting("127.0.0.1"))
    transport = netguard._GuardedTransport(backend)
    # Rebuild the client with the recording backend but the same settings as _client.
    with httpx.Client(transport=transport, trust_env=False, follow_redirects=True, max_redirects=5, timeout=2) as c:
        ok = c.get(f"http://public.test:{port}/x")
        assert ok.text == f"hello public.test:{port}"
        with pytest.raises(BlockedAddress, match=r"^refused to fetch http://internal\.test/admin: 10\.0\.0\.5 is a private address"):
            c.get(f"http://public.test:{port}/go")
        assert c.get(f"http://public.test:{port}/x").status_code == 200  # client still usable
    assert backend.seen and set(backend.seen) == {"127.0.0.1"}  # 10.0.0.5 was never connected


def test_every_new_hop_goes_through_the_guard(server) -> None:
    # Through guarded_client itself: every connection a redirect opens is resolved (and so
    # checked) by the guard's backend -- relative and cross-host hops alike.
    port, routes = server
    routes["/a"] = (302, {"Location": "/b"}, b"")
    routes["/b"] = (302, {"Location": f"http://other.test:{port}/c"}, b"")
    resolver = _loopback_only({"first.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})
    hosts: list[str] = []

    def counting(host: str, port: int) -> list[str]:
        hosts.append(host)
        return resolver(host, port)

    with guarded_client(allow_private=True, timeout=2, resolver=counting) as client:
        r = client.get(f"http://first.test:{port}/a")
    assert r.status_code == 200 and r.text == f"hello other.test:{port}"
    assert [str(h.url) for h in r.history] == [f"http://first.test:{port}/a", f"http://first.test:{port}/b"]
    assert hosts == ["first.test", "other.test"]  # one resolution per new connection, every hop included


def test_max_redirects(server) -> None:
    port, routes = server
    routes["/loop"] = (302, {"Location": "/loop"}, b"")
    with guarded_client(allow_private=True, timeout=2, max_redirects=2) as client:
        with pytest.raises(httpx.TooManyRedirects):
            client.get(f"http://127.0.0.1:{port}/loop")


def test_dns_rebinding_connects_to_checked_address() -> None:
    # First answer public, later answers loopback: the guard resolves once per connection and
    # connects to the address it checked, never asking the resolver (or the OS) again.
    answers = iter([["93.184.216.34"], ["127.0.0.1"], ["127.0.0.1"]])
    calls: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return next(answers)

    connected: list[str] = []

    class NoNetwork(GuardedBackend):
        def connect_ip(self, ip, port, timeout, local_address, socket_options):  # type: ignore[no-untyped-def]
            connected.append(ip)  # record instead of touching a non-loopback address
            raise httpcore.ConnectError("offline test")

    backend = NoNetwork(resolver=rebinding, policy=check_ip)
    with pytest.raises(httpcore.ConnectError):
        backend.connect_tcp("rebind.test", 80, timeout=1)
    assert calls == ["rebind.test"] and connected == ["93.184.216.34"]
    # The next connection resolves afresh, sees loopback, and is refused before connecting.
    with pytest.raises(netguard._Refused, match="127.0.0.1 is a loopback address"):
        backend.connect_tcp("rebind.test", 80, timeout=1)
    assert connected == ["93.184.216.34"]


def test_connect_ip_does_not_resolve(monkeypatch) -> None:
    # connect_ip hands a literal to the stock backend; make any non-numeric lookup explode.
    import socket

    real = socket.getaddrinfo

    def numeric_only(host, *a, **k):  # type: ignore[no-untyped-def]
        import ipaddress

        ipaddress.ip_address(host)  # raises for names
        return real(host, *a, **k)

    monkeypatch.setattr(socket, "getaddrinfo", numeric_only)
    backend = GuardedBackend(resolver=_loopback_only({"h.test": ["127.0.0.1"]}), policy=None)
    with pytest.raises(httpcore.ConnectError):  # nothing listens on port 9
        backend.connect_tcp("h.test", 9, timeout=1)


def test_falls_through_to_next_checked_address(server) -> None:
    port, _ = server
    # ::1 may or may not be listening; 127.0.0.2 has no server on this port; 127.0.0.1 does.
    resolver = _loopback_only({"multi.test": ["127.0.0.2", "127.0.0.1"]})
    with guarded_client(allow_private=True, timeout=2, resolver=resolver) as client:
        assert client.get(f"http://multi.test:{port}/x").status_code == 200


def test_env_proxies_ignored(server, monkeypatch) -> None:
    port, _ = server
    # A proxy would resolve and connect on our behalf; it must never be used.
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(var, f"http://127.0.0.1:{port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    resolver = _loopback_only({"meta.test": ["169.254.169.254"]})
    with guarded_client(allow_private=False, timeout=2, resolver=resolver) as client:
        assert client.trust_env is False
        with pytest.raises(BlockedAddress):
            client.get("http://meta.test/")


def test_client_settings() -> None:
    with guarded_client(allow_private=False, timeout=3.5, max_redirects=7) as client:
        assert client.follow_redirects is True
        assert client.max_redirects == 7
        assert client.timeout == httpx.Timeout(3.5)
        assert isinstance(client._transport, netguard._GuardedTransport)
        assert isinstance(client._transport._pool._network_backend, GuardedBackend)


def test_https_sni_uses_hostname_while_socket_uses_checked_ip() -> None:
    seen: dict[str, object] = {}

    class FakeStream(httpcore.NetworkStream):
        def start_tls(self, ssl_context, server_hostname=None, timeout=None):  # type: ignore[no-untyped-def]
            seen["sni"] = server_hostname
            raise httpcore.ConnectError("offline test")

        def close(self) -> None:
            pass

    class NoNetwork(GuardedBackend):
        def connect_ip(self, ip, port, timeout, local_address, socket_options):  # type: ignore[no-untyped-def]
            seen["ip"], seen["port"] = ip, port
            return FakeStream()

    backend = NoNetwork(resolver=_loopback_only({"cdn.test": ["93.184.216.34"]}), policy=check_ip)
    with httpx.Client(transport=netguard._GuardedTransport(backend), trust_env=False) as c:
        with pytest.raises(httpx.ConnectError):
            c.get("https://cdn.test/img.png")
    assert seen == {"ip": "93.184.216.34", "port": 443, "sni": "cdn.test"}
