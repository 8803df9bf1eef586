"""Who a limit counts: IPv6 by its /64, IPv4 and IPv4-mapped addresses as themselves."""
from service.platform.addresses import address_bucket


def test_ipv6_addresses_are_grouped_by_their_64_prefix():
    assert address_bucket("2a01:e0a:1:2:aaaa::1") == address_bucket("2a01:e0a:1:2:ffff:1:2:3") == "2a01:e0a:1:2::/64"
    assert address_bucket("2a01:e0a:1:3::1") != address_bucket("2a01:e0a:1:2::1")


def test_ipv4_and_mapped_addresses_stay_whole():
    assert address_bucket("203.0.113.7") == "203.0.113.7"
    assert address_bucket("::ffff:203.0.113.7") == "203.0.113.7"
    assert address_bucket(None) == "unknown" and address_bucket("not an address") == "not an address"
