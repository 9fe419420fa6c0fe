//! IP networks (`10.0.0.0/8`, `::1`) and the client address behind trusted reverse proxies, read
//! from `X-Forwarded-For` or the RFC 7239 `Forwarded` header.
//!
//! IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) are the IPv4 address they carry, both in a
//! network and in an address matched against one.

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    str::FromStr,
};

/// An IP network: an address and a prefix length. A bare address is the network of that one
/// address (`/32` or `/128`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// Whether `ip` lies in this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => mask_v4(ip, self.prefix) == net,
            (IpAddr::V6(net), IpAddr::V6(ip)) => mask_v6(ip, self.prefix) == net,
            _ => false,
        }
    }
}

fn mask_v4(ip: Ipv4Addr, prefix: u8) -> Ipv4Addr {
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
    Ipv4Addr::from(u32::from(ip) & mask)
}

fn mask_v6(ip: Ipv6Addr, prefix: u8) -> Ipv6Addr {
    let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
    Ipv6Addr::from(u128::from(ip) & mask)
}

impl FromStr for IpNet {
    type Err = String;

    /// `10.0.0.0/8`, `2001:db8::/32`, or a bare address. Bits set after the prefix
    /// (`10.0.0.1/8`) are refused: such a value is usually a typo, and trusting more or fewer
    /// addresses than meant is not a mistake to guess about.
    fn from_str(raw: &str) -> Result<IpNet, String> {
        let (addr, prefix) = match raw.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (raw, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("'{raw}' is not an IP address or a CIDR like 10.0.0.0/8"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|n| p.bytes().all(|b| b.is_ascii_digit()) && *n <= max)
                .ok_or_else(|| format!("'{raw}': the prefix length must be 0 to {max}"))?,
        };
        let (addr, prefix) = match addr {
            IpAddr::V6(v6) if prefix >= 96 && v6.to_ipv4_mapped().is_some() => {
                (addr.to_canonical(), prefix - 96)
            }
            _ => (addr, prefix),
        };
        let network = match addr {
            IpAddr::V4(v4) => IpAddr::V4(mask_v4(v4, prefix)),
            IpAddr::V6(v6) => IpAddr::V6(mask_v6(v6, prefix)),
        };
        if network != addr {
            return Err(format!(
                "'{raw}' has bits set after the prefix; the network is {network}/{prefix}"
            ));
        }
        Ok(IpNet { addr, prefix })
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Parse a comma-separated list of networks (`127.0.0.1,::1,10.0.0.0/8`); blanks around the
/// commas and empty items are ignored, so the empty string is the empty list.
pub fn parse_nets(raw: &str) -> Result<Vec<IpNet>, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::parse)
        .collect()
}

/// Whether `ip` lies in any of `nets`.
pub fn is_in(nets: &[IpNet], ip: IpAddr) -> bool {
    nets.iter().any(|net| net.contains(ip))
}

/// How far back a forwarding chain is read: the rightmost 64 hops within the rightmost 8 KiB.
/// An honest chain is a handful of hops; whatever lies beyond the limit is treated like a
/// malformed hop (see `client_ip`).
pub const MAX_HOPS: usize = 64;
pub const MAX_CHAIN_BYTES: usize = 8 * 1024;

/// The client's address, given the TCP `peer`, the `trusted` proxy networks and the header lines
/// (raw bytes, in the order received) of `X-Forwarded-For` and `Forwarded`:
///
/// - A peer outside `trusted` is the client; forwarding headers are ignored (anyone can send
///   them).
/// - Otherwise the chain is `X-Forwarded-For` (all lines, comma-separated) or, when no such line
///   exists, the `for=` of each `Forwarded` element. It is read from the right, each hop having
///   been appended by the trusted proxy to its right: the first hop outside `trusted` is the
///   client. When every hop is trusted, the leftmost one is.
/// - A hop that is not an IP address (garbage, non-text, a `Forwarded` element without `for=`,
///   `unknown`, an obfuscated `_name`), or one beyond `MAX_HOPS` / `MAX_CHAIN_BYTES`, ends the
///   walk: the client is the last trusted address seen (the hop to its right, or the peer). So
///   the answer is always either an address a trusted proxy vouched for or a trusted proxy
///   itself, never something read past a hop that could not be understood.
///
/// Empty list items (`a,,b`) are skipped, as HTTP lists allow. Hops may carry a port
/// (`1.2.3.4:80`, `[2001:db8::1]:4711`). The result is canonical: `::ffff:1.2.3.4` is
/// `1.2.3.4`.
pub fn client_ip(
    peer: IpAddr,
    trusted: &[IpNet],
    x_forwarded_for: &[&[u8]],
    forwarded: &[&[u8]],
) -> IpAddr {
    let peer = peer.to_canonical();
    if !is_in(trusted, peer) {
        return peer;
    }
    let (lines, hop): (_, fn(&str) -> Option<IpAddr>) = if x_forwarded_for.is_empty() {
        (forwarded, forwarded_for)
    } else {
        (x_forwarded_for, parse_node)
    };
    let mut client = peer;
    let (mut hops, mut bytes) = (0, 0);
    for line in lines.iter().rev() {
        let Ok(line) = std::str::from_utf8(line) else {
            return client;
        };
        for item in line.rsplit(',') {
            hops += 1;
            bytes += item.len() + 1;
            if hops > MAX_HOPS || bytes > MAX_CHAIN_BYTES {
                return client;
            }
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            match hop(item) {
                None => return client,
                Some(ip) if is_in(trusted, ip) => client = ip,
                Some(ip) => return ip,
            }
        }
    }
    client
}

/// The address in the `for=` parameter of one `Forwarded` element
/// (`for=192.0.2.60;proto=https;by=203.0.113.43`); `None` when there is not exactly one, or
/// when it is not an address. The parameter name is case-insensitive; the value may be quoted
/// (as IPv6 must be). Splitting on `,` and `;` ignores quoting: a quoted value containing
/// either is not an address anyway, and its pieces are malformed hops that end the walk.
fn forwarded_for(element: &str) -> Option<IpAddr> {
    let mut value = None;
    for pair in element.split(';') {
        let (name, v) = pair.split_once('=')?;
        if name.trim().eq_ignore_ascii_case("for") {
            if value.is_some() {
                return None;
            }
            value = Some(v.trim());
        }
    }
    let value = value?;
    let value = match value.strip_prefix('"') {
        Some(quoted) => quoted.strip_suffix('"')?,
        None => value,
    };
    parse_node(value)
}

/// An address as a forwarding hop writes it: `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`,
/// `[2001:db8::1]`, `[2001:db8::1]:4711` (RFC 7239 also allows an obfuscated port, `:_p1`).
/// `unknown`, obfuscated identifiers (`_hidden`), zone ids and anything else are `None`.
fn parse_node(raw: &str) -> Option<IpAddr> {
    let ip = if let Some(rest) = raw.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        IpAddr::V6(v6.parse().ok()?)
    } else if let Ok(ip) = raw.parse() {
        ip
    } else {
        let (v4, port) = raw.rsplit_once(':')?;
        if !is_port(port) {
            return None;
        }
        IpAddr::V4(v4.parse().ok()?)
    };
    Some(ip.to_canonical())
}

/// A port number, or an RFC 7239 obfuscated port (`_` followed by letters, digits, `.`, `_`, `-`).
fn is_port(raw: &str) -> bool {
    match raw.strip_prefix('_') {
        Some(name) => {
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        }
        None => raw.bytes().all(|b| b.is_ascii_digit()) && raw.parse::<u16>().is_ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(s: &str) -> Vec<IpNet> {
        parse_nets(s).unwrap()
    }

    #[test]
    fn networks_parse_and_match() {
        let ten = nets("10.0.0.0/8");
        assert!(is_in(&ten, ip("10.255.0.1")));
        assert!(!is_in(&ten, ip("11.0.0.1")));
        assert!(is_in(&ten, ip("::ffff:10.0.0.1")), "mapped IPv6 is IPv4");
        assert!(!is_in(&ten, ip("::a00:1")), "IPv4-compatible is not mapped");

        let host = nets("127.0.0.1");
        assert!(is_in(&host, ip("127.0.0.1")));
        assert!(!is_in(&host, ip("127.0.0.2")));

        let v6 = nets("2001:db8::/32, ::1");
        assert!(is_in(&v6, ip("2001:db8:ffff::1")));
        assert!(is_in(&v6, ip("::1")));
        assert!(!is_in(&v6, ip("2001:db9::1")));
        assert!(!is_in(&v6, ip("127.0.0.1")));

        let mapped = nets("::ffff:192.168.0.0/112");
        assert_eq!(mapped[0].to_string(), "192.168.0.0/16");
        assert!(is_in(&mapped, ip("192.168.4.4")));

        assert!(is_in(&nets("0.0.0.0/0"), ip("203.0.113.9")));
        assert!(!is_in(&nets("0.0.0.0/0"), ip("2001:db8::1")));
        assert!(is_in(&nets("::/0"), ip("2001:db8::1")));
        assert!(nets("").is_empty());
        assert!(nets(" , ").is_empty());
        assert_eq!(nets("127.0.0.1,,::1").len(), 2);
        assert_eq!(nets("::1")[0].to_string(), "::1/128");
    }

    #[test]
    fn bad_networks_say_what_is_wrong() {
        for (raw, says) in [
            ("abc", "not an IP address"),
            ("10.0.0.0/33", "0 to 32"),
            ("::/129", "0 to 128"),
            ("10.0.0.0/", "prefix length"),
            ("10.0.0.0/+8", "prefix length"),
            ("10.0.0.0/8/8", "prefix length"),
            ("10.0.0.1/8", "the network is 10.0.0.0/8"),
            ("2001:db8::1/32", "the network is 2001:db8::/32"),
            ("10.0.0", "not an IP address"),
            ("fe80::1%eth0", "not an IP address"),
        ] {
            let err = parse_nets(&format!("127.0.0.1,{raw}")).unwrap_err();
            assert!(err.contains(says), "{raw}: {err}");
            assert!(err.contains(raw), "{raw}: {err}");
        }
    }

    /// The client seen through `peer`, with 127.0.0.1, ::1 and 10.0.0.0/8 trusted.
    fn resolve(peer: &str, xff: &[&str], fwd: &[&str]) -> IpAddr {
        let trusted = nets("127.0.0.1,::1,10.0.0.0/8");
        let xff: Vec<&[u8]> = xff.iter().map(|l| l.as_bytes()).collect();
        let fwd: Vec<&[u8]> = fwd.iter().map(|l| l.as_bytes()).collect();
        client_ip(ip(peer), &trusted, &xff, &fwd)
    }

    #[test]
    fn x_forwarded_for_is_read_from_the_right_behind_trusted_proxies() {
        let none: &[&str] = &[];
        for (peer, xff, client) in [
            // An untrusted peer is the client, whatever it claims.
            ("203.0.113.1", &["198.51.100.7"][..], "203.0.113.1"),
            ("::ffff:203.0.113.1", &["198.51.100.7"], "203.0.113.1"),
            // Trusted peer: the hop it appended.
            ("127.0.0.1", &["203.0.113.9"], "203.0.113.9"),
            ("::ffff:127.0.0.1", &["203.0.113.9"], "203.0.113.9"),
            ("::1", &["2001:db8::9"], "2001:db8::9"),
            // Spoofed leftmost entries are never believed.
            ("127.0.0.1", &["198.51.100.7, 203.0.113.9"], "203.0.113.9"),
            (
                "127.0.0.1",
                &["1.1.1.1,2.2.2.2 ,203.0.113.9"],
                "203.0.113.9",
            ),
            // Trusted hops are skipped, across header lines, in order.
            ("127.0.0.1", &["203.0.113.9, 10.1.2.3"], "203.0.113.9"),
            (
                "127.0.0.1",
                &["198.51.100.7", "203.0.113.9, 10.1.2.3"],
                "203.0.113.9",
            ),
            (
                "127.0.0.1",
                &["198.51.100.7, 203.0.113.9", "10.1.2.3"],
                "203.0.113.9",
            ),
            // Mapped hops are IPv4, trusted or not.
            (
                "127.0.0.1",
                &["203.0.113.9, ::ffff:10.0.0.1"],
                "203.0.113.9",
            ),
            ("127.0.0.1", &["::ffff:203.0.113.9"], "203.0.113.9"),
            // Ports and brackets.
            ("127.0.0.1", &["203.0.113.9:4711"], "203.0.113.9"),
            ("127.0.0.1", &["[2001:db8::1]:4711"], "2001:db8::1"),
            ("127.0.0.1", &["[2001:db8::1]"], "2001:db8::1"),
            ("127.0.0.1", &["2001:db8::1"], "2001:db8::1"),
            // Every hop trusted: the leftmost.
            ("127.0.0.1", &["10.0.0.2, 10.0.0.3"], "10.0.0.2"),
            // Empty items are skipped; an empty or absent header leaves the peer.
            ("127.0.0.1", &["203.0.113.9,, "], "203.0.113.9"),
            ("127.0.0.1", &[""], "127.0.0.1"),
            ("127.0.0.1", none, "127.0.0.1"),
            // Garbage ends the walk at the last trusted address.
            ("127.0.0.1", &["203.0.113.9, garbage"], "127.0.0.1"),
            ("127.0.0.1", &["203.0.113.9, garbage, 10.0.0.5"], "10.0.0.5"),
            ("127.0.0.1", &["garbage, 203.0.113.9"], "203.0.113.9"),
            ("127.0.0.1", &["unknown"], "127.0.0.1"),
            ("127.0.0.1", &["203.0.113.9:99999"], "127.0.0.1"),
            ("127.0.0.1", &["[2001:db8::1]x"], "127.0.0.1"),
            ("127.0.0.1", &["fe80::1%eth0"], "127.0.0.1"),
            ("127.0.0.1", &["1.2.3"], "127.0.0.1"),
        ] {
            assert_eq!(resolve(peer, xff, &[]), ip(client), "{peer} {xff:?}");
        }
    }

    #[test]
    fn forwarded_is_read_the_same_way_when_x_forwarded_for_is_absent() {
        for (fwd, client) in [
            (&["for=203.0.113.9"][..], "203.0.113.9"),
            (&["For=\"203.0.113.9:80\";proto=https"], "203.0.113.9"),
            (&["for=\"[2001:db8::1]:4711\""], "2001:db8::1"),
            (
                &["for=198.51.100.7, for=203.0.113.9;by=10.0.0.1"],
                "203.0.113.9",
            ),
            (
                &["for=198.51.100.7", "proto=http;FOR=203.0.113.9"],
                "203.0.113.9",
            ),
            (&["for=203.0.113.9, for=10.0.0.2"], "203.0.113.9"),
            (&["for=10.0.0.3, for=10.0.0.2"], "10.0.0.3"),
            // Not addresses: the walk ends at the last trusted address.
            (&["for=unknown"], "127.0.0.1"),
            (&["for=203.0.113.9, for=_hidden"], "127.0.0.1"),
            (&["for=203.0.113.9, for=_hidden, for=10.0.0.2"], "10.0.0.2"),
            (&["proto=https"], "127.0.0.1"),
            (&["for=203.0.113.9;for=198.51.100.7"], "127.0.0.1"),
            (&["for=\"203.0.113.9"], "127.0.0.1"),
            (&["for=\"a,for=203.0.113.9\""], "127.0.0.1"),
            (&["garbage"], "127.0.0.1"),
        ] {
            assert_eq!(resolve("127.0.0.1", &[], fwd), ip(client), "{fwd:?}");
        }
        // X-Forwarded-For wins when both are present.
        assert_eq!(
            resolve("127.0.0.1", &["203.0.113.9"], &["for=198.51.100.7"]),
            ip("203.0.113.9")
        );
        // An untrusted peer's Forwarded is ignored too.
        assert_eq!(
            resolve("203.0.113.1", &[], &["for=198.51.100.7"]),
            ip("203.0.113.1")
        );
    }

    #[test]
    fn non_text_lines_end_the_walk() {
        let trusted = nets("127.0.0.1,10.0.0.0/8");
        let lines: [&[u8]; 2] = [b"203.0.113.9", b"\xff, 10.0.0.2"];
        assert_eq!(
            client_ip(ip("127.0.0.1"), &trusted, &lines, &[]),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn only_the_rightmost_hops_are_read() {
        let trusted = nets("10.0.0.0/8");
        let peer = ip("10.255.255.254");
        let chain = |hops: usize| {
            let mut items: Vec<String> = vec!["203.0.113.9".into()];
            items.extend((1..hops).map(|i| format!("10.0.{}.{}", i / 256, i % 256)));
            items.join(",")
        };
        let walk = |line: &str| client_ip(peer, &trusted, &[line.as_bytes()], &[]);
        assert_eq!(walk(&chain(MAX_HOPS)), ip("203.0.113.9"));
        // One hop too many: the walk stops at the last trusted hop it read.
        assert_eq!(walk(&chain(MAX_HOPS + 1)), ip("10.0.0.1"));
        // A chain over the byte limit likewise: here its first hop is already too long.
        let padded = format!("203.0.113.9,{}10.0.0.7", " ".repeat(MAX_CHAIN_BYTES));
        assert_eq!(walk(&padded), peer);
    }
}
