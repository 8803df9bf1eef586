"""Which client an address stands for, for every limit and throttle: IPv4 as is, IPv6 by its /64.

A subscriber holds a whole IPv6 /64, so counting single IPv6 addresses would let one client change the last 64
bits and start afresh. IPv4-mapped IPv6 addresses count as the IPv4 address they carry.
"""
import ipaddress


def address_bucket(remote_addr: str | None) -> str:
    """The client an address is counted as."""
    try:
        address = ipaddress.ip_address((remote_addr or "").strip())
    except ValueError:
        return remote_addr or "unknown"
    if address.version == 6:
        if address.ipv4_mapped:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
