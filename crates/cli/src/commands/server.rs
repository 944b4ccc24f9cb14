//! `sextant server`: the whole management plane in one process.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;

use crate::process::{async_runtime, init_logs, shutdown_signal};

#[derive(clap::Args)]
pub(crate) struct ServerArgs {
    /// Where the CA, keys, admin token and (by default) the SQLite database live.
    #[arg(long, env = "SEXTANT_DATA_DIR", default_value = "./sextant-data")]
    data_dir: PathBuf,
    /// `postgres://...` to share state between replicas, or `sqlite://...`; default: SQLite in
    /// the data directory.
    #[arg(long, env = "SEXTANT_DATABASE_URL")]
    database_url: Option<String>,
    /// Main listener (HTTPS): the Director, the Provisioner, the token-secured Connector, the
    /// OAuth2 token endpoint, health and metrics.
    #[arg(long, env = "SEXTANT_LISTEN", default_value = "127.0.0.1:3000")]
    listen: SocketAddr,
    /// mTLS listener: certificate-secured APIs for applications and runtimes.
    #[arg(long, env = "SEXTANT_MTLS_LISTEN", default_value = "127.0.0.1:3001")]
    mtls_listen: SocketAddr,
    /// The URL clients use to reach the main listener (its host goes into the certificate).
    #[arg(long, env = "SEXTANT_PUBLIC_URL")]
    public_url: Option<url::Url>,
    /// Let fetch requests reach loopback, private and link-local addresses (for local
    /// development; off by default).
    #[arg(long, env = "SEXTANT_FETCH_ALLOW_PRIVATE")]
    fetch_allow_private: bool,
    /// Egress allow-list: the only hosts outbound calls (fetch requests, webhook deliveries,
    /// their OAuth and CSRF token requests) may reach, comma-separated: host names,
    /// `*.example.com` (names below it), IP addresses, CIDR blocks (`10.0.0.0/8`). Any other
    /// host is refused before a DNS lookup. Unset: every public host (and private ones with
    /// --fetch-allow-private).
    #[arg(long, env = "SEXTANT_FETCH_ALLOW_HOSTS", value_name = "HOSTS")]
    fetch_allow_hosts: Option<sextant_server::HostAllowList>,
    /// How long a one-time token that pairs an application is valid.
    #[arg(long, env = "SEXTANT_APPLICATION_TOKEN_TTL", default_value = "5m", value_parser = humantime::parse_duration)]
    application_token_ttl: std::time::Duration,
    /// How long a one-time token that pairs a runtime is valid.
    #[arg(long, env = "SEXTANT_RUNTIME_TOKEN_TTL", default_value = "60m", value_parser = humantime::parse_duration)]
    runtime_token_ttl: std::time::Duration,
    /// How long the CSR token handed out by the Connector's `configuration` is valid.
    #[arg(long, env = "SEXTANT_CSR_TOKEN_TTL", default_value = "5m", value_parser = humantime::parse_duration)]
    csr_token_ttl: std::time::Duration,
    /// How long a client certificate issued by the Connector is valid.
    #[arg(long, env = "SEXTANT_CERTIFICATE_VALIDITY", default_value = "90days", value_parser = humantime::parse_duration)]
    certificate_validity: std::time::Duration,
    /// The `sextant` binary the Provisioner's local provider runs as each runtime's agent
    /// (`<program> agent ...`); default: this binary.
    #[arg(long, env = "SEXTANT_AGENT_PROGRAM")]
    agent_program: Option<PathBuf>,
    /// How long a Provisioner operation waits for the runtime's agent to report READY.
    #[arg(long, env = "SEXTANT_PROVISIONER_CONNECT_TIMEOUT", default_value = "5m", value_parser = humantime::parse_duration)]
    provisioner_connect_timeout: std::time::Duration,
    /// The first webhook retry's delay; each next one doubles it (with jitter), up to
    /// --webhook-retry-max.
    #[arg(long, env = "SEXTANT_WEBHOOK_RETRY_BASE", default_value = "1s", value_parser = humantime::parse_duration)]
    webhook_retry_base: std::time::Duration,
    /// The longest delay between two attempts of a webhook delivery.
    #[arg(long, env = "SEXTANT_WEBHOOK_RETRY_MAX", default_value = "5m", value_parser = humantime::parse_duration)]
    webhook_retry_max: std::time::Duration,
    /// How long after its event a delivery is given up (and its webhook marked failing).
    #[arg(long, env = "SEXTANT_WEBHOOK_GIVE_UP_AFTER", default_value = "24h", value_parser = humantime::parse_duration)]
    webhook_give_up_after: std::time::Duration,
    /// How long a delivery being attempted stays with this server; if the server dies, another
    /// (or this one, restarted) retries it after this.
    #[arg(long, env = "SEXTANT_WEBHOOK_LEASE", default_value = "30s", value_parser = humantime::parse_duration)]
    webhook_lease: std::time::Duration,
    /// The most fields, fragment spreads, directives and arguments a GraphQL document may
    /// have once its fragments are expanded (checked before it is validated).
    #[arg(long, env = "SEXTANT_GRAPHQL_MAX_SELECTIONS", default_value_t = sextant_server::GraphqlLimits::DEFAULT.max_selections)]
    graphql_max_selections: usize,
    /// The most values (fields and list items) one GraphQL request may resolve.
    #[arg(long, env = "SEXTANT_GRAPHQL_MAX_RESOLVED", default_value_t = sextant_server::GraphqlLimits::DEFAULT.max_resolved)]
    graphql_max_resolved: usize,
    /// The largest GraphQL answer, in bytes of JSON.
    #[arg(long, env = "SEXTANT_GRAPHQL_MAX_RESPONSE_BYTES", default_value_t = sextant_server::GraphqlLimits::DEFAULT.max_response_bytes)]
    graphql_max_response_bytes: usize,
    /// How long one GraphQL operation may run (the same as `GraphqlLimits::DEFAULT`).
    #[arg(long, env = "SEXTANT_GRAPHQL_TIMEOUT", default_value = "60s", value_parser = humantime::parse_duration)]
    graphql_timeout: std::time::Duration,
    /// The most bytes one spec fetched through a fetch request may have (inline specs stay
    /// bounded at 2 MiB, like documents).
    #[arg(long, env = "SEXTANT_MAX_FETCHED_SPEC_BYTES", default_value_t = sextant_domain::DEFAULT_MAX_FETCHED_SPEC_BYTES)]
    max_fetched_spec_bytes: usize,
    /// The most spec bytes the API and event definitions of one application may store.
    #[arg(long, env = "SEXTANT_SPEC_QUOTA_PER_APPLICATION", default_value_t = sextant_domain::DEFAULT_SPEC_QUOTA_PER_APPLICATION)]
    spec_quota_per_application: u64,
    /// The most spec bytes the API and event definitions of one tenant may store.
    #[arg(long, env = "SEXTANT_SPEC_QUOTA_PER_TENANT", default_value_t = sextant_domain::DEFAULT_SPEC_QUOTA_PER_TENANT)]
    spec_quota_per_tenant: u64,
    /// Most connections open at once on each listener; default: half of what the file limit
    /// (ulimit -n) leaves after a reserve for the database and outbound calls, at most 4096.
    #[arg(long, env = "SEXTANT_MAX_CONNECTIONS")]
    max_connections: Option<usize>,
    /// Most connections open at once on the mTLS listener, where each of a fleet's agents
    /// holds one; default: as --max-connections. Both together must fit in the file limit.
    #[arg(long, env = "SEXTANT_MTLS_MAX_CONNECTIONS")]
    mtls_max_connections: Option<usize>,
    /// Most connections open at once from one address (IPv6: one /64) on each listener;
    /// raise it when many runtimes reach the server from one address (NAT).
    #[arg(long, env = "SEXTANT_MAX_CONNECTIONS_PER_PEER", default_value_t = sextant_server::ConnectionSettings::default().max_per_peer)]
    max_connections_per_peer: usize,
    /// Time for a client's TLS handshake, and then for its first request.
    #[arg(long, env = "SEXTANT_HANDSHAKE_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    handshake_timeout: std::time::Duration,
    /// How long a connection without a request in progress stays open.
    #[arg(long, env = "SEXTANT_IDLE_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    idle_timeout: std::time::Duration,
    /// HTTP/2 keep-alive: a connection silent for this long is pinged and closed if the ping
    /// is not answered within the same time.
    #[arg(long, env = "SEXTANT_HTTP2_KEEP_ALIVE", default_value = "20s", value_parser = humantime::parse_duration)]
    http2_keep_alive: std::time::Duration,
    /// A domain under which each runtime may get an event gateway certificate for
    /// `<runtime id>.<domain>` (repeatable; comma-separated in the environment).
    #[arg(long, env = "SEXTANT_RUNTIME_SERVING_DOMAIN", value_delimiter = ',')]
    runtime_serving_domain: Vec<String>,
    /// Whether runtimes may get event gateway certificates for loopback names (`localhost`,
    /// 127.0.0.0/8, ::1), as the local provider's runtimes need.
    #[arg(long, env = "SEXTANT_RUNTIME_SERVING_LOOPBACK", default_value_t = true, action = clap::ArgAction::Set)]
    runtime_serving_loopback: bool,
}

/// Runs the management plane until interrupted.
pub(crate) fn run(args: ServerArgs) -> anyhow::Result<()> {
    init_logs("info", std::io::stdout);
    let runtime = async_runtime()?;
    runtime.block_on(async move {
        let agent_program = match args.agent_program {
            Some(program) => program,
            None => std::env::current_exe().context("finding this binary (the agent program)")?,
        };
        let runtime_serving_names = sextant_server::ServingNamePolicy::new(
            &args.runtime_serving_domain,
            args.runtime_serving_loopback,
        )
        .context("--runtime-serving-domain")?;
        let provisioner = sextant_server::ServerOptions {
            runtime_serving_names: Some(runtime_serving_names),
            agent_program: Some(agent_program),
            connect_timeout: Some(args.provisioner_connect_timeout),
            lease: None,
            notifier: Some(sextant_server::notifier::NotifierSettings {
                retry_base: args.webhook_retry_base,
                retry_max: args.webhook_retry_max,
                give_up_after: args.webhook_give_up_after,
                lease: args.webhook_lease,
                ..sextant_server::notifier::NotifierSettings::default()
            }),
            graphql_limits: Some(sextant_server::GraphqlLimits {
                max_selections: args.graphql_max_selections,
                max_resolved: args.graphql_max_resolved,
                max_response_bytes: args.graphql_max_response_bytes,
                timeout: args.graphql_timeout,
            }),
            spec_limits: Some(sextant_domain::SpecLimits {
                max_fetched_spec: args.max_fetched_spec_bytes,
                per_application: args.spec_quota_per_application,
                per_tenant: args.spec_quota_per_tenant,
            }),
            connections: Some(sextant_server::ConnectionSettings {
                max_connections: args.max_connections,
                mtls_max_connections: args.mtls_max_connections,
                max_per_peer: args.max_connections_per_peer,
                handshake_timeout: args.handshake_timeout,
                idle_timeout: args.idle_timeout,
                keep_alive_interval: args.http2_keep_alive,
            }),
            agent_flush_interval: None,
        };
        let running = sextant_server::start_with(sextant_server::ServerConfig {
            data_dir: args.data_dir,
            database_url: args.database_url,
            listen: args.listen,
            mtls_listen: args.mtls_listen,
            public_url: args.public_url,
            fetch_allow_private: args.fetch_allow_private,
            fetch_allow_hosts: args.fetch_allow_hosts,
            token_lifetimes: sextant_server::TokenLifetimes {
                application: args.application_token_ttl,
                runtime: args.runtime_token_ttl,
                csr: args.csr_token_ttl,
            },
            certificate_validity: args.certificate_validity,
        }, provisioner)
        .await
        .map_err(anyhow::Error::new)
        .context("sextant server could not start")?;
        let base = running.public_url.as_str().trim_end_matches('/').to_owned();
        // The banner must never take the server down: if stdout is closed (`| head -1`),
        // writing fails and is ignored.
        let mut out = std::io::stdout().lock();
        macro_rules! say {
            ($out:expr, $($arg:tt)*) => {{
                use std::io::Write as _;
                let _ = writeln!($out, $($arg)*);
            }};
        }
        say!(out, "Sextant is running.");
        say!(out, "  Director GraphQL: {base}/director/graphql");
        say!(out, "  Provisioner:      {base}/provisioner/graphql");
        say!(out, "  Health:           {base}/healthz  {base}/readyz  {base}/metrics");
        say!(out, "  mTLS listener:    {}", running.mtls_addr);
        say!(out, "  CA certificate:   {}", running.data_dir.join("ca.crt").display());
        say!(out, "  Admin token:      {}", running.admin_token_path.display());
        say!(out, "Try: curl --cacert {} -H \"Authorization: Bearer $(cat {})\" {base}/director/graphql -d '{{\"query\":\"{{applications{{totalCount}}}}\"}}' -H 'Content-Type: application/json'",
            running.data_dir.join("ca.crt").display(), running.admin_token_path.display());
        drop(out);
        let token = running.shutdown_token();
        tokio::spawn(async move {
            shutdown_signal().await;
            tracing::info!("shutting down");
            token.cancel();
        });
        running.wait().await;
        Ok(())
    })
}
