//! Sextant's server: one process serving the whole management plane.
//!
//! [`start`] opens the data directory (creating the CA, the listeners' certificate, the
//! signing key and the administrator token on first start), opens and migrates the store,
//! binds the main listener (HTTPS: the Director for users, health, metrics) and the mTLS
//! listener (client certificates required; the certificate-secured APIs arrive with the
//! Connector), and serves both until stopped.
#![forbid(unsafe_code)]

mod datadir;
mod http;
pub mod notifier;
mod oauth;
mod runtime_config;
pub use runtime_config::SPEC_CACHE_BYTES;
mod runtime_gateway;
mod telemetry;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use sextant_connector::{RevocationListener, TrustedCas};
use sextant_store::Store;
use sextant_tls::{ClientAuth, SharedServerConfig};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use datadir::{Rotation, load_issuer, rotate_ca};
pub use sextant_connector::Retirement;
pub use sextant_fetch::HostAllowList;
pub use sextant_graphql_cost::Limits as GraphqlLimits;
pub use sextant_pki::ServingNamePolicy;

/// Retires the previous CA of a data directory after a rotation, unless clients still depend
/// on it (hold certificates of it and none of the current CA, counted in the database at
/// `database_url`, by default the data directory's SQLite database) and `force` is false. Takes effect at the next start of
/// each server using the directory's CA files.
pub async fn retire_previous_ca(
    data_dir: &std::path::Path,
    database_url: Option<&str>,
    force: bool,
) -> Result<Retirement, ServerError> {
    if datadir::previous_ca(data_dir)?.is_none() {
        return Ok(Retirement::NothingToRetire);
    }
    let current = datadir::current_ca(data_dir)?.ok_or_else(|| {
        ServerError::Inconsistent(format!("{} has no current CA", data_dir.display()))
    })?;
    let url = match database_url {
        Some(url) => url.to_owned(),
        None => format!("sqlite://{}", data_dir.join("sextant.db").display()),
    };
    let store = sextant_store::connect(&url).await?;
    let remaining =
        sextant_connector::clients_depending_on_other_cas(store.as_ref(), &current).await?;
    if remaining > 0 && !force {
        return Ok(Retirement::ClientsRemain(remaining));
    }
    datadir::retire_previous_ca(data_dir)?;
    Ok(Retirement::Retired {
        clients_cut_off: remaining,
    })
}

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

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("data directory file {path}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("data directory is inconsistent: {0}")]
    Inconsistent(String),
    #[error("certificate authority")]
    Pki(#[from] sextant_pki::PkiError),
    #[error("token signing key")]
    Auth(#[source] sextant_auth::AuthError),
    #[error("TLS configuration")]
    Tls(#[from] sextant_tls::TlsError),
    #[error("database")]
    Store(#[from] sextant_store::StoreError),
    #[error("outbound HTTP client")]
    Fetch(#[source] sextant_fetch::FetchError),
    #[error("connection limits: {0}")]
    Limits(String),
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// A running server.
pub struct RunningServer {
    /// Where the main listener accepts connections.
    pub main_addr: SocketAddr,
    /// Where the mTLS listener accepts connections.
    pub mtls_addr: SocketAddr,
    /// The public URL of the main listener.
    pub public_url: url::Url,
    pub data_dir: PathBuf,
    pub admin_token_path: PathBuf,
    pub store: Arc<dyn Store>,
    config_cache: Arc<runtime_config::ConfigCache>,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<std::io::Result<()>>>,
}

impl RunningServer {
    /// How many runtime configuration documents the server remembers, and the bytes they
    /// hold (spec texts are not among them: see [`RunningServer::specs_held`]).
    pub fn runtime_documents_held(&self) -> (usize, usize) {
        self.config_cache.documents_held()
    }

    /// The bytes of spec texts the server keeps in memory for all runtimes together (at
    /// most [`SPEC_CACHE_BYTES`]).
    pub fn specs_held(&self) -> usize {
        self.config_cache.specs_held()
    }

    /// Stops accepting, lets open requests finish (bounded), and returns.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.wait().await;
    }

    /// Waits until the listeners stop (after [`RunningServer::shutdown_token`] is cancelled).
    pub async fn wait(self) {
        for task in self.tasks {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "listener failed"),
                Err(e) => tracing::error!(error = %e, "listener task failed"),
            }
        }
    }

    /// Cancelling this token stops the server.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }
}

/// What the listeners' TLS configurations are built from; a task that changes one part
/// rebuilds them from the current value of every other part.
struct TlsParts {
    cert: ArcSwap<sextant_pki::CertifiedKey>,
    /// One CRL (DER) per trusted CA, if any certificate is revoked.
    crls: ArcSwap<Vec<Vec<u8>>>,
}

/// The listeners' TLS configurations: the main one (no client certificates) and the mTLS one
/// (a client certificate of a trusted CA required, and not on that CA's CRL).
fn tls_configs(
    cert: &sextant_pki::CertifiedKey,
    cas: &TrustedCas,
    crls: &[Vec<u8>],
) -> Result<(Arc<rustls::ServerConfig>, Arc<rustls::ServerConfig>), ServerError> {
    let main = sextant_tls::server_config(&cert.cert_pem, &cert.key_pem, ClientAuth::None)?;
    let mtls = sextant_tls::server_config(
        &cert.cert_pem,
        &cert.key_pem,
        ClientAuth::Required {
            roots_pem: cas.pem(),
            crls_der: crls
                .iter()
                .map(|der| rustls::pki_types::CertificateRevocationListDer::from(der.clone()))
                .collect(),
        },
    )?;
    Ok((main, mtls))
}

/// Where the Connector's revocation watcher puts what it finds: the mTLS listener's CRLs
/// (rebuilding its TLS configuration), and the runtimes' certificates remembered as valid.
struct MtlsRevocations {
    cas: TrustedCas,
    parts: Arc<TlsParts>,
    mtls: SharedServerConfig,
    config_cache: Arc<runtime_config::ConfigCache>,
}

impl RevocationListener for MtlsRevocations {
    type Error = ServerError;

    fn revocations_changed(&self) {
        self.config_cache.revocations_changed();
    }

    fn install_crls(&self, crls: Vec<Vec<u8>>) -> Result<(), ServerError> {
        self.parts.crls.store(Arc::new(crls));
        let (_, mtls) = tls_configs(&self.parts.cert.load(), &self.cas, &self.parts.crls.load())?;
        self.mtls.store(mtls);
        Ok(())
    }
}

/// How often the running server checks whether its certificate needs renewing.
const CERT_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(6 * 3600);

/// Re-issues the listeners' certificate before it expires and swaps it into both listeners:
/// new connections get the new certificate, open ones are left alone, nothing restarts.
async fn renew_server_certificate(
    data_dir: PathBuf,
    cas: TrustedCas,
    names: Vec<String>,
    parts: Arc<TlsParts>,
    configs: [SharedServerConfig; 2],
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let mut interval = tokio::time::interval(CERT_CHECK_INTERVAL);
    interval.tick().await; // the first tick is now; start already checked
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = interval.tick() => {}
        }
        let renewed =
            match datadir::ensure_server_certificate(&data_dir, cas.server_signer(), &names, false)
            {
                Ok((cert, true)) => {
                    let built = tls_configs(&cert, &cas, &parts.crls.load()).map(Some);
                    parts.cert.store(Arc::new(cert));
                    built
                }
                Ok((_, false)) => Ok(None),
                Err(e) => Err(e),
            };
        match renewed {
            Ok(None) => {}
            Ok(Some((main, mtls))) => {
                configs[0].store(main);
                configs[1].store(mtls);
                tracing::info!("renewed the listeners' certificate");
            }
            Err(e) => tracing::error!(
                error = %sextant_domain::ErrorChain(&e),
                "cannot renew the listeners' certificate; retrying later"
            ),
        }
    }
}

/// How often expired one-time tokens are removed (they never redeem; this only keeps the
/// table small).
const TOKEN_PURGE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

async fn purge_expired_tokens(
    store: Arc<dyn Store>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let mut interval = tokio::time::interval(TOKEN_PURGE_INTERVAL);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = interval.tick() => {}
        }
        let purged = async {
            let mut tx = store.write().await?;
            let n = tx
                .purge_expired_tokens(time::OffsetDateTime::now_utc())
                .await?;
            tx.commit().await?;
            Ok::<u64, sextant_store::StoreError>(n)
        }
        .await;
        match purged {
            Ok(0) => {}
            Ok(n) => tracing::debug!(purged = n, "removed expired one-time tokens"),
            Err(e) => tracing::warn!(
                error = %sextant_domain::ErrorChain(&e),
                "cannot remove expired one-time tokens; retrying later"
            ),
        }
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, ServerError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })
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

/// The limits of one listener, given the process's (soft) limit of open files (None:
/// unlimited).
fn listener_limits(
    settings: &ConnectionSettings,
    file_limit: Option<u64>,
) -> Result<sextant_tls::ConnectionLimits, ServerError> {
    let files = file_limit
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(usize::MAX);
    let reserved = (files / 4).clamp(64, 512);
    let share = files.saturating_sub(reserved) / 2;
    let max_connections = match settings.max_connections {
        None => share.min(MAX_CONNECTIONS_CAP),
        Some(max) if max > share => {
            return Err(ServerError::Limits(format!(
                "{max} connections per listener do not fit in the file limit of {files} \
                 (at most {share}: {reserved} are kept for the database and outbound calls, \
                 the rest is shared by the two listeners); raise the limit (ulimit -n) or \
                 lower --max-connections"
            )));
        }
        Some(max) => max,
    };
    if max_connections < MIN_CONNECTIONS {
        return Err(ServerError::Limits(format!(
            "the file limit of {files} leaves {max_connections} connections per listener \
             (at least {MIN_CONNECTIONS} are needed); raise it (ulimit -n)"
        )));
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
    Ok(sextant_tls::ConnectionLimits {
        max_connections,
        max_per_peer: settings.max_per_peer,
        handshake_timeout: settings.handshake_timeout,
        idle_timeout: settings.idle_timeout,
        keep_alive_interval: settings.keep_alive_interval,
    })
}

/// Starts a server whose Provisioner has no agent program (it cannot provision local
/// runtimes); see [`start_with`].
pub async fn start(config: ServerConfig) -> Result<RunningServer, ServerError> {
    start_with(config, ServerOptions::default()).await
}

/// Starts the server and returns once both listeners accept connections.
pub async fn start_with(
    config: ServerConfig,
    options: ServerOptions,
) -> Result<RunningServer, ServerError> {
    sextant_tls::install_crypto_provider();
    let file_limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
    let connection_limits =
        listener_limits(&options.connections.clone().unwrap_or_default(), file_limit)?;
    tracing::info!(
        max_connections = connection_limits.max_connections,
        max_per_peer = connection_limits.max_per_peer,
        file_limit,
        "connection limits per listener"
    );
    let metrics = telemetry::metrics_handle();

    let main_listener = bind(config.listen).await?;
    let mtls_listener = bind(config.mtls_listen).await?;
    let main_addr = main_listener
        .local_addr()
        .map_err(|source| ServerError::Bind {
            addr: config.listen,
            source,
        })?;
    let mtls_addr = mtls_listener
        .local_addr()
        .map_err(|source| ServerError::Bind {
            addr: config.mtls_listen,
            source,
        })?;
    let public_url = match config.public_url.clone() {
        Some(url) => url,
        None => url::Url::parse(&format!("https://localhost:{}", main_addr.port()))
            .map_err(|e| ServerError::Inconsistent(format!("cannot build the public URL: {e}")))?,
    };

    let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    if let Some(host) = public_url.host_str() {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        if !names.contains(&host) {
            names.push(host);
        }
    }
    let dir = datadir::open(&config.data_dir, &names)?;

    let database_url = match &config.database_url {
        Some(url) => url.clone(),
        None => format!("sqlite://{}", config.data_dir.join("sextant.db").display()),
    };
    let store = sextant_store::connect(&database_url).await?;

    let cas = TrustedCas {
        current: Arc::new(dir.ca),
        previous: dir.previous_ca.map(Arc::new),
    };
    let (main_tls, mtls_tls) = tls_configs(&dir.server_cert, &cas, &[])?;
    let tls_parts = Arc::new(TlsParts {
        cert: ArcSwap::from_pointee(dir.server_cert.clone()),
        crls: ArcSwap::from_pointee(Vec::new()),
    });
    let ca = cas.current.clone();
    let config_cache = Arc::new(runtime_config::ConfigCache::default());
    let config_cache_handle = config_cache.clone();
    let main_tls: SharedServerConfig = Arc::new(ArcSwap::new(main_tls));
    let mtls_tls: SharedServerConfig = Arc::new(ArcSwap::new(mtls_tls));

    let spec_limits = options.spec_limits.unwrap_or_default();
    // Fetch requests read specs up to the fetched-spec limit; webhooks keep the default.
    let fetcher = sextant_fetch::Fetcher::new(sextant_fetch::FetchPolicy {
        allow_private: config.fetch_allow_private,
        allow_hosts: config.fetch_allow_hosts.clone(),
        max_bytes: spec_limits.max_fetched_spec,
        ..sextant_fetch::FetchPolicy::default()
    })
    .map_err(ServerError::Fetch)?;
    let webhook_fetcher = sextant_fetch::Fetcher::new(sextant_fetch::FetchPolicy {
        allow_private: config.fetch_allow_private,
        allow_hosts: config.fetch_allow_hosts.clone(),
        ..sextant_fetch::FetchPolicy::default()
    })
    .map_err(ServerError::Fetch)?;
    let issuer = datadir::load_issuer(&config.data_dir)?;
    let base = public_url.as_str().trim_end_matches('/');
    let limits = options.graphql_limits.unwrap_or_default();
    let settings = sextant_director::Settings {
        token_url: format!("{base}/oauth2/token"),
        connector_url: format!("{base}/connector/graphql"),
        application_token_ttl: config.token_lifetimes.application,
        runtime_token_ttl: config.token_lifetimes.runtime,
        limits,
        spec_limits,
    };
    // The certificate-secured listener, as clients reach it: the public host, the mTLS port.
    let mut mtls_url = public_url.clone();
    mtls_url
        .set_port(Some(mtls_addr.port()))
        .map_err(|()| ServerError::Inconsistent("cannot build the mTLS URL".into()))?;
    let mtls_base = mtls_url.as_str().trim_end_matches('/').to_owned();
    let connector = sextant_connector::schema(
        store.clone(),
        ca.clone(),
        sextant_connector::Settings {
            director_url: format!("{mtls_base}/director/graphql"),
            certificate_secured_connector_url: format!("{mtls_base}/connector/graphql"),
            csr_token_ttl: config.token_lifetimes.csr,
            certificate_validity: config.certificate_validity,
            subject: sextant_connector::SubjectTemplate::default(),
            trusted_cas_pem: cas.pem(),
            limits,
        },
    );
    let provisioner = {
        let provider = sextant_provisioner::local::LocalProvider::new(
            sextant_provisioner::local::LocalSettings {
                root: config.data_dir.join("runtimes"),
                agent_program: options.agent_program.clone(),
                ca_pem: cas.pem(),
            },
        );
        let mut settings =
            sextant_provisioner::ProvisionerSettings::new(format!("{base}/connector/graphql"));
        settings.token_ttl = config.token_lifetimes.runtime;
        if let Some(timeout) = options.connect_timeout {
            settings.connect_timeout = timeout;
        }
        if let Some(lease) = options.lease {
            settings.lease = lease;
        }
        sextant_provisioner::Provisioner::new(store.for_background(), Arc::new(provider), settings)
    };
    let state = http::AppState {
        provisioner: sextant_provisioner::schema(provisioner.clone(), limits),
        schema: sextant_director::schema(store.clone(), fetcher, settings),
        store: store.clone(),
        verifier: Arc::new(dir.verifier),
        issuer: Arc::new(issuer),
        metrics,
        connector,
        ca: ca.clone(),
        previous_ca: cas.previous.clone(),
        config_cache: config_cache.clone(),
        runtime_serving: Arc::new(runtime_gateway::RuntimeServing::new(
            dir.runtime_serving_ca,
            config.certificate_validity,
            options
                .runtime_serving_names
                .clone()
                .unwrap_or(sextant_pki::ServingNamePolicy {
                    domains: Vec::new(),
                    allow_loopback: true,
                }),
        )),
    };
    let shutdown = CancellationToken::new();
    let tasks = vec![
        tokio::spawn(sextant_tls::serve_with(
            main_listener,
            main_tls.clone(),
            http::main_router(state.clone()),
            connection_limits.clone(),
            shutdown.clone(),
        )),
        tokio::spawn(sextant_tls::serve_with(
            mtls_listener,
            mtls_tls.clone(),
            http::mtls_router(state),
            connection_limits,
            shutdown.clone(),
        )),
        tokio::spawn(renew_server_certificate(
            config.data_dir.clone(),
            cas.clone(),
            names,
            tls_parts.clone(),
            [main_tls, mtls_tls.clone()],
            shutdown.clone(),
        )),
        // Background tasks count their statements apart from requests'.
        tokio::spawn({
            let watch = sextant_connector::watch_revocations(
                store.for_background(),
                cas.clone(),
                MtlsRevocations {
                    cas,
                    parts: tls_parts,
                    mtls: mtls_tls,
                    config_cache,
                },
                shutdown.clone(),
            );
            async move {
                watch.await;
                Ok(())
            }
        }),
        tokio::spawn(purge_expired_tokens(
            store.for_background(),
            shutdown.clone(),
        )),
        tokio::spawn({
            let (store, fetcher, shutdown) =
                (store.for_background(), webhook_fetcher, shutdown.clone());
            let settings = options.notifier.clone().unwrap_or_default();
            async move {
                notifier::run(store, fetcher, settings, shutdown).await;
                Ok(())
            }
        }),
        tokio::spawn({
            let shutdown = shutdown.clone();
            async move {
                provisioner.run(shutdown).await;
                Ok(())
            }
        }),
    ];
    tracing::info!(%main_addr, %mtls_addr, backend = ?store.backend(), "sextant server started");
    Ok(RunningServer {
        main_addr,
        mtls_addr,
        public_url,
        data_dir: config.data_dir,
        admin_token_path: dir.admin_token_path,
        store,
        config_cache: config_cache_handle,
        shutdown,
        tasks,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn connection_limits_follow_the_file_limit() {
        let defaults = ConnectionSettings::default();
        // 1,024 files: 256 kept, 384 per listener.
        assert_eq!(
            listener_limits(&defaults, Some(1024))
                .unwrap()
                .max_connections,
            384
        );
        assert_eq!(
            listener_limits(&defaults, Some(256))
                .unwrap()
                .max_connections,
            96
        );
        assert_eq!(
            listener_limits(&defaults, None).unwrap().max_connections,
            MAX_CONNECTIONS_CAP
        );
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
        assert!(err.contains("at most 384"), "{err}");
        assert_eq!(
            listener_limits(&explicit, Some(4096))
                .unwrap()
                .max_connections,
            500
        );
        let zero = ConnectionSettings {
            idle_timeout: Duration::ZERO,
            ..ConnectionSettings::default()
        };
        assert!(listener_limits(&zero, None).is_err());
    }
}
