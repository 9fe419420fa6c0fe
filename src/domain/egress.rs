//! Where outbound deliveries may go: the defence against server-side request forgery (SSRF).
//!
//! A destination URL is chosen by an admin, but its host is resolved by whatever DNS says at
//! the time, so a delivery could otherwise be aimed at the gateway's own loopback interface, a
//! cloud metadata service (`169.254.169.254`), or the private network it runs in. The defence
//! has two steps, both pure and both here:
//!
//! 1. When a destination is created or changed, [`DestinationUrl::parse`] accepts only
//!    `http`/`https` URLs of a plain shape and refuses, with a message for a 422, a host that is
//!    a refused address literal or a `localhost` name. Hostnames cannot be vetted yet: DNS may
//!    answer differently at every attempt.
//! 2. At every attempt the caller resolves the host and [`pick`]s the first resolved address
//!    that [`vet`] accepts, then connects to *that* address itself, sending the original
//!    [`DestinationUrl::host_for_header`] (and the domain as TLS server name). Because the
//!    vetted address is the one connected to, a DNS answer that changes between the check and
//!    the connection (DNS rebinding) cannot slip through. Redirects are never followed.
//!
//! [`vet`] refuses every address that is not ordinary public unicast: loopback, private,
//! link-local, carrier-grade NAT, multicast, broadcast, unspecified, documentation,
//! benchmarking and reserved ranges of IPv4 and IPv6 (the tables `V4_BLOCKS` and `V6_BLOCKS`
//! below), unless the address lies in one of the operator's `--destination-allow` networks.
//!
//! IPv6 forms that carry an IPv4 address are judged by what they lead to:
//! - IPv4-mapped (`::ffff:0:0/96`) and NAT64 (`64:ff9b::/96`) addresses are vetted as the IPv4
//!   address they embed, so `::ffff:127.0.0.1` is loopback and `64:ff9b::808:808` is fine.
//! - 6to4 (`2002::/16`) and Teredo (`2001::/32`) are refused outright. Both are deprecated
//!   tunnels whose traffic leaves through relays toward addresses derived from the embedded
//!   IPv4 (obfuscated, for Teredo); no real webhook endpoint lives there, and refusing is
//!   simpler to reason about than vetting each embedding.
//! - IPv4-compatible addresses (`::/96`, deprecated since 2006) are refused.

use std::{
    error::Error,
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
};

use super::net::{IpNet, is_in};

/// The kind of address space a refused address lies in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// `0.0.0.0`, `::`: on many systems a connection to it reaches the host itself.
    Unspecified,
    /// `0.0.0.0/8`, "this network".
    ThisNetwork,
    Loopback,
    /// RFC 1918: `10/8`, `172.16/12`, `192.168/16`.
    Private,
    /// Carrier-grade NAT, shared address space: `100.64/10`.
    Cgnat,
    LinkLocal,
    /// `fec0::/10`, deprecated site-local IPv6.
    SiteLocal,
    /// `fc00::/7`, the IPv6 counterpart of private addresses.
    UniqueLocal,
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// Ranges reserved for examples: `192.0.2/24`, `2001:db8::/32`, …
    Documentation,
    /// `198.18/15`, for benchmarking network devices.
    Benchmarking,
    /// Reserved by the IETF or IANA, or no longer in use.
    Reserved,
    /// `100::/64`, the IPv6 discard prefix.
    Discard,
    /// `2001::/32`, the Teredo tunnel.
    Teredo,
    /// `2002::/16`, the 6to4 tunnel.
    SixToFour,
    /// `::/96`, IPv4-compatible IPv6 (deprecated).
    Ipv4Compatible,
    /// There was no address at all: [`pick`] from an empty list.
    NoAddress,
}

impl Class {
    /// A short, stable name: `loopback`, `private`, `link-local`, `cgnat`, …
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Unspecified => "unspecified",
            Class::ThisNetwork => "this-network",
            Class::Loopback => "loopback",
            Class::Private => "private",
            Class::Cgnat => "cgnat",
            Class::LinkLocal => "link-local",
            Class::SiteLocal => "site-local",
            Class::UniqueLocal => "unique-local",
            Class::Multicast => "multicast",
            Class::Broadcast => "broadcast",
            Class::Documentation => "documentation",
            Class::Benchmarking => "benchmarking",
            Class::Reserved => "reserved",
            Class::Discard => "discard",
            Class::Teredo => "teredo",
            Class::SixToFour => "6to4",
            Class::Ipv4Compatible => "ipv4-compatible",
            Class::NoAddress => "no-address",
        }
    }

    /// The kind of address in words, with its article: "a private address".
    fn noun(self) -> &'static str {
        match self {
            Class::Unspecified => "the unspecified address",
            Class::ThisNetwork => "a \"this network\" address",
            Class::Loopback => "a loopback address",
            Class::Private => "a private address",
            Class::Cgnat => "a carrier-grade NAT address",
            Class::LinkLocal => "a link-local address",
            Class::SiteLocal => "a site-local address",
            Class::UniqueLocal => "a unique-local address",
            Class::Multicast => "a multicast address",
            Class::Broadcast => "the broadcast address",
            Class::Documentation => "a documentation address",
            Class::Benchmarking => "a benchmarking address",
            Class::Reserved => "a reserved address",
            Class::Discard => "a discard-only address",
            Class::Teredo => "a Teredo tunnel address",
            Class::SixToFour => "a 6to4 tunnel address",
            Class::Ipv4Compatible => "an IPv4-compatible IPv6 address",
            Class::NoAddress => "no address at all",
        }
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an IPv6 address carried the IPv4 address that was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Embedding {
    /// `::ffff:0:0/96`
    Ipv4Mapped,
    /// `64:ff9b::/96`, the well-known NAT64 prefix.
    Nat64,
}

impl Embedding {
    /// `ipv4-mapped` or `nat64`.
    pub fn as_str(self) -> &'static str {
        match self {
            Embedding::Ipv4Mapped => "ipv4-mapped",
            Embedding::Nat64 => "nat64",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Embedding::Ipv4Mapped => "an IPv4-mapped IPv6 address (::ffff:0:0/96)",
            Embedding::Nat64 => "a NAT64 address (64:ff9b::/96)",
        }
    }
}

/// Why a delivery may not go to an address.
///
/// `Display` says it in words, for messages and logs: "a private address (10.0.0.0/8)",
/// "a loopback address (127.0.0.0/8) inside an IPv4-mapped IPv6 address (::ffff:0:0/96)".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Refused {
    class: Class,
    range: &'static str,
    via: Option<Embedding>,
}

impl Refused {
    const NO_ADDRESS: Refused = Refused {
        class: Class::NoAddress,
        range: "",
        via: None,
    };

    /// The kind of address space.
    pub fn class(&self) -> Class {
        self.class
    }

    /// The refused block the address lies in, as a CIDR (`10.0.0.0/8`); for an embedded IPv4
    /// address, the IPv4 block. Empty only for [`Class::NoAddress`].
    pub fn range(&self) -> &'static str {
        self.range
    }

    /// The IPv6 form that carried the refused IPv4 address, if any.
    pub fn via(&self) -> Option<Embedding> {
        self.via
    }

    /// A short reason for logs and error fields: `private`, `link-local`,
    /// `ipv4-mapped loopback`, `nat64 private`.
    pub fn reason(&self) -> String {
        match self.via {
            Some(via) => format!("{} {}", via.as_str(), self.class.as_str()),
            None => self.class.as_str().to_string(),
        }
    }
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.class == Class::NoAddress {
            return f.write_str("no address to connect to");
        }
        write!(f, "{} ({})", self.class.noun(), self.range)?;
        if let Some(via) = self.via {
            write!(f, " inside {}", via.noun())?;
        }
        Ok(())
    }
}

impl Error for Refused {}

/// One refused block of addresses. `range` is the same block as text, for messages; a test
/// checks that the two agree.
#[derive(Debug)]
struct Block<A> {
    net: A,
    prefix: u8,
    class: Class,
    range: &'static str,
}

const fn b4(net: [u8; 4], prefix: u8, class: Class, range: &'static str) -> Block<Ipv4Addr> {
    let [a, b, c, d] = net;
    Block {
        net: Ipv4Addr::new(a, b, c, d),
        prefix,
        class,
        range,
    }
}

/// An IPv6 block from the leading segments of its network (the rest are zero).
const fn b6(lead: &[u16], prefix: u8, class: Class, range: &'static str) -> Block<Ipv6Addr> {
    let mut segments = [0u16; 8];
    let mut i = 0;
    while i < lead.len() && i < 8 {
        segments[i] = lead[i];
        i += 1;
    }
    let [a, b, c, d, e, f, g, h] = segments;
    Block {
        net: Ipv6Addr::new(a, b, c, d, e, f, g, h),
        prefix,
        class,
        range,
    }
}

/// The refused IPv4 blocks (IANA's special-purpose registry, RFC 6890 and successors); the
/// first block that contains an address names its class. Everything else is public unicast.
#[rustfmt::skip]
const V4_BLOCKS: &[Block<Ipv4Addr>] = &[
    b4([255, 255, 255, 255], 32, Class::Broadcast,     "255.255.255.255/32"),
    b4([0, 0, 0, 0],          32, Class::Unspecified,   "0.0.0.0/32"),
    b4([0, 0, 0, 0],           8, Class::ThisNetwork,   "0.0.0.0/8"),
    b4([10, 0, 0, 0],          8, Class::Private,       "10.0.0.0/8"),
    b4([100, 64, 0, 0],       10, Class::Cgnat,         "100.64.0.0/10"),
    b4([127, 0, 0, 0],         8, Class::Loopback,      "127.0.0.0/8"),
    b4([169, 254, 0, 0],      16, Class::LinkLocal,     "169.254.0.0/16"),
    b4([172, 16, 0, 0],       12, Class::Private,       "172.16.0.0/12"),
    // IETF protocol assignments (DS-Lite, PCP and TURN anycast, …): never a webhook endpoint.
    b4([192, 0, 0, 0],        24, Class::Reserved,      "192.0.0.0/24"),
    b4([192, 0, 2, 0],        24, Class::Documentation, "192.0.2.0/24"),
    // The deprecated 6to4 relay anycast prefix.
    b4([192, 88, 99, 0],      24, Class::Reserved,      "192.88.99.0/24"),
    b4([192, 168, 0, 0],      16, Class::Private,       "192.168.0.0/16"),
    b4([198, 18, 0, 0],       15, Class::Benchmarking,  "198.18.0.0/15"),
    b4([198, 51, 100, 0],     24, Class::Documentation, "198.51.100.0/24"),
    b4([203, 0, 113, 0],      24, Class::Documentation, "203.0.113.0/24"),
    b4([224, 0, 0, 0],         4, Class::Multicast,     "224.0.0.0/4"),
    b4([240, 0, 0, 0],         4, Class::Reserved,      "240.0.0.0/4"),
];

/// The refused IPv6 blocks, first match wins. IPv4-mapped and NAT64 addresses are handled
/// before this table (see the module documentation). Its `::/3`, `4000::/2` and `8000::/1`
/// entries refuse everything outside `2000::/3`, the only block IANA has opened for global
/// unicast, after the more specific blocks within them.
#[rustfmt::skip]
const V6_BLOCKS: &[Block<Ipv6Addr>] = &[
    b6(&[],                   128, Class::Unspecified,    "::/128"),
    b6(&[0, 0, 0, 0, 0, 0, 0, 1], 128, Class::Loopback,   "::1/128"),
    b6(&[],                    96, Class::Ipv4Compatible, "::/96"),
    // Local-use NAT64 (RFC 8215): translates into the operator's own networks.
    b6(&[0x64, 0xff9b, 1],     48, Class::Reserved,       "64:ff9b:1::/48"),
    b6(&[0x100],               64, Class::Discard,        "100::/64"),
    b6(&[],                     3, Class::Reserved,       "::/3"),
    b6(&[0x2001],              32, Class::Teredo,         "2001::/32"),
    // IETF protocol assignments: benchmarking, ORCHID, AMT, AS112, …
    b6(&[0x2001],              23, Class::Reserved,       "2001::/23"),
    b6(&[0x2001, 0xdb8],       32, Class::Documentation,  "2001:db8::/32"),
    b6(&[0x2002],              16, Class::SixToFour,      "2002::/16"),
    b6(&[0x3fff],              20, Class::Documentation,  "3fff::/20"),
    b6(&[0x4000],               2, Class::Reserved,       "4000::/2"),
    b6(&[0xfc00],               7, Class::UniqueLocal,    "fc00::/7"),
    b6(&[0xfe80],              10, Class::LinkLocal,      "fe80::/10"),
    b6(&[0xfec0],              10, Class::SiteLocal,      "fec0::/10"),
    b6(&[0xff00],               8, Class::Multicast,      "ff00::/8"),
    b6(&[0x8000],               1, Class::Reserved,       "8000::/1"),
];

fn in_v4(ip: Ipv4Addr, net: Ipv4Addr, prefix: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
    ip.to_bits() & mask == net.to_bits()
}

fn in_v6(ip: Ipv6Addr, net: Ipv6Addr, prefix: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
    ip.to_bits() & mask == net.to_bits()
}

fn refusal<A: Copy>(blocks: &[Block<A>], contains: impl Fn(A, u8) -> bool) -> Result<(), Refused> {
    match blocks.iter().find(|b| contains(b.net, b.prefix)) {
        Some(b) => Err(Refused {
            class: b.class,
            range: b.range,
            via: None,
        }),
        None => Ok(()),
    }
}

/// The IPv4 address an IPv4-mapped or NAT64 address leads to.
fn embedded_v4(ip: Ipv6Addr) -> Option<(Ipv4Addr, Embedding)> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some((v4, Embedding::Ipv4Mapped));
    }
    let [a, b, c, d, e, f, _, _] = ip.segments();
    let [.., w, x, y, z] = ip.octets();
    ([a, b, c, d, e, f] == [0x64, 0xff9b, 0, 0, 0, 0])
        .then_some((Ipv4Addr::new(w, x, y, z), Embedding::Nat64))
}

/// Whether a delivery may connect to `addr`: yes when it lies in one of `allow` (the
/// `--destination-allow` networks), otherwise only when it is ordinary public unicast. See the
/// module documentation for what is refused; IPv4-mapped and NAT64 addresses are vetted as the
/// IPv4 address they embed, allow-list included (allowing `10.0.0.0/8` lets
/// `64:ff9b::a01:203` through, since it leads to `10.1.2.3`).
pub fn vet(addr: IpAddr, allow: &[IpNet]) -> Result<(), Refused> {
    if is_in(allow, addr) {
        return Ok(());
    }
    match addr {
        IpAddr::V4(v4) => refusal(V4_BLOCKS, |net, prefix| in_v4(v4, net, prefix)),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some((v4, via)) => vet(IpAddr::V4(v4), allow).map_err(|refused| Refused {
                via: Some(via),
                ..refused
            }),
            None => refusal(V6_BLOCKS, |net, prefix| in_v6(v6, net, prefix)),
        },
    }
}

/// The address to connect to, among those the destination's host resolved to: the first one
/// `vet` accepts, so a delivery never connects to an unvetted address. When all are refused,
/// the refusal of the first one; an empty list is refused as [`Class::NoAddress`] (callers that
/// want to report an empty DNS answer differently check for it first).
pub fn pick(resolved: &[IpAddr], allow: &[IpNet]) -> Result<IpAddr, Refused> {
    let mut first = None;
    for &ip in resolved {
        match vet(ip, allow) {
            Ok(()) => return Ok(ip),
            Err(refused) => {
                first.get_or_insert(refused);
            }
        }
    }
    Err(first.unwrap_or(Refused::NO_ADDRESS))
}

/// Longest destination URL, in bytes.
pub const MAX_URL_LEN: usize = 2048;

/// Longest host name (RFC 1035), without a trailing dot.
const MAX_DOMAIN_LEN: usize = 253;

/// The scheme of a destination URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    /// `http` or `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    /// 80 or 443.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The host of a destination URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A host name: lower-case ASCII letters, digits, `-` and `_` in dot-separated labels,
    /// without a trailing dot. It is resolved at every attempt and the answer vetted then.
    Domain(String),
    /// An address literal, already vetted when the URL was parsed.
    Ip(IpAddr),
}

impl fmt::Display for Host {
    /// As written in a URL: an IPv6 address in brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(name) => f.write_str(name),
            Host::Ip(IpAddr::V4(v4)) => write!(f, "{v4}"),
            Host::Ip(IpAddr::V6(v6)) => write!(f, "[{v6}]"),
        }
    }
}

/// A destination URL that is safe to store and to deliver to: `http` or `https`, a host
/// without credentials, and no literal address that `vet` refuses.
///
/// `Display` writes it back in normal form: scheme and host lower-case, a trailing dot of the
/// host and a default port left out, the path at least `/`. Parsing that form again gives the
/// same value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DestinationUrl {
    scheme: Scheme,
    host: Host,
    port: u16,
    path_and_query: String,
}

impl DestinationUrl {
    /// Parse and vet a destination URL; the error is a message for a violation of the field
    /// `url` ("must not contain a user name or password …"). The rules:
    ///
    /// - At most `MAX_URL_LEN` bytes; surrounding blanks are trimmed, other whitespace and
    ///   control characters are refused, and so is `\` (parsers disagree on what it means).
    /// - `http://` or `https://` (any case), then a host: required, without `user:pass@`
    ///   (credentials would end up in logs and listings).
    /// - A host name is ASCII (internationalised names in their `xn--` form), lower-cased, made
    ///   of letters, digits, `-` and `_`; a trailing dot is dropped. `localhost` and
    ///   `*.localhost` are loopback names, accepted only when `allow` lets a loopback address
    ///   (`127.0.0.1` or `::1`) through.
    /// - A host whose last label is a number (`2130706433`, `0x7f.1`, `127.1`, `0177.0.0.1`)
    ///   must be a plain dotted quad (`192.0.2.1`): other numeric forms are read as addresses
    ///   by some resolvers and as names by others.
    /// - An address literal (`192.0.2.1`, `[2001:db8::1]`) must pass `vet` with `allow`.
    /// - The port, when given, is 1 to 65535 in decimal; the default is 80 or 443.
    /// - The path and query are ASCII URL characters with well-formed `%` escapes.
    /// - A `#fragment` is refused rather than dropped: it is never sent to the server, so
    ///   writing one is a mistake worth pointing out, and the stored URL is then exactly what
    ///   the admin wrote, up to normal form.
    pub fn parse(raw: &str, allow: &[IpNet]) -> Result<DestinationUrl, String> {
        let raw = raw.trim_matches(|c: char| c.is_ascii_whitespace());
        if raw.is_empty() {
            return Err("is required".into());
        }
        if raw.len() > MAX_URL_LEN {
            return Err(format!("must be at most {MAX_URL_LEN} characters"));
        }
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("must not contain spaces or control characters".into());
        }
        if raw.contains('\\') {
            return Err("must not contain a backslash (\\)".into());
        }

        let (scheme, rest) = raw
            .split_once("://")
            .ok_or("must start with http:// or https://")?;
        let scheme = if scheme.eq_ignore_ascii_case("http") {
            Scheme::Http
        } else if scheme.eq_ignore_ascii_case("https") {
            Scheme::Https
        } else {
            return Err("must start with http:// or https://".into());
        };

        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if authority.contains('@') {
            return Err("must not contain a user name or password (user:pass@); \
                        they would be written to logs"
                .into());
        }
        let (host, port) = host_and_port(authority, scheme, allow)?;

        if tail.contains('#') {
            return Err("must not have a #fragment: it is never sent to the server".into());
        }
        check_path_and_query(tail)?;
        let path_and_query = if tail.starts_with('/') {
            tail.to_string()
        } else {
            format!("/{tail}")
        };

        Ok(DestinationUrl {
            scheme,
            host,
            port,
            path_and_query,
        })
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The port to connect to, the scheme's default when the URL gave none.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The request target: the path, at least `/`, and the query if any.
    pub fn path_and_query(&self) -> &str {
        &self.path_and_query
    }

    /// The URL's authority in normal form: the host (an IPv6 address in brackets) and the port
    /// when it is not the scheme's default. `example.com`, `example.com:8443`,
    /// `[2001:db8::1]:8080`.
    pub fn authority(&self) -> String {
        if self.port == self.scheme.default_port() {
            self.host.to_string()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The `Host` header to send, also when connecting to a resolved address: the authority
    /// (RFC 9110 §7.2).
    pub fn host_for_header(&self) -> String {
        self.authority()
    }

    /// Where to connect once `ip` has been picked (see [`pick`]) for the host.
    pub fn socket_addr(&self, ip: IpAddr) -> SocketAddr {
        SocketAddr::new(ip, self.port)
    }
}

impl fmt::Display for DestinationUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}{}",
            self.scheme,
            self.authority(),
            self.path_and_query
        )
    }
}

/// The host and port of an authority (`example.com:8080`, `[::1]`), the host vetted.
fn host_and_port(authority: &str, scheme: Scheme, allow: &[IpNet]) -> Result<(Host, u16), String> {
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (literal, after) = bracketed
            .split_once(']')
            .ok_or("has an IPv6 address without its closing ]")?;
        let ip: Ipv6Addr = literal
            .parse()
            .map_err(|_| "has an invalid IPv6 address between [ and ]")?;
        if !(after.is_empty() || after.starts_with(':')) {
            return Err("may only have :port after the ] of an IPv6 address".into());
        }
        (Host::Ip(IpAddr::V6(ip)), after)
    } else {
        if authority.matches(':').count() > 1 && authority.parse::<Ipv6Addr>().is_ok() {
            return Err(
                "must write an IPv6 address in brackets, like http://[2001:db8::1]/".into(),
            );
        }
        let (name, port) = authority.split_at(authority.find(':').unwrap_or(authority.len()));
        (host_name(name)?, port)
    };
    let port = match port.strip_prefix(':') {
        None => scheme.default_port(),
        Some(digits) => digits
            .parse::<u16>()
            .ok()
            .filter(|&p| p != 0 && digits.bytes().all(|b| b.is_ascii_digit()))
            .ok_or("must have a port from 1 to 65535")?,
    };
    match &host {
        Host::Ip(ip) => vet(*ip, allow)
            .map_err(|r| format!("points at {r}; allow it with --destination-allow"))?,
        Host::Domain(name) if is_localhost(name) => {
            let loopback = [
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::LOCALHOST),
            ];
            if pick(&loopback, allow).is_err() {
                return Err("points at localhost, a loopback name (127.0.0.0/8, ::1); \
                            allow it with --destination-allow"
                    .into());
            }
        }
        Host::Domain(_) => {}
    }
    Ok((host, port))
}

/// A host that is not in brackets: a name, or a dotted-quad IPv4 address.
fn host_name(raw: &str) -> Result<Host, String> {
    if raw.is_empty() {
        return Err("must have a host, like https://example.com/hooks".into());
    }
    if !raw.is_ascii() {
        return Err(
            "must have an ASCII host name; write an internationalised name \
                    in its xn-- form"
                .into(),
        );
    }
    let name = raw.to_ascii_lowercase();
    let name = name.strip_suffix('.').unwrap_or(&name);
    if name.len() > MAX_DOMAIN_LEN {
        return Err(format!(
            "must have a host name of at most {MAX_DOMAIN_LEN} characters"
        ));
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(
                "must have a host name of dot-separated labels of 1 to 63 characters".into(),
            );
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err("must have a host name of letters, digits, - and _".into());
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("must have a host name whose labels neither start nor end with -".into());
        }
    }
    let last = name.rsplit('.').next().unwrap_or(name);
    if is_numeric_label(last) {
        return match name.parse::<Ipv4Addr>() {
            Ok(v4) => Ok(Host::Ip(IpAddr::V4(v4))),
            Err(_) => Err(format!(
                "has a host that looks like an IP address in an unusual form ({name}); \
                 write IPv4 addresses as four decimal numbers, like 192.0.2.10"
            )),
        };
    }
    Ok(Host::Domain(name.to_string()))
}

/// Whether a label reads as a number to the IPv4 parsers of URL libraries and `inet_aton`:
/// decimal (octal with a leading 0), or hexadecimal after `0x`, even an empty one.
fn is_numeric_label(label: &str) -> bool {
    match label.strip_prefix("0x") {
        Some(hex) => hex.bytes().all(|b| b.is_ascii_hexdigit()),
        None => label.bytes().all(|b| b.is_ascii_digit()),
    }
}

/// `localhost` and the names under it (RFC 6761), lower-case and without a trailing dot.
fn is_localhost(name: &str) -> bool {
    name == "localhost" || name.ends_with(".localhost")
}

/// The path and query: ASCII URL characters (RFC 3986, plus `[` and `]` which query strings
/// commonly carry unescaped), and `%` only as the start of a two-digit hex escape.
fn check_path_and_query(raw: &str) -> Result<(), String> {
    let bytes = raw.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let escape = bytes.get(i + 1..i + 3);
            if !escape.is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)) {
                return Err("has a % that does not start an escape like %20".into());
            }
            i += 3;
            continue;
        }
        if !b.is_ascii() {
            return Err("must be ASCII after the host; percent-encode other characters".into());
        }
        if !(b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?[]".contains(&b)) {
            return Err(format!(
                "has a character that must be percent-encoded: {}",
                char::from(b)
            ));
        }
        i += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::net::parse_nets;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|_| panic!("bad test address {s}"))
    }

    fn nets(s: &str) -> Vec<IpNet> {
        parse_nets(s).unwrap()
    }

    fn url(raw: &str) -> Result<DestinationUrl, String> {
        DestinationUrl::parse(raw, &[])
    }

    /// Each of the space-separated `addrs` is refused with the short reason `reason` and the
    /// block `range`.
    fn assert_refused(reason: &str, range: &str, addrs: &str) {
        for addr in addrs.split_whitespace() {
            let refused = vet(ip(addr), &[]).expect_err(addr);
            assert_eq!(refused.reason(), reason, "{addr}");
            assert_eq!(refused.range(), range, "{addr}");
        }
    }

    fn assert_passes(addrs: &str) {
        for addr in addrs.split_whitespace() {
            assert_eq!(vet(ip(addr), &[]), Ok(()), "{addr}");
        }
    }

    #[test]
    fn the_tables_say_what_they_hold() {
        for b in V4_BLOCKS {
            assert_eq!(format!("{}/{}", b.net, b.prefix), b.range);
            assert_eq!(b.range.parse::<IpNet>().unwrap().to_string(), b.range);
        }
        for b in V6_BLOCKS {
            assert_eq!(format!("{}/{}", b.net, b.prefix), b.range);
            assert_eq!(b.range.parse::<IpNet>().unwrap().to_string(), b.range);
        }
    }

    #[test]
    #[rustfmt::skip]
    fn refused_ipv4_addresses_name_their_class() {
        for (reason, range, addrs) in [
            ("unspecified",   "0.0.0.0/32",         "0.0.0.0"),
            ("this-network",  "0.0.0.0/8",          "0.0.0.1 0.1.2.3 0.255.255.255"),
            ("private",       "10.0.0.0/8",         "10.0.0.0 10.0.0.1 10.1.2.3 10.255.255.255"),
            ("cgnat",         "100.64.0.0/10",      "100.64.0.0 100.64.0.1 100.100.100.100 100.127.255.255"),
            ("loopback",      "127.0.0.0/8",        "127.0.0.0 127.0.0.1 127.1.2.3 127.255.255.255"),
            ("link-local",    "169.254.0.0/16",     "169.254.0.0 169.254.169.254 169.254.170.2 169.254.255.255"),
            ("private",       "172.16.0.0/12",      "172.16.0.0 172.17.0.1 172.20.10.5 172.31.255.255"),
            ("reserved",      "192.0.0.0/24",       "192.0.0.0 192.0.0.8 192.0.0.9 192.0.0.170 192.0.0.255"),
            ("documentation", "192.0.2.0/24",       "192.0.2.0 192.0.2.1 192.0.2.255"),
            ("reserved",      "192.88.99.0/24",     "192.88.99.0 192.88.99.1 192.88.99.255"),
            ("private",       "192.168.0.0/16",     "192.168.0.0 192.168.0.1 192.168.1.1 192.168.255.255"),
            ("benchmarking",  "198.18.0.0/15",      "198.18.0.0 198.18.0.1 198.19.255.255"),
            ("documentation", "198.51.100.0/24",    "198.51.100.0 198.51.100.7 198.51.100.255"),
            ("documentation", "203.0.113.0/24",     "203.0.113.0 203.0.113.9 203.0.113.255"),
            ("multicast",     "224.0.0.0/4",        "224.0.0.0 224.0.0.1 232.1.2.3 239.255.255.250 239.255.255.255"),
            ("reserved",      "240.0.0.0/4",        "240.0.0.0 240.0.0.1 250.1.2.3 255.255.255.254"),
            ("broadcast",     "255.255.255.255/32", "255.255.255.255"),
        ] {
            assert_refused(reason, range, addrs);
        }
    }

    #[test]
    fn public_ipv4_addresses_pass_up_to_the_edges_of_refused_blocks() {
        assert_passes(
            "8.8.8.8 1.1.1.1 1.0.0.0 93.184.215.14 140.82.112.3 \
             9.255.255.255 11.0.0.0 100.63.255.255 100.128.0.0 126.255.255.255 128.0.0.0 \
             169.253.255.255 169.255.0.0 172.15.255.255 172.32.0.0 191.255.255.255 \
             192.0.1.0 192.0.3.0 192.88.98.255 192.88.100.0 192.167.255.255 192.169.0.0 \
             198.17.255.255 198.20.0.0 198.51.99.255 198.51.101.0 203.0.112.255 203.0.114.0 \
             223.255.255.255",
        );
    }

    #[test]
    #[rustfmt::skip]
    fn refused_ipv6_addresses_name_their_class() {
        for (reason, range, addrs) in [
            ("unspecified",     "::/128",         "::"),
            ("loopback",        "::1/128",        "::1 0:0:0:0:0:0:0:1"),
            ("ipv4-compatible", "::/96",          "::2 ::127.0.0.1 ::8.8.8.8 ::ffff:ffff"),
            ("reserved",        "64:ff9b:1::/48", "64:ff9b:1:: 64:ff9b:1::a00:1 64:ff9b:1:ffff::1"),
            ("discard",         "100::/64",       "100:: 100::1 100::ffff:ffff:ffff:ffff"),
            ("reserved",        "::/3",           "::1:0:0:0 ::ffff:0:0:0 ::ffff:1:0:0 64:ff9b::1:0:0 \
                                                   100:0:0:1:: 1000::1 1fff:ffff::1"),
            ("teredo",          "2001::/32",      "2001:: 2001:0:4136:e378:8000:63bf:3fff:fdd2 2001:0:ffff::1"),
            ("reserved",        "2001::/23",      "2001:1::1 2001:1::2 2001:2::1 2001:3::1 2001:4:112::1 \
                                                   2001:10::1 2001:20::1 2001:1ff:ffff::1"),
            ("documentation",   "2001:db8::/32",  "2001:db8:: 2001:db8::1 2001:db8:ffff:ffff::1"),
            ("6to4",            "2002::/16",      "2002:: 2002:7f00:1::1 2002:808:808::1 2002:ffff::1"),
            ("documentation",   "3fff::/20",      "3fff::1 3fff:fff:ffff::1"),
            ("reserved",        "4000::/2",       "4000::1 5f00::1 6000::1 7fff:ffff::1"),
            ("unique-local",    "fc00::/7",       "fc00:: fc00::1 fd00::1 fd00:ec2::254 fdff:ffff::1"),
            ("link-local",      "fe80::/10",      "fe80:: fe80::1 fe80::1ff:fe23:4567:890a febf:ffff::1"),
            ("site-local",      "fec0::/10",      "fec0:: fec0::1 feff:ffff::1"),
            ("multicast",       "ff00::/8",       "ff00:: ff02::1 ff05::1:3 ff0e::1 ffff:ffff::1"),
            ("reserved",        "8000::/1",       "8000::1 a000::1 e000::1 fe00::1 fe7f::1"),
        ] {
            assert_refused(reason, range, addrs);
        }
    }

    #[test]
    fn public_ipv6_addresses_pass() {
        assert_passes(
            "2001:4860:4860::8888 2606:4700:4700::1111 2a00:1450:4001:81b::200e 2620:fe::fe \
             2001:200::1 2001:db7:ffff::1 2001:db9::1 2000::1 2003::1 2c0f:fb50::1 3ffe::1 \
             3fff:1000::1 3fff:ffff::1",
        );
    }

    #[test]
    #[rustfmt::skip]
    fn embedded_ipv4_is_vetted_as_ipv4() {
        for (reason, range, addrs) in [
            ("ipv4-mapped loopback",    "127.0.0.0/8",        "::ffff:127.0.0.1 ::ffff:7f00:1 ::ffff:127.1.2.3"),
            ("ipv4-mapped private",     "10.0.0.0/8",         "::ffff:10.0.0.1 ::ffff:a01:203"),
            ("ipv4-mapped link-local",  "169.254.0.0/16",     "::ffff:169.254.169.254"),
            ("ipv4-mapped unspecified", "0.0.0.0/32",         "::ffff:0.0.0.0"),
            ("ipv4-mapped broadcast",   "255.255.255.255/32", "::ffff:255.255.255.255"),
            ("nat64 loopback",          "127.0.0.0/8",        "64:ff9b::7f00:1 64:ff9b::127.0.0.1"),
            ("nat64 link-local",        "169.254.0.0/16",     "64:ff9b::a9fe:a9fe"),
            ("nat64 private",           "192.168.0.0/16",     "64:ff9b::192.168.1.1"),
            ("nat64 cgnat",             "100.64.0.0/10",      "64:ff9b::100.64.0.1"),
            ("nat64 unspecified",       "0.0.0.0/32",         "64:ff9b::"),
        ] {
            assert_refused(reason, range, addrs);
        }
        assert_passes("::ffff:8.8.8.8 ::ffff:1.1.1.1 64:ff9b::808:808 64:ff9b::1.1.1.1");
    }

    #[test]
    #[rustfmt::skip]
    fn the_allow_list_lets_its_networks_through_and_nothing_else() {
        for (allow, addr, passes) in [
            ("10.0.0.0/8",   "10.1.2.3",         true),
            ("10.0.0.0/8",   "10.255.255.255",   true),
            ("10.0.0.0/8",   "::ffff:10.1.2.3",  true),
            ("10.0.0.0/8",   "64:ff9b::a01:203", true),
            ("10.0.0.0/8",   "192.168.1.1",      false),
            ("10.0.0.0/8",   "172.16.0.1",       false),
            ("10.0.0.0/8",   "127.0.0.1",        false),
            ("10.0.0.0/8",   "::1",              false),
            ("10.0.0.0/8",   "fd00::1",          false),
            ("10.1.0.0/16",  "10.1.9.9",         true),
            ("10.1.0.0/16",  "10.2.0.1",         false),
            ("127.0.0.1",    "127.0.0.1",        true),
            ("127.0.0.1",    "::ffff:127.0.0.1", true),
            ("127.0.0.1",    "127.0.0.2",        false),
            ("127.0.0.1",    "::1",              false),
            ("::1/128",      "::1",              true),
            ("::1/128",      "127.0.0.1",        false),
            ("::1/128",      "::2",              false),
            ("fd00::/8",     "fd12:3456::1",     true),
            ("fd00::/8",     "fc00::1",          false),
            ("64:ff9b::/96", "64:ff9b::a00:1",   true),
            ("2002::/16",    "2002:808:808::1",  true),
            ("100.64.0.0/10, 169.254.169.254", "100.100.0.1",     true),
            ("100.64.0.0/10, 169.254.169.254", "169.254.169.254", true),
            ("100.64.0.0/10, 169.254.169.254", "169.254.169.253", false),
            // The allow-list only widens: public addresses pass regardless.
            ("10.0.0.0/8",   "8.8.8.8",          true),
            ("::1/128",      "2001:4860::8888",  true),
        ] {
            let got = vet(ip(addr), &nets(allow));
            assert_eq!(got.is_ok(), passes, "allow {allow}, {addr}: {got:?}");
        }
    }

    /// Every address that one of std's stable predicates calls special is refused with the
    /// same class, over a sweep of IPv4 (also IPv4-mapped) and of IPv6 prefixes.
    #[test]
    fn std_predicates_agree() {
        let edges = [
            0, 1, 2, 15, 16, 17, 31, 32, 63, 64, 99, 100, 113, 127, 128, 168, 169, 254, 255,
        ];
        for (a, b, c, d) in (0..=255u8)
            .flat_map(|a| edges.map(|b| (a, b)))
            .flat_map(|(a, b)| [0, 2, 99, 100, 255].map(|c| (a, b, c)))
            .flat_map(|(a, b, c)| [0, 1, 255].map(|d| (a, b, c, d)))
        {
            let v4 = Ipv4Addr::new(a, b, c, d);
            let got = vet(IpAddr::V4(v4), &[]).err().map(|r| r.class());
            let expected = [
                (v4.is_broadcast(), Class::Broadcast),
                (v4.is_unspecified(), Class::Unspecified),
                (v4.is_loopback(), Class::Loopback),
                (v4.is_private(), Class::Private),
                (v4.is_link_local(), Class::LinkLocal),
                (v4.is_documentation(), Class::Documentation),
                (v4.is_multicast(), Class::Multicast),
            ]
            .into_iter()
            .find_map(|(is, class)| is.then_some(class));
            if expected.is_some() {
                assert_eq!(got, expected, "{v4}");
            }
            let mapped = IpAddr::V6(v4.to_ipv6_mapped());
            let mapped_got = vet(mapped, &[]).err().map(|r| r.class());
            assert_eq!(mapped_got, got, "{mapped}");
        }
        let firsts = (0..=0xffffu16).step_by(0x40).chain([
            0x1fff, 0x2000, 0x3fff, 0x4000, 0xfe80, 0xfebf, 0xfec0, 0xff02,
        ]);
        for first in firsts {
            for [b, c, d, e, f, g, h] in [[0u16; 7], [0, 0, 0, 0, 0, 0, 1], [0xffff; 7]] {
                let v6 = Ipv6Addr::new(first, b, c, d, e, f, g, h);
                let got = vet(IpAddr::V6(v6), &[]).err().map(|r| r.class());
                let expected = [
                    (v6.is_unspecified(), Class::Unspecified),
                    (v6.is_loopback(), Class::Loopback),
                    (v6.is_multicast(), Class::Multicast),
                    (v6.is_unique_local(), Class::UniqueLocal),
                    (v6.is_unicast_link_local(), Class::LinkLocal),
                ]
                .into_iter()
                .find_map(|(is, class)| is.then_some(class));
                if expected.is_some() {
                    assert_eq!(got, expected, "{v6}");
                }
                if !(0x2000..0x4000).contains(&first) {
                    assert!(got.is_some(), "{v6} is outside 2000::/3");
                }
            }
        }
    }

    #[test]
    fn refusals_read_well() {
        let say = |addr: &str| vet(ip(addr), &[]).unwrap_err().to_string();
        assert_eq!(say("10.1.2.3"), "a private address (10.0.0.0/8)");
        assert_eq!(say("0.0.0.0"), "the unspecified address (0.0.0.0/32)");
        assert_eq!(say("fd00::1"), "a unique-local address (fc00::/7)");
        assert_eq!(say("::2"), "an IPv4-compatible IPv6 address (::/96)");
        assert_eq!(
            say("::ffff:127.0.0.1"),
            "a loopback address (127.0.0.0/8) inside an IPv4-mapped IPv6 address (::ffff:0:0/96)"
        );
        assert_eq!(
            say("64:ff9b::a00:1"),
            "a private address (10.0.0.0/8) inside a NAT64 address (64:ff9b::/96)"
        );
        let refused = vet(ip("64:ff9b::a00:1"), &[]).unwrap_err();
        assert_eq!(refused.class(), Class::Private);
        assert_eq!(refused.via(), Some(Embedding::Nat64));
        assert_eq!(refused.reason(), "nat64 private");
        assert_eq!(refused.class().to_string(), "private");
    }

    #[test]
    fn pick_takes_the_first_vetted_address() {
        let all = |list: &str| -> Vec<IpAddr> { list.split(' ').map(ip).collect() };
        let open = |list: &str, allow: &str| pick(&all(list), &nets(allow));
        assert_eq!(open("93.184.215.14", ""), Ok(ip("93.184.215.14")));
        assert_eq!(
            open("10.0.0.1 127.0.0.1 2001:4860::1 8.8.8.8", ""),
            Ok(ip("2001:4860::1"))
        );
        assert_eq!(open("10.0.0.1 8.8.8.8", "10.0.0.0/8"), Ok(ip("10.0.0.1")));
        assert_eq!(open("127.0.0.1 ::1", "::1"), Ok(ip("::1")));

        let refused = open("169.254.169.254 10.0.0.1 ::1", "").unwrap_err();
        assert_eq!(refused.reason(), "link-local");
        assert_eq!(refused.range(), "169.254.0.0/16");

        let refused = pick(&[], &nets("0.0.0.0/0, ::/0")).unwrap_err();
        assert_eq!(refused.class(), Class::NoAddress);
        assert_eq!(refused.to_string(), "no address to connect to");
    }

    #[test]
    #[rustfmt::skip]
    fn urls_are_parsed_into_normal_form() {
        // raw, normal form, host, port, path and query
        for (raw, normal, host, port, path) in [
            ("https://example.com/hooks", "https://example.com/hooks", "example.com", 443, "/hooks"),
            ("http://example.com", "http://example.com/", "example.com", 80, "/"),
            ("HTTPS://API.Example.COM./In?a=1&b=%2F", "https://api.example.com/In?a=1&b=%2F",
             "api.example.com", 443, "/In?a=1&b=%2F"),
            ("https://example.com?x=1", "https://example.com/?x=1", "example.com", 443, "/?x=1"),
            ("http://example.com:8080/a/b", "http://example.com:8080/a/b", "example.com", 8080, "/a/b"),
            ("http://example.com:80/", "http://example.com/", "example.com", 80, "/"),
            ("https://example.com:80/", "https://example.com:80/", "example.com", 80, "/"),
            ("https://example.com:443", "https://example.com/", "example.com", 443, "/"),
            ("http://h:1/", "http://h:1/", "h", 1, "/"),
            ("http://h:65535/", "http://h:65535/", "h", 65535, "/"),
            ("http://h:08080/", "http://h:8080/", "h", 8080, "/"),
            ("  https://example.com/x \n", "https://example.com/x", "example.com", 443, "/x"),
            ("https://my_host.internal-1.example/x", "https://my_host.internal-1.example/x",
             "my_host.internal-1.example", 443, "/x"),
            ("https://xn--bcher-kva.example/", "https://xn--bcher-kva.example/",
             "xn--bcher-kva.example", 443, "/"),
            ("https://123.example.com/", "https://123.example.com/", "123.example.com", 443, "/"),
            ("https://0x7f.example.com/", "https://0x7f.example.com/", "0x7f.example.com", 443, "/"),
            ("http://8.8.8.8/x", "http://8.8.8.8/x", "8.8.8.8", 80, "/x"),
            ("http://8.8.8.8.:81", "http://8.8.8.8:81/", "8.8.8.8", 81, "/"),
            ("https://[2001:4860:4860::8888]/x", "https://[2001:4860:4860::8888]/x",
             "[2001:4860:4860::8888]", 443, "/x"),
            ("http://[2001:4860:4860:0:0:0:0:8888]:8080", "http://[2001:4860:4860::8888]:8080/",
             "[2001:4860:4860::8888]", 8080, "/"),
            ("http://[::FFFF:8.8.8.8]/", "http://[::ffff:8.8.8.8]/", "[::ffff:8.8.8.8]", 80, "/"),
            ("https://example.com/p:a@t,h;x=(1)!*'~$+[]?q=a/b?c@d",
             "https://example.com/p:a@t,h;x=(1)!*'~$+[]?q=a/b?c@d",
             "example.com", 443, "/p:a@t,h;x=(1)!*'~$+[]?q=a/b?c@d"),
        ] {
            let parsed = url(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(parsed.to_string(), normal, "{raw}");
            assert_eq!(parsed.host().to_string(), host, "{raw}");
            assert_eq!(parsed.port(), port, "{raw}");
            assert_eq!(parsed.path_and_query(), path, "{raw}");
            assert_eq!(url(normal), Ok(parsed), "{raw} round-trips");
        }
    }

    #[test]
    fn hosts_are_domains_or_addresses() {
        let host = |raw: &str| url(raw).unwrap().host().clone();
        assert_eq!(
            host("https://Example.com./"),
            Host::Domain("example.com".into())
        );
        assert_eq!(host("http://8.8.4.4/"), Host::Ip(ip("8.8.4.4")));
        assert_eq!(
            host("http://[2606:4700::1111]/"),
            Host::Ip(ip("2606:4700::1111"))
        );
        assert_eq!(url("http://x.example/").unwrap().scheme(), Scheme::Http);
        assert_eq!(url("hTTps://x.example/").unwrap().scheme(), Scheme::Https);
    }

    #[test]
    fn the_host_header_is_the_authority() {
        for (raw, header) in [
            ("https://example.com/x", "example.com"),
            ("https://example.com:443/x", "example.com"),
            ("https://example.com:8443/x", "example.com:8443"),
            ("http://example.com:443/x", "example.com:443"),
            ("http://Example.COM./", "example.com"),
            ("http://8.8.8.8:8080/", "8.8.8.8:8080"),
            ("https://[2001:4860::1]/", "[2001:4860::1]"),
            ("https://[2001:4860::1]:8443/", "[2001:4860::1]:8443"),
        ] {
            let parsed = url(raw).unwrap();
            assert_eq!(parsed.host_for_header(), header, "{raw}");
            assert_eq!(parsed.authority(), header, "{raw}");
        }
        let parsed = url("https://hooks.example.com:8443/in").unwrap();
        let to = parsed.socket_addr(ip("2001:4860::1"));
        assert_eq!(to.to_string(), "[2001:4860::1]:8443");
        let parsed = url("http://example.com/").unwrap();
        assert_eq!(parsed.socket_addr(ip("8.8.8.8")).to_string(), "8.8.8.8:80");
    }

    #[test]
    #[rustfmt::skip]
    fn unsafe_or_malformed_urls_are_refused_in_plain_words() {
        for (raw, says) in [
            // Schemes.
            ("", "is required"),
            ("   ", "is required"),
            ("ftp://example.com/", "http:// or https://"),
            ("file:///etc/passwd", "http:// or https://"),
            ("javascript:alert(1)", "http:// or https://"),
            ("javascript://example.com/%0aalert(1)", "http:// or https://"),
            ("gopher://127.0.0.1:25/", "http:// or https://"),
            ("httpx://example.com/", "http:// or https://"),
            ("example.com/hooks", "http:// or https://"),
            ("example.com:8080/hooks", "http:// or https://"),
            ("//example.com/hooks", "http:// or https://"),
            ("http:example.com", "http:// or https://"),
            ("http:/example.com", "http:// or https://"),
            ("https:\\\\example.com", "backslash"),
            ("http://example.com\\@evil.com/", "backslash"),
            // Userinfo.
            ("https://user:pass@example.com/", "user name or password"),
            ("https://user@example.com/", "user name or password"),
            ("https://@example.com/", "user name or password"),
            ("http://example.com@127.0.0.1/", "user name or password"),
            ("http://127.0.0.1:80@example.com/", "user name or password"),
            // Blanks and controls.
            ("http://exa mple.com/", "spaces"),
            ("http://example.com/a b", "spaces"),
            ("http://example.com/\tx", "spaces"),
            ("http://example.com/\nx", "spaces"),
            ("http://example.com/\u{0}", "control"),
            ("http://example.com/\u{7f}", "control"),
            ("http://example.com/\u{a0}x", "spaces"),
            ("http://example.com/\u{2028}x", "spaces"),
            // Hosts.
            ("http://", "must have a host"),
            ("http:///path", "must have a host"),
            ("http://:8080/", "must have a host"),
            ("http://?x", "must have a host"),
            ("http://bücher.example/", "xn--"),
            ("http://例え.jp/", "xn--"),
            ("http://exa%6dple.com/", "letters, digits"),
            ("http://%31%32%37.0.0.1/", "letters, digits"),
            ("http://exa*mple.com/", "letters, digits"),
            ("http://example..com/", "labels of 1 to 63"),
            ("http://.example.com/", "labels of 1 to 63"),
            ("http://example.com../", "labels of 1 to 63"),
            ("http://./", "labels of 1 to 63"),
            ("http://-example.com/", "start nor end with -"),
            ("http://example-.com/", "start nor end with -"),
            ("http://::1/", "in brackets"),
            ("http://2001:db8::1/", "in brackets"),
            ("http://[::1/", "closing ]"),
            ("http://[not-v6]/", "invalid IPv6"),
            ("http://[127.0.0.1]/", "invalid IPv6"),
            ("http://[fe80::1%25eth0]/", "invalid IPv6"),
            ("http://[v1.fe]/", "invalid IPv6"),
            ("http://[]/", "invalid IPv6"),
            ("http://[2001:4860::1]x/", "only have :port"),
            // Numeric hosts in unusual forms.
            ("http://2130706433/", "unusual form (2130706433)"),
            ("http://0x7f.0.0.1/", "unusual form"),
            ("http://0x7f000001/", "unusual form"),
            ("http://0X7F000001/", "unusual form"),
            ("http://0177.0.0.1/", "unusual form"),
            ("http://127.1/", "unusual form"),
            ("http://127.0.1/", "unusual form"),
            ("http://8.8.8.8.8/", "unusual form"),
            ("http://08.8.8.8/", "unusual form"),
            ("http://256.1.1.1/", "unusual form"),
            ("http://1.2.3.0x4/", "unusual form"),
            ("http://example.0x/", "unusual form"),
            ("http://example.123/", "unusual form"),
            ("http://0/", "unusual form"),
            // Refused addresses.
            ("http://10.1.2.3/",
             "points at a private address (10.0.0.0/8); allow it with --destination-allow"),
            ("http://127.0.0.1:8080/", "a loopback address (127.0.0.0/8)"),
            ("http://127.0.0.1./", "a loopback address"),
            ("http://0.0.0.0/", "the unspecified address"),
            ("http://169.254.169.254/latest/meta-data/", "a link-local address"),
            ("http://100.64.0.1/", "a carrier-grade NAT address"),
            ("http://224.0.0.1/", "a multicast address"),
            ("http://255.255.255.255/", "the broadcast address"),
            ("http://192.0.2.1/", "a documentation address"),
            ("http://[::1]/", "a loopback address (::1/128)"),
            ("http://[::]/", "the unspecified address"),
            ("http://[::ffff:127.0.0.1]/",
             "a loopback address (127.0.0.0/8) inside an IPv4-mapped IPv6 address"),
            ("http://[::ffff:7f00:1]/", "a loopback address (127.0.0.0/8)"),
            ("http://[64:ff9b::a9fe:a9fe]/", "inside a NAT64 address"),
            ("http://[fd00:ec2::254]/", "a unique-local address"),
            ("http://[fe80::1]/", "a link-local address"),
            ("http://[2001:db8::1]/", "a documentation address"),
            ("http://[2002:7f00:1::1]/", "a 6to4 tunnel address"),
            ("http://[::127.0.0.1]/", "an IPv4-compatible"),
            // Loopback names.
            ("http://localhost/", "localhost, a loopback name"),
            ("http://LOCALHOST:8080/", "localhost, a loopback name"),
            ("http://localhost./", "localhost, a loopback name"),
            ("http://api.localhost/", "localhost, a loopback name"),
            ("http://a.b.localhost./", "localhost, a loopback name"),
            // Ports.
            ("http://example.com:0/", "port from 1 to 65535"),
            ("http://example.com:65536/", "port from 1 to 65535"),
            ("http://example.com:99999999999999999999/", "port from 1 to 65535"),
            ("http://example.com:/", "port from 1 to 65535"),
            ("http://example.com:+80/", "port from 1 to 65535"),
            ("http://example.com:-1/", "port from 1 to 65535"),
            ("http://example.com:http/", "port from 1 to 65535"),
            ("http://example.com:80:80/", "port from 1 to 65535"),
            ("http://[2001:4860::1]:/", "port from 1 to 65535"),
            ("http://[2001:4860::1]:0/", "port from 1 to 65535"),
            // Path, query and fragment.
            ("https://example.com/#top", "#fragment"),
            ("https://example.com/x?y=1#", "#fragment"),
            ("https://example.com#x", "#fragment"),
            ("https://example.com/caf\u{e9}", "must be ASCII after the host"),
            ("https://example.com/%", "escape like %20"),
            ("https://example.com/%2", "escape like %20"),
            ("https://example.com/%zz", "escape like %20"),
            ("https://example.com/%\u{e9}", "escape like %20"),
            ("https://example.com/a\"b", "percent-encoded: \""),
            ("https://example.com/<script>", "percent-encoded: <"),
            ("https://example.com/a{b}", "percent-encoded: {"),
            ("https://example.com/a|b", "percent-encoded: |"),
            ("https://example.com/a^b", "percent-encoded: ^"),
            ("https://example.com/a`b", "percent-encoded: `"),
        ] {
            let err = url(raw).expect_err(raw);
            assert!(err.contains(says), "{raw:?}: {err}");
        }
    }

    #[test]
    fn long_urls_and_host_names_are_refused() {
        let path = "a".repeat(MAX_URL_LEN - "https://example.com/".len());
        assert!(url(&format!("https://example.com/{path}")).is_ok());
        let err = url(&format!("https://example.com/{path}a")).unwrap_err();
        assert!(err.contains("at most 2048"), "{err}");

        let label = "a".repeat(63);
        let name = [label.as_str(); 4].join(".");
        assert_eq!(name.len(), 255);
        let err = url(&format!("https://{name}/")).unwrap_err();
        assert!(err.contains("at most 253"), "{err}");
        assert!(url(&format!("https://{}/", &name[2..])).is_ok());
        assert!(url(&format!("https://{}./", &name[2..])).is_ok());
        let err = url(&format!("https://{label}a.example/")).unwrap_err();
        assert!(err.contains("1 to 63"), "{err}");
    }

    #[test]
    fn the_allow_list_opens_literal_hosts_and_localhost() {
        let parse = |raw: &str, allow: &str| DestinationUrl::parse(raw, &nets(allow));
        assert!(parse("http://10.1.2.3/", "10.0.0.0/8").is_ok());
        assert!(parse("http://[::ffff:10.1.2.3]/", "10.0.0.0/8").is_ok());
        assert!(parse("http://192.168.1.1/", "10.0.0.0/8").is_err());
        assert!(parse("http://127.0.0.1:9000/in", "127.0.0.1/32").is_ok());
        assert!(parse("http://[::1]:9000/in", "::1/128").is_ok());
        assert!(parse("http://[::1]:9000/in", "127.0.0.1/32").is_err());
        assert!(parse("http://localhost:9000/in", "127.0.0.1/32").is_ok());
        assert!(parse("http://localhost:9000/in", "::1").is_ok());
        assert!(parse("http://app.localhost/", "127.0.0.0/8").is_ok());
        assert!(parse("http://localhost/", "10.0.0.0/8").is_err());
        // Ambiguous numeric hosts stay refused whatever is allowed.
        assert!(parse("http://2130706433/", "0.0.0.0/0").is_err());
        assert!(parse("http://127.1/", "127.0.0.0/8").is_err());
    }

    /// Whatever the input, `parse` answers without panicking.
    #[test]
    fn parsing_never_panics() {
        let pieces = [
            "http",
            "https",
            ":",
            "//",
            "/",
            "[",
            "]",
            "@",
            "?",
            "#",
            "%",
            "%2",
            ".",
            "::1",
            "127.0.0.1",
            "0x",
            "9",
            "é",
            "\u{0}",
            " ",
            "localhost",
            "a",
            "-",
            ":80",
            "\\",
            "65536",
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let count = next() % 9;
            let raw: String = (0..count)
                .map(|_| {
                    let index = usize::try_from(next()).unwrap_or(0) % pieces.len();
                    pieces[index]
                })
                .collect();
            let _ = DestinationUrl::parse(&raw, &[]);
            let _ = DestinationUrl::parse(&format!("http://{raw}"), &nets("0.0.0.0/0, ::/0"));
        }
    }
}
