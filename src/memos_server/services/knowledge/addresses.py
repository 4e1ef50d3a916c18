"""Which addresses a document URL may reach: the checks behind ``services.knowledge.fetch``.

A client naming a URL chooses where the server connects. Unless an operator allows them
(``MEMOS_KNOWLEDGE__URL_ALLOW``: host names or CIDR ranges), these are refused, in IPv4 and IPv6:
private (10/8, 172.16/12, 192.168/16, fc00::/7), loopback (127/8, ::1), link-local (169.254/16
with the cloud metadata address, fe80::/10), shared carrier-grade NAT (100.64/10), multicast,
reserved, unspecified (0.0.0.0, ::) and everything Python's ``ipaddress`` says is not global.
An IPv4 address inside IPv6 (``::ffff:127.0.0.1``, NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``) is
judged as the IPv4 address it carries: a connection to it reaches that address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")


@dataclass(frozen=True)
class Allowlist:
    """What an operator allows beyond the public internet: host names and address ranges."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> Allowlist:
        """Entries as written in the setting: ``10.0.0.0/8``, ``127.0.0.1``, ``docs.internal``;
        a malformed one is an error at start-up."""
        hosts: set[str] = set()
        networks: list[Network] = []
        for raw in entries:
            entry = raw.strip()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                if "/" in entry or ":" in entry or not entry.replace("-", "").replace(".", ""):
                    raise ValueError(f"not a host name or CIDR range: {entry!r}") from None
                hosts.add(entry.lower().rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def names(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.hosts

    def holds(self, address: Address) -> bool:
        return any(address in network for network in self.networks)


def carried_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, NAT64, 6to4), if any."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    return None


def refusal(address: Address) -> str | None:
    """Why an address is not on the public internet, or None when it is."""
    inner = carried_ipv4(address)
    if inner is not None:
        reason = refusal(inner)
        return f"{reason} (inside the IPv6 address {address})" if reason else None
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return "a shared (carrier-grade NAT) address"
    if address.is_reserved:
        return "a reserved address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "not a public address"
    return None


def check_address(address: Address, host: str, allowed: Allowlist) -> str | None:
    """Why ``host``, resolved to ``address``, may not be fetched, or None when it may."""
    if allowed.names(host) or allowed.holds(address):
        return None
    inner = carried_ipv4(address)
    if inner is not None and allowed.holds(inner):
        return None
    reason = refusal(address)
    if reason is None:
        return None
    return (
        f"{host} resolves to {address}, {reason}; documents are fetched from public addresses "
        "only unless MEMOS_KNOWLEDGE__URL_ALLOW names the host or its range"
    )
