//! What the server can be told: [`ServerConfig`] (what `sextant server` takes),
//! [`ServerOptions`] (what only embedders set) and the listeners' [`ConnectionSettings`],
//! checked against the process's file limit.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use sextant_fetch::HostAllowList;
use sextant_graphql_cost::Limits as GraphqlLimits;

use crate::error::ServerError;
use crate::notifier;

/// Everything `sextant server` can be told.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub data_dir: PathBuf,
    /// `sqlite://...` or `postgres://...`; None: `sextant.db` in the data directory.
    pub database_url: Option<String>,
    pub listen: SocketAddr,
    pub mtls_listen: SocketAddr,
    /// The URL clients reach the main listener at; its host goes into the listeners'
    /// certificate. None: `https://localhost:<port>`.
    pub public_url: Option<url::Url>,
    /// Whether fetch requests may reach loopback, private and link-local addresses (off by
    /// default: a user-supplied URL must not probe the server's own network).
    pub fetch_allow_private: bool,
    /// The egress allow-list of every outbound call the server makes (fetch requests of specs
    /// and documents, webhook deliveries, their OAuth and CSRF token requests): a host not on
    /// it is refused before its name is resolved. None: every host `fetch_allow_private`
    /// allows.
    pub fetch_allow_hosts: Option<HostAllowList>,
    /// Lifetimes of one-time tokens.
    pub token_lifetimes: TokenLifetimes,
    /// How long a client certificate the Connector issues is valid (Compass: 90 days).
    pub certificate_validity: Duration,
}

/// Compass's client certificate validity: 2160 hours.
pub const DEFAULT_CERTIFICATE_VALIDITY: Duration = Duration::from_secs(2160 * 3600);

/// How long one-time tokens are valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenLifetimes {
    /// A token that pairs an application (default 5 minutes, as in Compass).
    pub application: Duration,
    /// A token that pairs a runtime (default 60 minutes).
    pub runtime: Duration,
    /// The CSR token `configuration` hands out (default 5 minutes).
    pub csr: Duration,
}

impl Default for TokenLifetimes {
    fn default() -> Self {
        TokenLifetimes {
            application: Duration::from_secs(5 * 60),
            runtime: Duration::from_secs(60 * 60),
            csr: Duration::from_secs(5 * 60),
        }
    }
}

/// Settings of the Provisioner and the notifier that [`ServerConfig`] does not carry.
#[derive(Clone, Debug, Default)]
pub struct ServerOptions {
    /// The `sextant` binary whose `agent` subcommand runs each local runtime; None: the
    /// local provider refuses to provision (the `sextant server` command passes itself).
    pub agent_program: Option<PathBuf>,
    /// How long an operation waits for the runtime's agent to report READY (default 5 min).
    pub connect_timeout: Option<Duration>,
    /// How long an operation stays with a server that stopped renewing it (default 30 s).
    pub lease: Option<Duration>,
    /// The webhook notifier's schedule (default: [`notifier::NotifierSettings::default`]).
    pub notifier: Option<notifier::NotifierSettings>,
    /// What one GraphQL request may cost, on every GraphQL endpoint (default:
    /// [`GraphqlLimits::DEFAULT`]).
    pub graphql_limits: Option<GraphqlLimits>,
    /// The fetched-spec size limit and the spec quotas (default:
    /// [`sextant_domain::SpecLimits::default`]).
    pub spec_limits: Option<sextant_domain::SpecLimits>,
    /// Limits of the listeners' connections (default: [`ConnectionSettings::default`]).
    pub connections: Option<ConnectionSettings>,
    /// Which names the runtime serving CA binds to a runtime (default: no domain, loopback
    /// names allowed, as the local provider's runtimes need).
    pub runtime_serving_names: Option<sextant_pki::ServingNamePolicy>,
    /// How often what the runtime configuration endpoint saw of agents is written (default:
    /// [`AGENT_FLUSH_INTERVAL`](crate::AGENT_FLUSH_INTERVAL)); it is also written at shutdown.
    pub agent_flush_interval: Option<Duration>,
}

/// Limits of each listener's connections. Each listener has its own count, so clients
/// holding connections to the main listener cannot crowd out runtimes on the mTLS listener,
/// and a share of the process's file limit stays free for the database and outbound calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionSettings {
    /// Most connections open at once on each listener. None: derived from the file limit
    /// (`ulimit -n`): a quarter of it (at least 64, at most 512 descriptors) is kept for the
    /// database, outbound calls and files, each listener gets half of the rest, at most
    /// 4,096. A value above that half is refused at start.
    pub max_connections: Option<usize>,
    /// Most connections open at once on the mTLS listener (runtimes and applications), when
    /// it should hold more than the main listener: a fleet's agents each hold one. None:
    /// `max_connections`. The two together must fit in what the file limit leaves.
    pub mtls_max_connections: Option<usize>,
    /// Most connections open at once from one address (IPv6: one /64) on each listener.
    pub max_per_peer: usize,
    /// Time for the TLS handshake, and then for the first request.
    pub handshake_timeout: Duration,
    /// How long a connection without a request in progress stays open.
    pub idle_timeout: Duration,
    /// HTTP/2 keep-alive pings: sent after this long without a frame from the peer, which
    /// must answer within the same time (held long polls included).
    pub keep_alive_interval: Duration,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        ConnectionSettings {
            max_connections: None,
            mtls_max_connections: None,
            max_per_peer: sextant_tls::DEFAULT_MAX_PER_PEER,
            handshake_timeout: sextant_tls::DEFAULT_HANDSHAKE_TIMEOUT,
            idle_timeout: sextant_tls::DEFAULT_IDLE_TIMEOUT,
            keep_alive_interval: sextant_tls::DEFAULT_KEEP_ALIVE_INTERVAL,
        }
    }
}

/// The default connection limit of one listener, whatever the file limit.
const MAX_CONNECTIONS_CAP: usize = 4096;
/// The fewest connections a listener may be limited to.
const MIN_CONNECTIONS: usize = 16;

/// The limits of each listener, given the process's (soft) limit of open files (None:
/// unlimited).
#[derive(Clone, Debug)]
pub(crate) struct ListenerLimits {
    pub(crate) main: sextant_tls::ConnectionLimits,
    pub(crate) mtls: sextant_tls::ConnectionLimits,
}

/// The limits of both listeners, given the process's (soft) limit of open files (None:
/// unlimited): a reserve is kept for the database and outbound calls, and what the two
/// listeners may hold together must fit in the rest.
pub(crate) fn listener_limits(
    settings: &ConnectionSettings,
    file_limit: Option<u64>,
) -> Result<ListenerLimits, ServerError> {
    let files = file_limit
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(usize::MAX);
    let reserved = (files / 4).clamp(64, 512);
    let budget = files.saturating_sub(reserved);
    let share = budget / 2;
    let main = match (settings.max_connections, settings.mtls_max_connections) {
        (Some(max), _) => max,
        // The mTLS listener asked for more than half: the main listener gets what is left.
        (None, Some(mtls)) if mtls > share => budget.saturating_sub(mtls).min(MAX_CONNECTIONS_CAP),
        (None, _) => share.min(MAX_CONNECTIONS_CAP),
    };
    let mtls = settings.mtls_max_connections.unwrap_or(main);
    if main.saturating_add(mtls) > budget {
        return Err(ServerError::Limits(format!(
            "{main} connections on the main listener and {mtls} on the mTLS listener do not fit \
             in the file limit of {files} (at most {budget} together, {share} each by default: \
             {reserved} are kept for the database and outbound calls); raise the limit \
             (ulimit -n) or lower --max-connections or --mtls-max-connections"
        )));
    }
    for (name, value) in [("main", main), ("mTLS", mtls)] {
        if value < MIN_CONNECTIONS {
            return Err(ServerError::Limits(format!(
                "the file limit of {files} leaves {value} connections for the {name} listener \
                 (at least {MIN_CONNECTIONS} are needed); raise it (ulimit -n)"
            )));
        }
    }
    if settings.max_per_peer == 0 {
        return Err(ServerError::Limits(
            "--max-connections-per-peer must be at least 1".into(),
        ));
    }
    for (name, value) in [
        ("--handshake-timeout", settings.handshake_timeout),
        ("--idle-timeout", settings.idle_timeout),
        ("--http2-keep-alive", settings.keep_alive_interval),
    ] {
        if value.is_zero() {
            return Err(ServerError::Limits(format!("{name} must be longer than 0")));
        }
    }
    let limits = |max_connections| sextant_tls::ConnectionLimits {
        max_connections,
        max_per_peer: settings.max_per_peer,
        handshake_timeout: settings.handshake_timeout,
        idle_timeout: settings.idle_timeout,
        keep_alive_interval: settings.keep_alive_interval,
    };
    Ok(ListenerLimits {
        main: limits(main),
        mtls: limits(mtls),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn connection_limits_follow_the_file_limit() {
        let defaults = ConnectionSettings::default();
        let main = |settings: &ConnectionSettings, files| {
            listener_limits(settings, files)
                .unwrap()
                .main
                .max_connections
        };
        // 1,024 files: 256 kept, 384 per listener.
        assert_eq!(main(&defaults, Some(1024)), 384);
        assert_eq!(main(&defaults, Some(256)), 96);
        assert_eq!(main(&defaults, None), MAX_CONNECTIONS_CAP);
        // Too few files, or more connections than fit: clear errors.
        let err = listener_limits(&defaults, Some(64))
            .unwrap_err()
            .to_string();
        assert!(err.contains("raise it (ulimit -n)"), "{err}");
        let explicit = ConnectionSettings {
            max_connections: Some(500),
            ..ConnectionSettings::default()
        };
        let err = listener_limits(&explicit, Some(1024))
            .unwrap_err()
            .to_string();
        assert!(err.contains("at most 768 together, 384 each"), "{err}");
        let both = listener_limits(&explicit, Some(4096)).unwrap();
        assert_eq!(
            (both.main.max_connections, both.mtls.max_connections),
            (500, 500)
        );
        let zero = ConnectionSettings {
            idle_timeout: Duration::ZERO,
            ..ConnectionSettings::default()
        };
        assert!(listener_limits(&zero, None).is_err());
    }

    /// A fleet's server: most descriptors for the mTLS listener, the rest for the main one.
    #[test]
    fn the_mtls_listener_may_take_most_of_the_file_limit() {
        let fleet = ConnectionSettings {
            mtls_max_connections: Some(19_000),
            ..ConnectionSettings::default()
        };
        let limits = listener_limits(&fleet, Some(20_000)).unwrap();
        assert_eq!(limits.mtls.max_connections, 19_000);
        // 20,000 − 512 kept − 19,000.
        assert_eq!(limits.main.max_connections, 488);
        let too_many = ConnectionSettings {
            mtls_max_connections: Some(19_600),
            ..ConnectionSettings::default()
        };
        let err = listener_limits(&too_many, Some(20_000))
            .unwrap_err()
            .to_string();
        assert!(err.contains("do not fit"), "{err}");
        let both = ConnectionSettings {
            max_connections: Some(1_500),
            mtls_max_connections: Some(18_000),
            ..ConnectionSettings::default()
        };
        let err = listener_limits(&both, Some(20_000))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("1500 connections on the main listener"),
            "{err}"
        );
    }
}
