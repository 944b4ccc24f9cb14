//! Which URLs and addresses may be called.
//!
//! Two places enforce the address policy, because neither covers everything: [`PolicyResolver`]
//! filters what DNS returns at connect time (so a name that re-resolves to a private address
//! between a check and the connection cannot slip through), and [`check_target`] checks IP
//! literals, which the connector never passes to the resolver.
//!
//! The egress allow-list ([`HostAllowList`]) is checked by [`check_target`] on every URL
//! before anything is sent, so a host that is not on it is never resolved; the resolver
//! checks it again and refuses such names without a lookup.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

use crate::allow::HostAllowList;
use crate::{FetchError, FetchPolicy};

/// True if `ip` is publicly routable: not loopback, private, link-local (which includes the
/// cloud metadata address 169.254.169.254), shared (CGNAT), unspecified, broadcast,
/// multicast, reserved or documentation space, and not an IPv6 form that embeds such an IPv4
/// address (IPv4-mapped, NAT64, 6to4).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let blocked = a == 0 // "this network", including 0.0.0.0
        || a == 10 // private
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT), 100.64/10
        || a == 127 // loopback
        || (a == 169 && b == 254) // link-local, cloud metadata
        || (a == 172 && (16..32).contains(&b)) // private
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // TEST-NET-1
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 192 && b == 168) // private
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2
        || (a == 203 && b == 0 && c == 113) // TEST-NET-3
        || a >= 224; // multicast 224/4, reserved 240/4, broadcast
    !blocked
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    // ::ffff:a.b.c.d reaches the IPv4 address on dual-stack sockets.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    // NAT64 (64:ff9b::/96) reaches the embedded IPv4 address through a translator.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(embedded_v4(segments[6], segments[7]));
    }
    // 6to4 (2002::/16) embeds an IPv4 address in bits 16..48.
    if segments[0] == 0x2002 {
        return is_public_v4(embedded_v4(segments[1], segments[2]));
    }
    let blocked = segments[..6] == [0; 6] // ::, ::1 and the deprecated IPv4-compatible ::/96
        || segments[..3] == [0x64, 0xff9b, 1] // local-use NAT64, 64:ff9b:1::/48
        || segments[..4] == [0x100, 0, 0, 0] // discard-only, 100::/64
        || (segments[0] == 0x2001 && segments[1] < 0x200) // IETF protocol assignments (incl. Teredo)
        || (segments[0] == 0x2001 && segments[1] == 0xdb8) // documentation
        || (segments[0] & 0xfe00) == 0xfc00 // unique local, fc00::/7
        || (segments[0] & 0xffc0) == 0xfe80 // link-local, fe80::/10
        || (segments[0] & 0xffc0) == 0xfec0 // site-local (deprecated), fec0::/10
        || (segments[0] & 0xff00) == 0xff00; // multicast
    !blocked
}

fn embedded_v4(high: u16, low: u16) -> Ipv4Addr {
    let [a, b] = high.to_be_bytes();
    let [c, d] = low.to_be_bytes();
    Ipv4Addr::new(a, b, c, d)
}

/// Parses a URL that is about to be called and checks it: a valid absolute http(s) URL with
/// no user info (credentials belong in `Auth`), passing [`check_target`]. A URL stored
/// without a scheme (Compass accepted `kyma-project.io/spec`) is called over `https`.
pub(crate) fn parse_target(url: &str, policy: &FetchPolicy) -> Result<Url, FetchError> {
    let url = sextant_domain::validate::with_default_scheme(url);
    let parsed = Url::parse(&url).map_err(|e| FetchError::InvalidUrl {
        reason: e.to_string(),
    })?;
    check_target(&parsed, policy)?;
    Ok(parsed)
}

/// Checks a URL before each request: scheme http or https, a host, no user info, a host on
/// the allow-list if there is one, and, unless private addresses are allowed, a host that is
/// not a non-public IP literal. The addresses of host names are checked when they are
/// resolved, by [`PolicyResolver`].
pub(crate) fn check_target(url: &Url, policy: &FetchPolicy) -> Result<(), FetchError> {
    match url.scheme() {
        "http" | "https" => {}
        other => {
            return Err(FetchError::SchemeNotAllowed {
                scheme: other.to_owned(),
            });
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(FetchError::InvalidUrl {
            reason: "user info in URLs is not accepted; credentials belong in the auth".into(),
        });
    }
    let Some(host) = url.host() else {
        return Err(FetchError::InvalidUrl {
            reason: "the URL has no host".into(),
        });
    };
    if let Some(allowed) = &policy.allow_hosts
        && !allowed.allows(&host)
    {
        return Err(FetchError::HostNotAllowed {
            host: host_text(&host),
        });
    }
    let literal = match host {
        Host::Domain(_) => None,
        Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
    };
    if let Some(address) = literal
        && !policy.allow_private
        && !is_public(address)
    {
        return Err(FetchError::AddressNotAllowed {
            // Not `host_str`: the URL spells IPv4-mapped addresses in hex.
            host: address.to_string(),
            address,
        });
    }
    Ok(())
}

/// The host as messages show it: IPv6 addresses without brackets.
fn host_text(host: &Host<&str>) -> String {
    match host {
        Host::Domain(name) => (*name).to_owned(),
        Host::Ipv4(v4) => v4.to_string(),
        Host::Ipv6(v6) => v6.to_string(),
    }
}

/// What the resolver's lookup returns.
pub(crate) type LookupResult = std::io::Result<Vec<SocketAddr>>;

/// The name lookup under [`PolicyResolver`]: the system's (`getaddrinfo`), or, in tests, one
/// that answers without the network.
pub(crate) trait Lookup: Send + Sync {
    fn lookup(&self, host: String) -> Pin<Box<dyn Future<Output = LookupResult> + Send>>;
}

/// The system resolver, through `getaddrinfo`.
pub(crate) struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup(&self, host: String) -> Pin<Box<dyn Future<Output = LookupResult> + Send>> {
        Box::pin(async move {
            // Port 0: the connector puts in the URL's port.
            Ok(tokio::net::lookup_host((host.as_str(), 0)).await?.collect())
        })
    }
}

/// A DNS resolver that refuses names not on the allow-list without looking them up, and drops
/// non-public addresses unless private addresses are allowed. When every address of a name is
/// dropped, resolution fails with [`BlockedAddress`], and a refused name with [`HostRefused`];
/// [`blocked_address`] finds either again in reqwest's error chain.
#[derive(Clone)]
pub(crate) struct PolicyResolver {
    pub(crate) allow_private: bool,
    pub(crate) allow_hosts: Option<Arc<HostAllowList>>,
    pub(crate) lookup: Arc<dyn Lookup>,
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let allow_private = self.allow_private;
        let refused = self
            .allow_hosts
            .as_ref()
            .is_some_and(|allowed| !allowed.allows_name(&host));
        let lookup = self.lookup.clone();
        Box::pin(async move {
            if refused {
                return Err(Box::new(HostRefused { host }) as Box<dyn StdError + Send + Sync>);
            }
            let resolved = lookup.lookup(host.clone()).await?;
            if allow_private {
                return Ok(Box::new(resolved.into_iter()) as Addrs);
            }
            let (public, blocked): (Vec<SocketAddr>, Vec<SocketAddr>) =
                resolved.into_iter().partition(|a| is_public(a.ip()));
            match (public.is_empty(), blocked.first()) {
                (true, Some(first)) => Err(Box::new(BlockedAddress {
                    host,
                    address: first.ip(),
                }) as Box<dyn StdError + Send + Sync>),
                _ => Ok(Box::new(public.into_iter()) as Addrs),
            }
        })
    }
}

/// A name the allow-list refuses.
#[derive(Debug)]
pub(crate) struct HostRefused {
    pub(crate) host: String,
}

impl fmt::Display for HostRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is not on the allow-list", self.host)
    }
}

impl StdError for HostRefused {}

/// A name resolved only to addresses the policy refuses.
#[derive(Debug)]
pub(crate) struct BlockedAddress {
    pub(crate) host: String,
    pub(crate) address: IpAddr,
}

impl fmt::Display for BlockedAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} resolves only to non-public addresses", self.host)
    }
}

impl StdError for BlockedAddress {}

/// The [`BlockedAddress`] or [`HostRefused`] somewhere in an error's source chain, as the
/// policy error.
pub(crate) fn blocked_address(error: &reqwest::Error) -> Option<FetchError> {
    let mut source: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(cause) = source {
        if let Some(blocked) = cause.downcast_ref::<BlockedAddress>() {
            return Some(FetchError::AddressNotAllowed {
                host: blocked.host.clone(),
                address: blocked.address,
            });
        }
        if let Some(refused) = cause.downcast_ref::<HostRefused>() {
            return Some(FetchError::HostNotAllowed {
                host: refused.host.clone(),
            });
        }
        source = cause.source();
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn lenient() -> FetchPolicy {
        FetchPolicy {
            allow_private: true,
            ..FetchPolicy::default()
        }
    }

    fn public(text: &str) -> bool {
        is_public(text.parse().unwrap())
    }

    #[test]
    fn ipv4_classification() {
        for blocked in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "10.255.255.255",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.255.0.9",
            "169.254.169.254",
            "169.254.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(!public(blocked), "{blocked} must be refused");
        }
        for allowed in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.255.255",
            "172.32.0.1",
            "192.167.1.1",
            "192.169.0.1",
            "169.253.1.1",
            "198.20.0.1",
            "223.255.255.254",
        ] {
            assert!(public(allowed), "{allowed} must be allowed");
        }
    }

    #[test]
    fn ipv6_classification() {
        for blocked in [
            "::",
            "::1",
            "::127.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:192.168.0.1",
            "64:ff9b::127.0.0.1",
            "64:ff9b::10.1.1.1",
            "64:ff9b:1::1",
            "2002:7f00:1::",
            "2002:c0a8:101::1",
            "100::1",
            "2001::1",
            "2001:db8::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "ff0e::1",
        ] {
            assert!(!public(blocked), "{blocked} must be refused");
        }
        for allowed in [
            "2606:4700:4700::1111",
            "2a00:1450:4001::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::8.8.8.8",
            "2002:808:808::1",
            "2001:4860::1",
        ] {
            assert!(public(allowed), "{allowed} must be allowed");
        }
    }

    #[test]
    fn targets() {
        let strict = FetchPolicy::default();
        let check = |url: &str| parse_target(url, &strict);
        assert!(check("https://example.com/a?b=c").is_ok());
        assert!(check("http://8.8.8.8/").is_ok());
        assert!(matches!(
            check("ftp://example.com/"),
            Err(FetchError::SchemeNotAllowed { .. })
        ));
        assert!(matches!(
            check("file:///etc/passwd"),
            Err(FetchError::SchemeNotAllowed { .. })
        ));
        assert!(matches!(
            check("not a url"),
            Err(FetchError::InvalidUrl { .. })
        ));
        assert!(matches!(
            check("https://user:pw@example.com/"),
            Err(FetchError::InvalidUrl { .. })
        ));
        for private in [
            "http://127.0.0.1:8080/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://169.254.169.254/latest/meta-data/",
            // The URL parser normalizes other IPv4 spellings.
            "http://2130706433/",
            "http://0x7f.1/",
            "http://0/",
        ] {
            assert!(
                matches!(check(private), Err(FetchError::AddressNotAllowed { .. })),
                "{private}"
            );
            assert!(parse_target(private, &lenient()).is_ok(), "{private}");
        }
    }

    #[test]
    fn a_url_without_scheme_is_called_over_https_and_checked() {
        let url = parse_target(
            "kyma-project.io/specs/api.yaml?v=1",
            &FetchPolicy::default(),
        )
        .unwrap();
        assert_eq!(url.as_str(), "https://kyma-project.io/specs/api.yaml?v=1");
        let url = parse_target("localhost:8443/x", &lenient()).unwrap();
        assert_eq!(url.as_str(), "https://localhost:8443/x");
        // The SSRF rules apply to what is called.
        for private in ["127.0.0.1:8080/spec", "169.254.169.254/latest", "[::1]/x"] {
            assert!(
                matches!(
                    parse_target(private, &FetchPolicy::default()),
                    Err(FetchError::AddressNotAllowed { .. })
                ),
                "{private}"
            );
        }
    }
}

/// The allow-list end to end through a [`crate::Fetcher`] whose resolver counts lookups (and
/// answers 127.0.0.1 without the network): a refused host is never looked up.
#[cfg(test)]
mod allow_list_tests {
    #![allow(clippy::unwrap_used)]

    use std::str::FromStr;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use sextant_domain::credentials::{Auth, Credential};

    use super::*;
    use crate::Fetcher;

    #[derive(Default)]
    struct CountingLookup {
        names: std::sync::Mutex<Vec<String>>,
        calls: AtomicUsize,
    }

    impl Lookup for CountingLookup {
        fn lookup(&self, host: String) -> Pin<Box<dyn Future<Output = LookupResult> + Send>> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if let Ok(mut names) = self.names.lock() {
                names.push(host);
            }
            Box::pin(async { Ok(vec![SocketAddr::from(([127, 0, 0, 1], 0))]) })
        }
    }

    fn policy(hosts: &str) -> FetchPolicy {
        FetchPolicy {
            allow_private: true,
            allow_hosts: Some(hosts.parse().unwrap()),
            ..FetchPolicy::default()
        }
    }

    fn fetcher(hosts: &str) -> (Fetcher, Arc<CountingLookup>) {
        let lookup = Arc::new(CountingLookup::default());
        let fetcher =
            Fetcher::build_with_lookup(policy(hosts), Vec::new(), lookup.clone()).unwrap();
        (fetcher, lookup)
    }

    /// A local server: `/` answers "ok", `/away` redirects to `http://foo.bar/`.
    async fn serve() -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let app = axum::Router::new()
            .route("/", axum::routing::get(|| async { "ok" }))
            .route(
                "/away",
                axum::routing::get(|| async {
                    axum::response::Redirect::temporary("http://foo.bar/spec")
                }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await });
        port
    }

    #[tokio::test]
    async fn a_refused_name_is_never_looked_up() {
        let (fetcher, lookup) = fetcher("allowed.test,*.allowed.test,127.0.0.1");
        for url in [
            "https://foo.bar/spec",
            "foo.bar/spec",
            "https://allowed.test.foo.bar/",
            "https://xallowed.test/",
            "http://127.0.0.2/",
            "http://[::1]/",
        ] {
            let error = fetcher.fetch(url, None).await.unwrap_err();
            assert!(
                matches!(error, FetchError::HostNotAllowed { .. }),
                "{url}: {error:?}"
            );
            assert!(
                error
                    .to_string()
                    .contains("is not allowed: outbound calls may reach only"),
                "{error}"
            );
        }
        let error = fetcher.fetch("https://foo.bar/", None).await.unwrap_err();
        assert_eq!(
            error.to_string(),
            "host foo.bar is not allowed: outbound calls may reach only the hosts on the server's allow-list"
        );
        assert_eq!(lookup.calls.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn allowed_names_and_literals_are_called_and_redirects_are_checked() {
        let port = serve().await;
        let (fetcher, lookup) = fetcher("allowed.test,*.allowed.test,127.0.0.1");
        // An IP literal on the list: called, never looked up.
        let fetched = fetcher
            .fetch(&format!("http://127.0.0.1:{port}/"), None)
            .await
            .unwrap();
        assert_eq!(fetched.body, "ok");
        assert_eq!(lookup.calls.load(Ordering::SeqCst), 0);
        // Names on the list (exact and wildcard) are looked up and called.
        for host in ["allowed.test", "a.b.allowed.test"] {
            let fetched = fetcher
                .fetch(&format!("http://{host}:{port}/"), None)
                .await
                .unwrap();
            assert_eq!(fetched.body, "ok");
        }
        assert_eq!(
            *lookup.names.lock().unwrap(),
            ["allowed.test", "a.b.allowed.test"]
        );
        // A redirect to a host that is not on the list is refused at that hop.
        let error = fetcher
            .fetch(&format!("http://127.0.0.1:{port}/away"), None)
            .await
            .unwrap_err();
        assert!(
            matches!(&error, FetchError::HostNotAllowed { host } if host == "foo.bar"),
            "{error:?}"
        );
        assert_eq!(lookup.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn token_endpoints_are_checked_before_any_lookup() {
        let (fetcher, lookup) = fetcher("allowed.test");
        let auth = Auth {
            credential: Credential::OAuth {
                client_id: "client".into(),
                client_secret: "secret".into(),
                url: "https://tokens.foo.bar/oauth/token".into(),
            },
            additional_headers: None,
            additional_query_params: None,
            request_auth: None,
        };
        let error = fetcher
            .fetch("https://allowed.test/spec", Some(&auth))
            .await
            .unwrap_err();
        assert!(matches!(error, FetchError::Auth(_)), "{error:?}");
        assert!(
            error
                .to_string()
                .contains("host tokens.foo.bar is not allowed"),
            "{error}"
        );
        assert_eq!(lookup.calls.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn the_resolver_refuses_names_off_the_list_without_a_lookup() {
        let lookup = Arc::new(CountingLookup::default());
        let resolver = PolicyResolver {
            allow_private: true,
            allow_hosts: Some(Arc::new("localhost,*.allowed.test".parse().unwrap())),
            lookup: lookup.clone(),
        };
        let error = match resolver.resolve(Name::from_str("foo.bar").unwrap()).await {
            Ok(_) => panic!("foo.bar must be refused"),
            Err(error) => error,
        };
        assert!(error.downcast_ref::<HostRefused>().is_some(), "{error}");
        assert_eq!(lookup.calls.load(Ordering::SeqCst), 0);
        let addresses: Vec<SocketAddr> = resolver
            .resolve(Name::from_str("x.allowed.test").unwrap())
            .await
            .unwrap()
            .collect();
        assert_eq!(addresses, [SocketAddr::from(([127, 0, 0, 1], 0))]);
        assert_eq!(lookup.calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn without_a_list_every_public_host_passes_as_before() {
        let strict = FetchPolicy::default();
        assert!(parse_target("https://foo.bar/", &strict).is_ok());
        assert!(parse_target("kyma-project.io/api.yaml", &strict).is_ok());
        // The list narrows the address policy; it does not widen it.
        let listed = FetchPolicy {
            allow_hosts: Some("10.0.0.0/8".parse().unwrap()),
            ..FetchPolicy::default()
        };
        assert!(matches!(
            parse_target("http://10.1.2.3/", &listed),
            Err(FetchError::AddressNotAllowed { .. })
        ));
    }
}
