//! IP addresses and networks as policies write them: `10.0.0.1`, `10.0.0.0/8`, `2001:db8::/32`.
//!
//! Invariant: a bare address is the network of that one address (`/32` or `/128`).

use std::net::IpAddr;

use ipnet::IpNet;

/// Parses an address or CIDR network; `None` when it is neither.
pub fn parse_network(text: &str) -> Option<IpNet> {
    let text = text.trim();
    if let Ok(net) = text.parse::<IpNet>() {
        return Some(net.trunc());
    }
    text.parse::<IpAddr>().ok().map(IpNet::from)
}

/// Parses a list already proven valid; entries that do not parse are skipped (none, for a
/// validated list).
pub fn parse_networks(entries: &[String]) -> Vec<IpNet> {
    entries.iter().filter_map(|e| parse_network(e)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_addresses_and_networks() {
        for (text, expected) in [
            ("10.0.0.1", Some("10.0.0.1/32")),
            ("10.1.2.3/8", Some("10.0.0.0/8")),
            (" 192.168.0.0/16 ", Some("192.168.0.0/16")),
            ("2001:db8::1", Some("2001:db8::1/128")),
            ("2001:db8::/32", Some("2001:db8::/32")),
            ("10.0.0.0/33", None),
            ("example.com", None),
            ("", None),
        ] {
            assert_eq!(
                parse_network(text).map(|n| n.to_string()).as_deref(),
                expected,
                "{text}"
            );
        }
    }
}
