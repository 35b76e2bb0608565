"""The outbound guard policy, free of any HTTP library: which URLs and which addresses an integration may reach.

Integrations post to URLs that admins type in, and follow the redirects those servers answer, so every stack checks
the same three things: the scheme (HTTPS; plain HTTP only for on-prem tools), the host written in the URL, and the
address a host name resolves to at the moment of connecting (a name may point anywhere, and change between a check
and a connection). `VIGIL_OUTBOUND_ALLOW_PRIVATE=true` opens private, loopback and link-local addresses (and
plain HTTP) for on-prem tools. The stacks (`aio`, `sync`) call these functions; nothing here does I/O except
reading the CA bundle in `ssl_context`.

`Refused` messages are shown to operators and stored in delivery logs: they name the reason and the host, never
credentials, paths or query strings (a Teams Workflows URL carries its signature in the query).
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

ALLOW_PRIVATE_HINT = "set VIGIL_OUTBOUND_ALLOW_PRIVATE=true for on-prem tools"
HOST_LIMIT = 80  # characters of a host shown in a message; the rest is cut

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Carrier-grade NAT space is neither private nor global in every Python release; name it explicitly.
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
# NAT64 prefixes carry an IPv4 address in their last 32 bits; the local-use one (RFC 8215) is local by definition.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


class Refused(Exception):
    """The guard refused an outbound request; the message is a short reason safe to show and to log."""


class _OutboundSettings(Protocol):
    @property
    def outbound_allow_private(self) -> bool: ...

    @property
    def ca_bundle(self) -> Path | None: ...


@dataclass(frozen=True)
class OutboundPolicy:
    """What outbound HTTP may do; built once from the settings and handed to every stack."""

    allow_private: bool = False
    ca_bundle: Path | None = None

    @classmethod
    def from_settings(cls, settings: _OutboundSettings) -> OutboundPolicy:
        """The policy from `VIGIL_OUTBOUND_ALLOW_PRIVATE` and `VIGIL_CA_BUNDLE`."""
        return cls(allow_private=bool(settings.outbound_allow_private), ca_bundle=settings.ca_bundle)


class AddressChecker(Protocol):
    """The connect-time check every stack calls: `check_address`, or in tests a narrower stand-in."""

    def __call__(self, policy: OutboundPolicy, ip: str, *, host: str | None = None, port: int | None = None) -> None: ...


def _shown(text: str) -> str:
    """A host as it may appear in a message: printable ASCII (escapes otherwise), cut to HOST_LIMIT characters."""
    safe = text if text.isascii() and text.isprintable() else ascii(text)[1:-1]
    return safe if len(safe) <= HOST_LIMIT else safe[:HOST_LIMIT] + "..."


def _parse_ip(text: str) -> IPAddress | None:
    """An IP address written in canonical form (an IPv6 zone such as `%eth0` allowed), else None."""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _embedded_ipv4(addr: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form leads to (IPv4-mapped, 6to4, NAT64): checked in place of the IPv6 one."""
    if addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    if addr.sixtofour is not None:
        return addr.sixtofour
    if addr in _NAT64:
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    return None


def _refused_kind(addr: IPAddress) -> str | None:
    """Why an address is not a public unicast one ("loopback", "private", ...), or None when it is."""
    if isinstance(addr, ipaddress.IPv6Address):
        if addr in _NAT64_LOCAL:
            return "private"
        embedded = _embedded_ipv4(addr)
        if embedded is not None:
            return _refused_kind(embedded)
        if addr.is_site_local:
            return "site-local"
    if addr.is_unspecified:
        return "unspecified"
    if addr.is_loopback:
        return "loopback"
    if addr.is_link_local:
        return "link-local"
    if addr.is_multicast:
        return "multicast"
    if isinstance(addr, ipaddress.IPv4Address) and addr in _CGNAT:
        return "shared (CGNAT)"
    if addr.is_reserved:
        return "reserved"
    if addr.is_private:
        return "private"
    if not addr.is_global:
        return "reserved"
    return None


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def check_address(policy: OutboundPolicy, ip: str, *, host: str | None = None, port: int | None = None) -> None:
    """Refuse an address that is not public unicast unless the policy allows private ones.

    `host` is the name that resolved to `ip` (None when the URL carried the IP itself); it only shapes the message.
    `port` is unused by the policy and exists so a test stand-in can allow one fake server and nothing else.
    """
    addr = _parse_ip(ip)
    if addr is None:
        raise Refused(f"refused: {_shown(host or ip)} did not resolve to an IP address")
    if policy.allow_private:
        return
    kind = _refused_kind(addr)
    if kind is None:
        return
    if host is None or _parse_ip(host) is not None:
        raise Refused(f"refused: {_shown(ip)} is {_article(kind)} {kind} address; {ALLOW_PRIVATE_HINT}")
    raise Refused(f"refused: {_shown(host)} resolves to {_article(kind)} {kind} address ({ip}); {ALLOW_PRIVATE_HINT}")


def _is_legacy_ipv4(host: str) -> bool:
    """True for hosts the C resolver reads as IPv4 though they are not canonical (`127.1`, `2130706433`, `0x7f.1`)."""
    try:
        socket.inet_aton(host)
    except (OSError, ValueError):
        return False
    return True


def check_url(policy: OutboundPolicy, url: str, *, checker: AddressChecker = check_address) -> None:
    """Refuse a URL before any DNS lookup or connection: scheme, host present, and a literal IP host checked now.

    A host name passes here; its addresses are checked when a stack connects (see `aio`, `sync`). Used at
    configuration time too, so an admin hears about `http://` or `https://10.0.0.5/` when saving, not on delivery.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        raise Refused("refused: not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme == "http":
        if not policy.allow_private:
            raise Refused("refused: http:// is allowed only with VIGIL_OUTBOUND_ALLOW_PRIVATE=true")
    elif scheme != "https":
        shown = f"{_shown(scheme)}://" if scheme else "a URL without a scheme"
        raise Refused(f"refused: {shown} is not allowed (https:// only)")
    if not host:
        raise Refused("refused: the URL has no host")
    port = port if port is not None else (443 if scheme == "https" else 80)
    if _parse_ip(host) is not None:
        checker(policy, host, host=None, port=port)
    elif _is_legacy_ipv4(host):
        raise Refused(f"refused: {_shown(host)} is not a canonical IP address")


def describe_url(url: str) -> str:
    """The URL as safe to log and show: scheme, host, port and path; userinfo, query and fragment dropped.

    Never raises. Note the path is kept: a vendor that puts its secret in the path needs its own redaction.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<invalid URL>"
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None else f"{host}:{port}"
    scheme = f"{parts.scheme}://" if parts.scheme else ("//" if netloc else "")
    return f"{scheme}{netloc}{parts.path}"


def ssl_context(policy: OutboundPolicy) -> ssl.SSLContext:
    """A verifying TLS context trusting the system store, certifi's bundle and `VIGIL_CA_BUNDLE` (when set).

    Every stack gets its own context from here so they trust the same roots; a fresh one per call, because
    urllib3 adjusts the context it is handed.
    """
    context = ssl.create_default_context()
    try:
        import certifi
    except ImportError:  # pragma: no cover - certifi comes with requests and httpx2
        pass
    else:
        context.load_verify_locations(cafile=certifi.where())
    if policy.ca_bundle is not None:
        context.load_verify_locations(cafile=str(policy.ca_bundle))
    return context
