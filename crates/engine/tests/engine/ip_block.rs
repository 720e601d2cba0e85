//! IP blocking: allow-list, counting, IPv4-mapped addresses.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use portcullis_engine::counter::CounterState;
use portcullis_engine::ip_block::{IpBlocking, IpStatus};
use portcullis_model::BruteForcePolicy;
use proptest::prelude::*;

use crate::support::{T0, at, ip};

fn policy(max: u64, allowlist: &[&str]) -> BruteForcePolicy {
    BruteForcePolicy {
        max_attempts: max,
        window: 600,
        block_duration: 900,
        allowlist: allowlist.iter().map(|s| s.to_string()).collect(),
        ..BruteForcePolicy::default()
    }
}

#[test]
fn an_ip_is_blocked_after_max_failures_for_block_duration() {
    let blocking = IpBlocking::new(&policy(3, &[]));
    let attacker = ip("203.0.113.9");
    let mut s = CounterState::default();
    for i in 0..2 {
        assert!(!blocking.record_failure(&mut s, attacker, at(i)).decision);
        assert_eq!(blocking.status(&s, attacker, at(i)), IpStatus::Allowed);
    }
    assert!(blocking.record_failure(&mut s, attacker, at(2)).decision);
    assert!(
        matches!(blocking.status(&s, attacker, at(2)), IpStatus::Blocked(l) if l.until == Some(at(902)))
    );
    assert_eq!(blocking.status(&s, attacker, at(902)), IpStatus::Allowed);
    // Another IP has its own counter (the store keys state by IP); a fresh state is allowed.
    assert_eq!(
        blocking.status(&CounterState::default(), ip("203.0.113.10"), at(3)),
        IpStatus::Allowed
    );
}

#[test]
fn disabled_blocking_and_mapped_addresses() {
    let off = IpBlocking::new(&BruteForcePolicy {
        enabled: false,
        ..policy(1, &[])
    });
    let mut s = CounterState::default();
    assert!(!off.record_failure(&mut s, ip("10.0.0.1"), T0).decision);
    assert_eq!(off.status(&s, ip("10.0.0.1"), T0), IpStatus::Exempt);
    assert_eq!(s, CounterState::default(), "nothing counted");

    let on = IpBlocking::new(&policy(1, &["10.0.0.0/8"]));
    assert!(on.is_allowlisted(ip("::ffff:10.1.2.3")));
    assert!(!on.is_allowlisted(ip("11.0.0.1")));
}

fn v4_in(net: Ipv4Addr, prefix: u8, host: u32) -> IpAddr {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    IpAddr::V4(Ipv4Addr::from((u32::from(net) & mask) | (host & !mask)))
}

proptest! {
    /// "An allow-listed IP is never blocked", however many failures it produces.
    #[test]
    fn an_allow_listed_ip_is_never_blocked(
        net in any::<u32>(), prefix in 8u8..=32, hosts in proptest::collection::vec(any::<u32>(), 1..40),
        v6 in any::<u128>(), max in 1u64..5,
    ) {
        let net = Ipv4Addr::from(net);
        let v6_addr = Ipv6Addr::from(v6);
        let entries = [format!("{net}/{prefix}"), v6_addr.to_string()];
        let entries: Vec<&str> = entries.iter().map(String::as_str).collect();
        let blocking = IpBlocking::new(&policy(max, &entries));
        let mut s = CounterState::default();
        for (i, host) in hosts.iter().enumerate() {
            for addr in [v4_in(net, prefix, *host), IpAddr::V6(v6_addr)] {
                prop_assert!(!blocking.record_failure(&mut s, addr, at(i as i64)).decision);
                prop_assert_eq!(blocking.status(&s, addr, at(i as i64)), IpStatus::Exempt);
            }
        }
        prop_assert_eq!(s.failures, 0);
    }
}

fn v6_in(net: Ipv6Addr, prefix: u8, host: u128) -> IpAddr {
    let mask = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - prefix)
    };
    IpAddr::V6(Ipv6Addr::from((u128::from(net) & mask) | (host & !mask)))
}

proptest! {
    /// Two addresses of one prefix share one counter; addresses of different prefixes do not.
    #[test]
    fn addresses_of_one_prefix_share_one_counter(
        v6_prefix in 32u8..=128,
        v4_prefix in 8u8..=32,
        net6 in any::<u128>(),
        net4 in any::<u32>(),
        h1 in any::<u128>(),
        h2 in any::<u128>(),
    ) {
        let blocking = IpBlocking::new(&BruteForcePolicy {
            ipv6_prefix: u64::from(v6_prefix),
            ipv4_prefix: u64::from(v4_prefix),
            ..policy(3, &[])
        });
        let (a, b) = (v6_in(Ipv6Addr::from(net6), v6_prefix, h1), v6_in(Ipv6Addr::from(net6), v6_prefix, h2));
        prop_assert_eq!(blocking.counter_key(a), blocking.counter_key(b));
        prop_assert_eq!(blocking.source(a).prefix_len(), v6_prefix);
        let (c, d) = (v4_in(Ipv4Addr::from(net4), v4_prefix, h1 as u32), v4_in(Ipv4Addr::from(net4), v4_prefix, h2 as u32));
        prop_assert_eq!(blocking.counter_key(c), blocking.counter_key(d));
        prop_assert_eq!(blocking.counter_key(ip(&format!("::ffff:{c}"))), blocking.counter_key(c));
        // Flip a bit inside the prefix: another counter.
        if v6_prefix > 0 {
            let other = IpAddr::V6(Ipv6Addr::from(u128::from(match a { IpAddr::V6(x) => x, _ => unreachable!() }) ^ (1u128 << (128 - v6_prefix))));
            prop_assert_ne!(blocking.counter_key(a), blocking.counter_key(other));
        }
    }

    /// An allow-listed address is never blocked, even inside a blocked prefix.
    #[test]
    fn an_allowlisted_address_inside_a_blocked_prefix_is_not_blocked(host in any::<u64>(), other in any::<u64>()) {
        let allowed = v6_in("2001:db8:1:2::".parse().unwrap(), 64, u128::from(host));
        let attacker = v6_in("2001:db8:1:2::".parse().unwrap(), 64, u128::from(other));
        prop_assume!(allowed != attacker);
        let blocking = IpBlocking::new(&policy(1, &[&allowed.to_string()]));
        let mut prefix_state = CounterState::default();
        prop_assert!(blocking.record_failure(&mut prefix_state, attacker, T0).decision);
        prop_assert!(matches!(blocking.status(&prefix_state, attacker, T0), IpStatus::Blocked(_)));
        prop_assert_eq!(blocking.counter_key(allowed), blocking.counter_key(attacker));
        prop_assert_eq!(blocking.status(&prefix_state, allowed, T0), IpStatus::Exempt);
    }
}

#[test]
fn default_prefixes_are_v4_32_and_v6_64() {
    let blocking = IpBlocking::new(&policy(3, &[]));
    assert_eq!(blocking.counter_key(ip("192.0.2.7")), "ip|192.0.2.7");
    assert_eq!(
        blocking.counter_key(ip("2001:db8:1:2:aaaa::1")),
        "ip|2001:db8:1:2::/64"
    );
    assert_eq!(
        portcullis_engine::ip_block::parse_source_key("ip|2001:db8:1:2::/64")
            .map(|n| n.prefix_len()),
        Some(64)
    );
    assert_eq!(
        portcullis_engine::ip_block::parse_source_key("ip|192.0.2.7").map(|n| n.prefix_len()),
        Some(32)
    );
}

#[test]
fn administrators_networks_take_one_canonical_form() {
    use portcullis_engine::ip_block::canonical_network;
    let canon = |text: &str| canonical_network(text.parse().unwrap()).to_string();
    assert_eq!(canon("198.51.100.77/24"), "198.51.100.0/24");
    assert_eq!(canon("::ffff:10.1.2.3/104"), "10.0.0.0/8");
    assert_eq!(canon("::ffff:10.1.2.3/128"), "10.1.2.3/32");
    assert_eq!(canon("2001:db8::5/48"), "2001:db8::/48");
    // A mapped prefix shorter than the mapping stays IPv6.
    assert_eq!(canon("::ffff:0:0/80"), "::/80");
}

#[test]
fn lockout_storage_keys_read_back_and_search_by_login_start() {
    use portcullis_engine::lockout::{LockoutKey, SecretKind};
    use portcullis_model::LockoutScope;
    let source: ipnet::IpNet = "10.0.0.1/32".parse().unwrap();
    for (scope, login) in [
        (LockoutScope::Login, "alice"),
        (LockoutScope::LoginAndIp, "al|i%ce"),
    ] {
        let key = LockoutKey::new(scope, SecretKind::Otp, "acme", login, source);
        let stored = key.storage_key();
        let (kind, read, src) = LockoutKey::parse_storage_key(&stored).unwrap();
        assert_eq!((kind, read.as_str()), (SecretKind::Otp, login));
        assert_eq!(src.is_some(), scope == LockoutScope::LoginAndIp);
        assert!(stored.starts_with(&LockoutKey::search_prefix(SecretKind::Otp, "al")));
        assert!(!stored.starts_with(&LockoutKey::search_prefix(SecretKind::Password, "")));
    }
    // The escaped start of `a|` cannot reach into the keys of `a`.
    let a = LockoutKey::new(LockoutScope::Login, SecretKind::Password, "o", "a", source);
    assert!(
        !a.storage_key()
            .starts_with(&LockoutKey::search_prefix(SecretKind::Password, "a|"))
    );
    assert_eq!(LockoutKey::parse_storage_key("ip|10.0.0.1"), None);
}
