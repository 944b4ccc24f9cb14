//! Starting the server: binding both listeners, opening the data directory and the store,
//! building the shared state and spawning the listeners and the background tasks;
//! [`RunningServer`] stops them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;
use sextant_background::{BackgroundTask, Schedule};
use sextant_connector::{RevocationWatcher, TrustedCas};
use sextant_store::Store;
use sextant_tls::SharedServerConfig;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::agent_sightings::{AgentFlush, AgentSightings};
use crate::config::{ServerConfig, ServerOptions, listener_limits};
use crate::config_cache::ConfigCache;
use crate::context::{AppState, RuntimeServing};
use crate::error::ServerError;
use crate::listener_tls::{CertificateRenewal, MtlsRevocations, TlsParts, tls_configs};
use crate::token_purge::TokenPurge;
use crate::{datadir, http, notifier, telemetry};

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
    config_cache: Arc<ConfigCache>,
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
    /// most [`SPEC_CACHE_BYTES`](crate::SPEC_CACHE_BYTES)).
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
                Ok(Err(e)) => {
                    tracing::error!(error = %sextant_domain::ErrorChain(&e), "listener failed")
                }
                Err(e) => tracing::error!(error = %e, "listener task failed"),
            }
        }
    }

    /// Cancelling this token stops the server.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }
}

/// Runs a background task on the shared driver until `shutdown`.
fn background<T: BackgroundTask + 'static>(
    task: T,
    schedule: Schedule,
    shutdown: &CancellationToken,
) -> JoinHandle<std::io::Result<()>> {
    let shutdown = shutdown.clone();
    tokio::spawn(async move {
        sextant_background::run(task, schedule, shutdown).await;
        Ok(())
    })
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, ServerError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })
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
        max_connections = connection_limits.main.max_connections,
        mtls_max_connections = connection_limits.mtls.max_connections,
        max_per_peer = connection_limits.main.max_per_peer,
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
    let config_cache = Arc::new(ConfigCache::default());
    let config_cache_handle = config_cache.clone();
    let agents = Arc::new(AgentSightings::default());
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
    let state = AppState {
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
        answers: Arc::default(),
        agents: agents.clone(),
        runtime_serving: Arc::new(RuntimeServing::new(
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
    // The console runs its pages' GraphQL against the same schemas, with the session's consumer.
    let console = sextant_console::ConsoleState::new(
        state.schema.clone(),
        state.provisioner.clone(),
        store.clone(),
        state.verifier.clone(),
        sextant_console::ConsoleSettings {
            public_url: public_url.clone(),
        },
    );
    let shutdown = CancellationToken::new();
    let tasks = vec![
        tokio::spawn(sextant_tls::serve_with(
            main_listener,
            main_tls.clone(),
            http::main_router(state.clone(), console),
            connection_limits.main,
            shutdown.clone(),
        )),
        tokio::spawn(sextant_tls::serve_with(
            mtls_listener,
            mtls_tls.clone(),
            http::mtls_router(state),
            connection_limits.mtls,
            shutdown.clone(),
        )),
        background(
            CertificateRenewal {
                data_dir: config.data_dir.clone(),
                cas: cas.clone(),
                names,
                parts: tls_parts.clone(),
                configs: [main_tls, mtls_tls.clone()],
            },
            CertificateRenewal::schedule(),
            &shutdown,
        ),
        // Background tasks count their statements apart from requests'.
        background(
            RevocationWatcher::new(
                store.for_background(),
                cas.clone(),
                MtlsRevocations {
                    cas,
                    parts: tls_parts,
                    mtls: mtls_tls,
                    config_cache,
                },
            ),
            RevocationWatcher::<MtlsRevocations>::schedule(),
            &shutdown,
        ),
        // Writes what the configuration endpoint saw; once more after shutdown, so that
        // nothing seen before it is lost.
        tokio::spawn({
            let (store, shutdown) = (store.for_background(), shutdown.clone());
            let interval = options
                .agent_flush_interval
                .unwrap_or(crate::AGENT_FLUSH_INTERVAL);
            async move {
                let flush = || AgentFlush {
                    store: store.clone(),
                    sightings: agents.clone(),
                    last_prune: None,
                };
                sextant_background::run(flush(), AgentFlush::schedule(interval), shutdown).await;
                let mut last = flush();
                last.last_prune = Some(tokio::time::Instant::now());
                if let Err(e) = last.flush().await {
                    tracing::warn!(error = %sextant_domain::ErrorChain(&*e), "cannot write the last agent sightings");
                }
                Ok(())
            }
        }),
        background(
            TokenPurge {
                store: store.for_background(),
            },
            TokenPurge::schedule(),
            &shutdown,
        ),
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
