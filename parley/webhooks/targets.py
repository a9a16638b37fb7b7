"""Where webhooks may go: public addresses only, unless private ones are allowed.

A webhook URL is a tenant's instruction to make Parley send a request, and a
pre-event webhook's answer comes back into the tenant's data. On a shared
service neither may reach the network Parley runs in (docs/security.md,
"Webhook targets"). Two checks, one rule:

::

    write time   refusal(url)            the URL's host: a literal address in any
      (REST)                             spelling, or a name that is never public
    connect time GuardedBackend          every address the name resolves to, then
      (every request: post-events,       a connection to the address that was
       pre-events, channel webhooks)     checked (no second lookup to rebind)

Redirects are never followed (``sender``), so a public receiver cannot bounce
a request inward. ``PARLEY_ALLOW_PRIVATE_WEBHOOKS=1`` turns both checks off:
the default of ``parley dev`` and of the pytest plugin, whose receivers run on
127.0.0.1; ``parley serve`` refuses private targets unless told otherwise.
"""

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpcore
import httpx

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

# names that never leave the machine or the site (RFC 6761, RFC 6762, RFC 8375)
_LOCAL_SUFFIXES = (".localhost", ".local", ".localdomain", ".internal", ".home.arpa", ".lan")
_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?")
_NUMBER = re.compile(r"0x[0-9a-f]*|[0-9]+")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class Refused(Exception):
    """A request to a target that is not public; never sent (its own type, so
    no HTTP library maps it to a connection error that would be retried)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def is_public(address: Address) -> bool:
    """Globally routable unicast, also behind an IPv6 wrapping of IPv4
    (mapped ``::ffff:a.b.c.d``, 6to4, Teredo, NAT64)."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = address.ipv4_mapped or address.sixtofour
        if inner is None and address.teredo is not None:
            inner = address.teredo[1]
        if inner is None and address in _NAT64:
            inner = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if inner is not None:
            return is_public(inner)
    return address.is_global and not (
        address.is_multicast
        or address.is_reserved
        or address.is_link_local
        or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)
    )


def literal(host: str) -> Address | str | None:
    """The address a host names by itself, in every spelling resolvers accept
    (``2130706433``, ``0x7f.1``, ``0177.0.0.1``, ``127.1``, ``[::1]``); None for
    a name; a reason (str) for something that is neither."""
    text = host.lower().rstrip(".")
    if ":" in text:
        try:
            return ipaddress.IPv6Address(text)
        except ValueError:
            return "not a valid IPv6 address (zone identifiers are not allowed)"
    parts = text.split(".")
    if not _NUMBER.fullmatch(parts[-1]):
        return None  # a name: its last label is not a number
    # inet_aton's forms (what getaddrinfo accepts): 1 to 4 parts, each decimal,
    # 0x-hex or 0-octal, the last one filling the remaining bytes
    if len(parts) > 4 or not all(_NUMBER.fullmatch(p) for p in parts):
        return "not a valid IPv4 address"
    values = []
    for part in parts:
        if part.startswith("0x"):
            values.append(int(part[2:] or "0", 16))
        elif len(part) > 1 and part.startswith("0"):
            if not set(part) <= set("01234567"):
                return "not a valid IPv4 address"
            values.append(int(part, 8))
        else:
            values.append(int(part))
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (4 - len(head)):
        return "not a valid IPv4 address"
    number = last
    for index, value in enumerate(head):
        number |= value << (8 * (3 - index))
    return ipaddress.IPv4Address(number)


def refusal(url: str) -> str | None:
    """Why Parley will not send webhooks to ``url`` (None: it may), judged on
    the URL alone: the check that can answer the request that sets it."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        return f"not a valid URL ({exc})"
    if parsed.scheme not in ("http", "https"):
        return "only http and https URLs are allowed"
    host = parsed.host
    if not host:
        return "the URL has no host"
    found = literal(host)
    if isinstance(found, str):
        return found
    if found is not None:
        return None if is_public(found) else "its address is not public"
    name = host.lower().rstrip(".")
    if not _NAME.fullmatch(host.lower()):
        return "its host name is not a plain DNS name"
    if name == "localhost" or name.endswith(_LOCAL_SUFFIXES):
        return "its host name is local"
    if "." not in name:
        return "its host name has a single label (a local name)"
    return None


async def _resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, resolving names itself: a connection is
    refused unless every address the name resolves to is public, and it is
    made to one of those checked addresses (TLS still verifies the name)."""

    def __init__(self, resolve: Resolver = _resolve) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._resolve = resolve

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                resolved = await self._resolve(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from None
        except OSError as exc:
            raise httpcore.ConnectError(f"resolving {host} failed: {exc}") from None
        addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolved]
        if not addresses or not all(is_public(a) for a in addresses):
            raise Refused(f"{host} resolves to an address that is not public")
        error: Exception | None = None
        for address in dict.fromkeys(addresses):
            try:
                return await self._inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.AsyncNetworkStream:
        raise Refused("unix sockets are not webhook targets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _GuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, limits: httpx.Limits, resolve: Resolver) -> None:
        super().__init__(limits=limits, trust_env=False)
        # the same pool httpx builds, with the guarded backend
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(resolve),
        )


def client(
    allow_private: bool, limits: httpx.Limits | None = None, resolve: Resolver = _resolve
) -> httpx.AsyncClient:
    """The HTTP client webhooks are sent with. Refusing private targets, it
    also ignores proxy settings from the environment: a proxy would connect
    on Parley's behalf to addresses this check never sees."""
    limits = limits or httpx.Limits()
    if allow_private:
        return httpx.AsyncClient(limits=limits)
    return httpx.AsyncClient(transport=_GuardedTransport(limits, resolve))
