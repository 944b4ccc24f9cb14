//! The egress allow-list: which hosts outbound calls may reach at all.
//!
//! An operator lists host patterns (`--fetch-allow-hosts api.example.com,*.corp.example,
//! 10.1.0.0/16`); a URL whose host matches none of them is refused before anything is sent and
//! before its name is resolved. The list narrows what the address policy allows; it never
//! widens it (a listed private address still needs `allow_private`).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use url::Host;

/// A parsed list of host patterns. Parse it from a comma-separated text with [`str::parse`].
///
/// Patterns:
/// - an exact host name, `api.example.com` (case-insensitive, IDNA-normalized as in URLs; a
///   trailing dot is ignored);
/// - `*.example.com`: every name below `example.com`, at any depth, but not `example.com`
///   itself (list it too to allow it);
/// - an IP literal, `127.0.0.1`, `::1` or `[::1]`; an IPv4 address also matches its
///   IPv4-mapped IPv6 form (`::ffff:127.0.0.1`);
/// - a CIDR block, `10.0.0.0/8`, `fd00::/8` (matches IP literals in URLs; host names are
///   matched by name only, never by the address they resolve to).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostAllowList {
    patterns: Vec<HostPattern>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    /// A lowercase ASCII name without trailing dot.
    Name(String),
    /// The part after `*.`, lowercase ASCII, without trailing dot.
    Below(String),
    /// An address, IPv4-mapped IPv6 addresses as IPv4.
    Address(IpAddr),
    /// A network (address with the host bits cleared) and its prefix length.
    Network(IpAddr, u8),
}

/// Why a list of host patterns cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HostListError(String);

impl HostAllowList {
    /// Whether a URL's host is on the list.
    pub fn allows(&self, host: &Host<&str>) -> bool {
        match host {
            Host::Domain(name) => self.allows_name(name),
            Host::Ipv4(v4) => self.allows_address(IpAddr::V4(*v4)),
            Host::Ipv6(v6) => self.allows_address(IpAddr::V6(*v6)),
        }
    }

    /// Whether a host name (as the resolver receives it) is on the list. A name that is an IP
    /// literal is matched as an address.
    pub fn allows_name(&self, name: &str) -> bool {
        let trimmed = name.trim_start_matches('[').trim_end_matches(']');
        if let Ok(address) = trimmed.parse::<IpAddr>() {
            return self.allows_address(address);
        }
        let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
        self.patterns.iter().any(|pattern| match pattern {
            HostPattern::Name(exact) => *exact == name,
            HostPattern::Below(suffix) => name
                .strip_suffix(suffix.as_str())
                .and_then(|rest| rest.strip_suffix('.'))
                .is_some_and(|label| !label.is_empty()),
            HostPattern::Address(_) | HostPattern::Network(..) => false,
        })
    }

    /// Whether an IP literal is on the list.
    pub fn allows_address(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        self.patterns.iter().any(|pattern| match pattern {
            HostPattern::Address(listed) => *listed == address,
            HostPattern::Network(network, prefix) => in_network(address, *network, *prefix),
            HostPattern::Name(_) | HostPattern::Below(_) => false,
        })
    }

    /// Localhost only: `localhost`, `127.0.0.1` and `::1` (what tests allow).
    pub fn loopback() -> Self {
        Self {
            patterns: vec![
                HostPattern::Name("localhost".into()),
                HostPattern::Address(IpAddr::from([127, 0, 0, 1])),
                HostPattern::Address(IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1])),
            ],
        }
    }
}

impl FromStr for HostAllowList {
    type Err = HostListError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let patterns = text
            .split(',')
            .map(str::trim)
            .map(|entry| {
                parse_pattern(entry).map_err(|reason| {
                    HostListError(if entry.is_empty() {
                        format!("the host list has an empty entry: {reason}")
                    } else {
                        format!("{entry:?} is not a host pattern: {reason}")
                    })
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { patterns })
    }
}

impl fmt::Display for HostAllowList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, pattern) in self.patterns.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            match pattern {
                HostPattern::Name(name) => f.write_str(name)?,
                HostPattern::Below(suffix) => write!(f, "*.{suffix}")?,
                HostPattern::Address(address) => write!(f, "{address}")?,
                HostPattern::Network(network, prefix) => write!(f, "{network}/{prefix}")?,
            }
        }
        Ok(())
    }
}

const FORMS: &str = "use a host name, *.domain, an IP address or a CIDR block such as 10.0.0.0/8, without scheme or port";

fn parse_pattern(entry: &str) -> Result<HostPattern, String> {
    if entry.is_empty() {
        return Err(FORMS.into());
    }
    if entry == "*" {
        return Err("leave the list unset to allow every host".into());
    }
    if let Some((address, prefix)) = entry.split_once('/') {
        let address = bare_address(address).ok_or_else(|| FORMS.to_owned())?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= max)
            .ok_or_else(|| format!("the prefix length must be a number from 0 to {max}"))?;
        return Ok(network(address, prefix));
    }
    if let Some(address) = bare_address(entry) {
        return Ok(HostPattern::Address(canonical(address)));
    }
    if let Some(suffix) = entry.strip_prefix("*.") {
        return match name(suffix)? {
            HostPattern::Name(suffix) => Ok(HostPattern::Below(suffix)),
            _ => Err("a wildcard must be followed by a domain name".into()),
        };
    }
    name(entry)
}

/// A name as URLs normalize it; IPv4 spellings the URL parser accepts become addresses.
fn name(text: &str) -> Result<HostPattern, String> {
    if text.contains(['*', ':', '/', '@', '?', '#']) {
        return Err(FORMS.into());
    }
    let text = text.strip_suffix('.').unwrap_or(text);
    match Host::parse(text).map_err(|_| FORMS.to_owned())? {
        Host::Domain(name) if !name.is_empty() => Ok(HostPattern::Name(name)),
        Host::Domain(_) => Err(FORMS.into()),
        Host::Ipv4(v4) => Ok(HostPattern::Address(IpAddr::V4(v4))),
        Host::Ipv6(v6) => Ok(HostPattern::Address(canonical(IpAddr::V6(v6)))),
    }
}

/// `1.2.3.4`, `::1` or `[::1]`.
fn bare_address(text: &str) -> Option<IpAddr> {
    let inner = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    inner.parse().ok()
}

/// IPv4-mapped IPv6 addresses as the IPv4 address they reach.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

fn network(address: IpAddr, prefix: u8) -> HostPattern {
    // A mapped IPv6 network of at least 96 bits is the IPv4 network it maps.
    if let IpAddr::V6(v6) = address
        && prefix >= 96
        && let Some(v4) = v6.to_ipv4_mapped()
    {
        return network(IpAddr::V4(v4), prefix - 96);
    }
    let masked = match address {
        IpAddr::V4(v4) => IpAddr::V4((u32::from(v4) & mask_v4(prefix)).into()),
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & mask_v6(prefix)).into()),
    };
    HostPattern::Network(masked, prefix)
}

fn mask_v4(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask_v6(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

fn in_network(address: IpAddr, network: IpAddr, prefix: u8) -> bool {
    match (address, network) {
        (IpAddr::V4(a), IpAddr::V4(n)) => u32::from(a) & mask_v4(prefix) == u32::from(n),
        (IpAddr::V6(a), IpAddr::V6(n)) => u128::from(a) & mask_v6(prefix) == u128::from(n),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn list(text: &str) -> HostAllowList {
        text.parse().unwrap()
    }

    fn allows(list: &HostAllowList, url: &str) -> bool {
        let url = url::Url::parse(url).unwrap();
        list.allows(&url.host().unwrap())
    }

    #[test]
    fn exact_names() {
        let hosts = list("api.example.com, LocalHost,Bücher.example.");
        for allowed in [
            "https://api.example.com/spec",
            "https://API.Example.COM:8443/",
            "https://api.example.com./x",
            "http://localhost:3000/",
            "https://bücher.example/",
            "https://xn--bcher-kva.example/",
        ] {
            assert!(allows(&hosts, allowed), "{allowed}");
        }
        for refused in [
            "https://foo.bar/",
            "https://example.com/",
            "https://x.api.example.com/",
            "https://api.example.com.evil.io/",
            "https://notapi.example.com/",
            "https://localhost.example/",
            "http://127.0.0.1/",
        ] {
            assert!(!allows(&hosts, refused), "{refused}");
        }
        assert_eq!(
            hosts.to_string(),
            "api.example.com,localhost,xn--bcher-kva.example"
        );
    }

    #[test]
    fn wildcards_match_names_below_the_domain_only() {
        let hosts = list("*.example.com");
        for allowed in [
            "https://a.example.com/",
            "https://a.b.example.com/",
            "https://A.Example.Com./",
        ] {
            assert!(allows(&hosts, allowed), "{allowed}");
        }
        for refused in [
            "https://example.com/",
            "https://badexample.com/",
            "https://example.com.evil.io/",
            "https://a.example.org/",
        ] {
            assert!(!allows(&hosts, refused), "{refused}");
        }
    }

    #[test]
    fn ip_literals_and_networks() {
        let hosts = list("127.0.0.1,::1,[fd00::7],10.0.0.0/8,2001:db8::/32");
        for allowed in [
            "http://127.0.0.1:8080/",
            "http://[::1]:8080/",
            "http://[::ffff:127.0.0.1]/",
            "http://2130706433/",
            "http://[fd00::7]/",
            "http://10.200.3.4/",
            "http://[::ffff:10.1.1.1]/",
            "http://[2001:db8:1::5]/",
        ] {
            assert!(allows(&hosts, allowed), "{allowed}");
        }
        for refused in [
            "http://127.0.0.2/",
            "http://[::2]/",
            "http://11.0.0.1/",
            "http://[2001:db9::1]/",
            // A name is matched by name, not by what it resolves to.
            "http://localhost/",
        ] {
            assert!(!allows(&hosts, refused), "{refused}");
        }
        // Host bits of a network are ignored; a mapped network is the IPv4 network.
        let hosts = list("192.168.1.77/24,::ffff:172.16.0.0/108");
        assert!(allows(&hosts, "http://192.168.1.1/"));
        assert!(allows(&hosts, "http://172.31.255.1/"));
        assert!(!allows(&hosts, "http://192.168.2.1/"));
        assert_eq!(hosts.to_string(), "192.168.1.0/24,172.16.0.0/12");
        assert!(allows(&list("0.0.0.0/0"), "http://8.8.8.8/"));
        assert!(!allows(&list("0.0.0.0/0"), "http://[2606:4700::1]/"));
    }

    #[test]
    fn the_resolver_side_matches_names_the_same_way() {
        let hosts = list("*.example.com,localhost,::1");
        assert!(hosts.allows_name("a.example.com"));
        assert!(hosts.allows_name("LOCALHOST."));
        assert!(hosts.allows_name("::1"));
        assert!(hosts.allows_name("[::1]"));
        assert!(!hosts.allows_name("example.com"));
        assert!(!hosts.allows_name("foo.bar"));
    }

    #[test]
    fn loopback_is_what_tests_allow() {
        let hosts = HostAllowList::loopback();
        assert_eq!(hosts, list("localhost,127.0.0.1,::1"));
        assert!(allows(&hosts, "https://localhost:1/"));
        assert!(allows(&hosts, "https://127.0.0.1:1/"));
        assert!(allows(&hosts, "https://[::1]:1/"));
        assert!(!allows(&hosts, "https://foo.bar/"));
        assert!(!allows(&hosts, "https://kyma-project.io/"));
    }

    #[test]
    fn invalid_lists_are_refused_with_the_reason() {
        for (text, message) in [
            ("", "the host list has an empty entry"),
            ("a.example,,b.example", "the host list has an empty entry"),
            ("a.example,", "the host list has an empty entry"),
            ("*", "\"*\" is not a host pattern: leave the list unset"),
            (
                "https://a.example",
                "\"https://a.example\" is not a host pattern",
            ),
            ("a.example:443", "\"a.example:443\" is not a host pattern"),
            ("a.*.example", "\"a.*.example\" is not a host pattern"),
            ("*a.example", "\"*a.example\" is not a host pattern"),
            ("*.", "\"*.\" is not a host pattern"),
            ("*.10.0.0.1", "a wildcard must be followed by a domain name"),
            (
                "10.0.0.0/33",
                "the prefix length must be a number from 0 to 32",
            ),
            ("::/129", "the prefix length must be a number from 0 to 128"),
            ("a.example/8", "\"a.example/8\" is not a host pattern"),
            ("a b.example", "\"a b.example\" is not a host pattern"),
        ] {
            let error = text.parse::<HostAllowList>().unwrap_err().to_string();
            assert!(error.contains(message), "{text:?}: {error}");
        }
    }
}
