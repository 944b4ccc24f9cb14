//! `sextant`: the management plane in one binary.
//!
//! - `sextant demo`: the whole system on this machine, walking the seed's flows.
//! - `sextant server`: the whole management plane in one process.
//! - `sextant agent`: a runtime agent.
//! - `sextant app pair|register|config|listen|send-event`: the application client.
//! - `sextant admin token`: a signed user token for a tenant and scopes.
//! - `sextant schema director|connector|provisioner`: an API's GraphQL SDL.
#![forbid(unsafe_code)]

mod demo;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use sextant_domain::{Scope, TenantId};

#[derive(Parser)]
#[command(
    name = "sextant",
    version,
    about = "Sextant: a management plane connecting applications with runtimes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the management plane (Director, Connector, Provisioner, webhook delivery).
    // Boxed: the server's options make it far larger than the other commands.
    Server(Box<ServerArgs>),
    /// Administrative commands that work on the data directory.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Run a runtime agent: pair with a one-time token, keep the certificate renewed, follow
    /// the runtime's configuration and report status and labels to the Director.
    Agent(AgentArgs),
    /// The application client: pair an application, register its APIs, pull its
    /// configuration, serve its webhook, send events to runtimes.
    App(AppArgs),
    /// Bring the whole system up on this machine (management plane, a local runtime, a sample
    /// application) and walk the seed's flows; stays up until interrupted, or with --ci checks
    /// every step and exits.
    Demo(demo::DemoArgs),
    /// Print an API's GraphQL schema (SDL).
    Schema {
        #[arg(value_enum)]
        api: SchemaApi,
    },
}

#[derive(clap::Args)]
struct ServerArgs {
    /// Where the CA, keys, admin token and (by default) the SQLite database live.
    #[arg(long, env = "SEXTANT_DATA_DIR", default_value = "./sextant-data")]
    data_dir: PathBuf,
    /// `postgres://...` to share state between replicas, or `sqlite://...`; default: SQLite in
    /// the data directory.
    #[arg(long, env = "SEXTANT_DATABASE_URL")]
    database_url: Option<String>,
    /// Main listener (HTTPS): the Director for users, health and metrics.
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

#[derive(clap::Args)]
struct AgentArgs {
    /// A file of KEY=VALUE lines with CONNECTOR_URL, TOKEN, RUNTIME_ID, TENANT and
    /// CA_CERT_FILE (Compass's agent configuration); without it they are read from the
    /// environment.
    #[arg(long, env = "SEXTANT_AGENT_CONFIG")]
    config_file: Option<PathBuf>,
    /// Where the agent keeps its key, certificates, state and applied configuration.
    #[arg(
        long,
        env = "SEXTANT_AGENT_STATE_DIR",
        default_value = "./sextant-agent-state"
    )]
    state_dir: PathBuf,
    /// Reported as the runtime's `runtime/event_service_url` label.
    #[arg(long, env = "SEXTANT_AGENT_EVENT_SERVICE_URL")]
    event_service_url: Option<String>,
    /// Reported as the runtime's `runtime/console_url` label.
    #[arg(long, env = "SEXTANT_AGENT_CONSOLE_URL")]
    console_url: Option<String>,
    /// Renew the certificate at start (it is renewed at two thirds of its life anyway).
    #[arg(long)]
    renew_now: bool,
    /// Where the application gateway listens (plain HTTP, for the runtime's workloads):
    /// `http://<addr>/<application>/<api>/<path>` reaches the API with the runtime's
    /// credentials.
    #[arg(
        long,
        env = "SEXTANT_AGENT_GATEWAY_LISTEN",
        default_value = "127.0.0.1:8080"
    )]
    gateway_listen: SocketAddr,
    /// Let the gateway call APIs on loopback, private and link-local addresses.
    #[arg(long, env = "SEXTANT_AGENT_GATEWAY_ALLOW_PRIVATE")]
    gateway_allow_private: bool,
    /// Egress allow-list of the gateway: the only hosts it calls APIs (and their token
    /// endpoints) on, comma-separated, in the form of the server's --fetch-allow-hosts.
    /// Unset: every public host (and private ones with --gateway-allow-private).
    #[arg(long, env = "SEXTANT_AGENT_GATEWAY_ALLOW_HOSTS", value_name = "HOSTS")]
    gateway_allow_hosts: Option<sextant_fetch::HostAllowList>,
    /// Where the event gateway listens (HTTPS; paired applications of the runtime's
    /// configuration post events with their client certificate to
    /// `https://<name>:<port>/<application>/v1/events`). Needs --event-sink.
    #[arg(
        long,
        env = "SEXTANT_AGENT_EVENT_GATEWAY_LISTEN",
        requires = "event_sink"
    )]
    event_gateway_listen: Option<SocketAddr>,
    /// The DNS name or IP address applications reach the event gateway by (its certificate
    /// and the reported `runtime/event_service_url`); default: the listen IP, or `localhost`
    /// when it is unspecified.
    #[arg(long, env = "SEXTANT_AGENT_EVENT_GATEWAY_NAME")]
    event_gateway_name: Option<String>,
    /// Where the event gateway delivers events: `file:<path>` (one JSON line each),
    /// `command:<program> <args>` (the event's JSON on stdin, no shell) or an http(s) URL
    /// (POSTed). Without it no event gateway runs.
    #[arg(
        long,
        env = "SEXTANT_AGENT_EVENT_SINK",
        requires = "event_gateway_listen"
    )]
    event_sink: Option<sextant_agent::EventSink>,
}

#[derive(clap::Args)]
struct AppArgs {
    /// Where the application keeps its key, certificates, state and configuration.
    #[arg(
        long,
        env = "SEXTANT_APP_STATE_DIR",
        default_value = "./sextant-app-state"
    )]
    state_dir: PathBuf,
    /// Renew the client certificate now (it is renewed at two thirds of its life anyway).
    #[arg(long, global = true)]
    renew_now: bool,
    #[command(subcommand)]
    command: AppCommand,
}

#[derive(Subcommand)]
enum AppCommand {
    /// Pair with a one-time token (raw, or `rawEncoded`); without a token, resume from the
    /// state directory. Prints the application's identity and certificate.
    Pair {
        /// The one-time token (`token` or `rawEncoded` of requestOneTimeTokenForApplication).
        #[arg(long, env = "SEXTANT_APP_TOKEN")]
        token: Option<String>,
        /// The token-secured Connector (`https://…/connector/graphql`) for a raw token.
        #[arg(long, env = "SEXTANT_APP_CONNECTOR_URL")]
        connector_url: Option<String>,
        /// The CA (PEM) of the management plane's TLS certificate; default: system roots.
        #[arg(long, env = "SEXTANT_APP_CA_FILE")]
        ca_file: Option<PathBuf>,
    },
    /// Register APIs, event APIs and documents (an API or event that exists by name is
    /// updated; a document by title is replaced).
    Register {
        /// A YAML or JSON manifest with `apis`, `events` and `documents`.
        #[arg(long)]
        file: Option<PathBuf>,
        /// An OpenAPI document registered as an API (name from info.title, target URL from
        /// servers[0].url).
        #[arg(long)]
        openapi: Option<PathBuf>,
        /// An AsyncAPI document registered as an event API (name from info.title).
        #[arg(long)]
        asyncapi: Option<PathBuf>,
        /// The name for --openapi/--asyncapi instead of info.title.
        #[arg(long)]
        name: Option<String>,
        /// The target URL for --openapi instead of servers[0].url.
        #[arg(long)]
        target_url: Option<String>,
    },
    /// Pull the configuration for the runtimes the application is assigned to; prints it as
    /// JSON and saves it in the state directory.
    Config,
    /// Serve the Application Webhook API: verify signed notifications, answer credential
    /// requests with setAPIAuth, pull the configuration on changes.
    Listen {
        /// Where to listen (plain HTTP).
        #[arg(long, env = "SEXTANT_APP_LISTEN", default_value = "127.0.0.1:8090")]
        listen: SocketAddr,
        /// A file holding the webhook's secret.
        #[arg(long, env = "SEXTANT_APP_WEBHOOK_SECRET_FILE")]
        webhook_secret_file: PathBuf,
        /// A program (split on whitespace, no shell) printing an AuthInput as JSON; run with
        /// SEXTANT_API_ID and SEXTANT_RUNTIME_ID set.
        #[arg(long, conflicts_with = "credentials_file")]
        credentials_command: Option<String>,
        /// A file holding an AuthInput as JSON.
        #[arg(long)]
        credentials_file: Option<PathBuf>,
    },
    /// Post an event to a runtime's event gateway with the application's certificate.
    SendEvent {
        /// The runtime's eventing URL; default: the eventing URL of --runtime-id, else the
        /// application's defaultURL.
        #[arg(long)]
        runtime_url: Option<String>,
        /// The runtime meant (its id must be in the event gateway's certificate); default:
        /// the assigned runtime whose eventing URL --runtime-url (or defaultURL) is.
        #[arg(long)]
        runtime_id: Option<uuid::Uuid>,
        /// `event-type`.
        #[arg(long = "type")]
        event_type: String,
        /// `event-type-version`.
        #[arg(long)]
        type_version: String,
        /// `data`, as JSON.
        #[arg(long)]
        data: String,
        /// `event-id`; default: a new UUID.
        #[arg(long)]
        event_id: Option<String>,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Print a signed token for a tenant with the given scopes.
    Token {
        #[arg(long, env = "SEXTANT_DATA_DIR", default_value = "./sextant-data")]
        data_dir: PathBuf,
        /// The tenant (a UUID). Repeat to allow several; the first is the default and others
        /// are selected with the `Tenant` header.
        #[arg(long, required = true)]
        tenant: Vec<uuid::Uuid>,
        /// Space-separated scopes, e.g. "application:read application:write".
        #[arg(long)]
        scopes: String,
        /// The token's subject.
        #[arg(long, default_value = "admin")]
        subject: String,
        /// Lifetime, e.g. "1h", "30d".
        #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
        ttl: Duration,
    },
    /// Start a CA rotation: a new CA signs client certificates from the next server start on;
    /// the current one stays trusted (and keeps issuing the listeners' certificate) until
    /// `retire-previous-ca`. See the README's "Rotating the CA".
    RotateCa {
        #[arg(long, env = "SEXTANT_DATA_DIR", default_value = "./sextant-data")]
        data_dir: PathBuf,
    },
    /// End a CA rotation: stop trusting the previous CA. Refused while clients still hold
    /// unrevoked, unexpired certificates of it, unless --force.
    RetirePreviousCa {
        #[arg(long, env = "SEXTANT_DATA_DIR", default_value = "./sextant-data")]
        data_dir: PathBuf,
        /// The database the servers use; default: SQLite in the data directory.
        #[arg(long, env = "SEXTANT_DATABASE_URL")]
        database_url: Option<String>,
        /// Retire even though clients still depend on the previous CA (they are cut off).
        #[arg(long)]
        force: bool,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum SchemaApi {
    Director,
    Connector,
    Provisioner,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Schema {
            api: SchemaApi::Director,
        } => {
            print!("{}", sextant_director::sdl());
            Ok(())
        }
        Command::Schema {
            api: SchemaApi::Connector,
        } => {
            print!("{}", sextant_connector::sdl());
            Ok(())
        }
        Command::Schema {
            api: SchemaApi::Provisioner,
        } => {
            print!("{}", sextant_provisioner::sdl());
            Ok(())
        }
        Command::Admin(AdminCommand::Token {
            data_dir,
            tenant,
            scopes,
            subject,
            ttl,
        }) => {
            let scopes: Vec<String> = scopes.split_whitespace().map(str::to_owned).collect();
            if let Some(unknown) = scopes.iter().find(|s| Scope::parse(s).is_none()) {
                eprintln!("warning: {unknown:?} is not a scope Sextant checks; it grants nothing");
            }
            let issuer = sextant_server::load_issuer(&data_dir).with_context(|| {
                format!(
                    "no signing key in {} (start `sextant server --data-dir {}` once first)",
                    data_dir.display(),
                    data_dir.display()
                )
            })?;
            let tenants: Vec<TenantId> = tenant.into_iter().map(TenantId).collect();
            println!("{}", issuer.issue(&subject, &tenants, &scopes, ttl)?);
            Ok(())
        }
        Command::Admin(AdminCommand::RotateCa { data_dir }) => {
            let rotation = sextant_server::rotate_ca(&data_dir)
                .with_context(|| format!("cannot rotate the CA in {}", data_dir.display()))?;
            print!("{}", rotation.new_ca_pem);
            eprintln!(
                "The new CA is in {dir}/ca.crt (printed above); the previous one is in \
                 {dir}/ca-previous.crt.\n\
                 Next: copy ca.crt, ca.key, ca-previous.crt and ca-previous.key to every \
                 replica's data directory and restart the servers one by one. Clients keep \
                 working and get certificates of the new CA when they renew. Once they have, \
                 run `sextant admin retire-previous-ca`.",
                dir = data_dir.display()
            );
            Ok(())
        }
        Command::Admin(AdminCommand::RetirePreviousCa {
            data_dir,
            database_url,
            force,
        }) => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let outcome = runtime.block_on(sextant_server::retire_previous_ca(
                &data_dir,
                database_url.as_deref(),
                force,
            ))?;
            match outcome {
                sextant_server::Retirement::NothingToRetire => {
                    eprintln!("There is no previous CA: nothing to retire.");
                    Ok(())
                }
                sextant_server::Retirement::ClientsRemain(n) => anyhow::bail!(
                    "{n} client(s) hold unrevoked, unexpired certificates of the previous CA and \
                     none of the current one; they must renew first (or be revoked). --force \
                     retires it anyway."
                ),
                sextant_server::Retirement::Retired { clients_cut_off } => {
                    eprintln!(
                        "Retired the previous CA ({clients_cut_off} client(s) cut off). \
                         Remove ca-previous.crt and ca-previous.key from every replica and \
                         restart the servers: the listeners' certificate is then issued by \
                         the new CA."
                    );
                    Ok(())
                }
            }
        }
        Command::Server(args) => server(*args),
        Command::Agent(args) => agent(args),
        Command::App(args) => app(args),
        Command::Demo(args) => demo::run(args),
    }
}

fn app(args: AppArgs) -> anyhow::Result<()> {
    use sextant_app::{AppClient, PairOptions};
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SEXTANT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let state_dir = args.state_dir;
    let renew_now = args.renew_now;
    runtime.block_on(async move {
        let open = || async {
            AppClient::pair(
                &state_dir,
                PairOptions {
                    renew_now,
                    ..PairOptions::default()
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!(sextant_app::chain(&e)))
        };
        match args.command {
            AppCommand::Pair {
                token,
                connector_url,
                ca_file,
            } => {
                let client = AppClient::pair(
                    &state_dir,
                    PairOptions {
                        token,
                        connector_url,
                        ca_file,
                        renew_now,
                    },
                )
                .await
                .map_err(|e| anyhow::anyhow!(sextant_app::chain(&e)))?;
                println!("{}", sextant_app::to_json(&client.identity().await));
                Ok(())
            }
            AppCommand::Register {
                file,
                openapi,
                asyncapi,
                name,
                target_url,
            } => {
                let mut manifest = sextant_app::Manifest::default();
                if let Some(file) = &file {
                    manifest.extend(sextant_app::Manifest::load(file)?);
                }
                if let Some(path) = &openapi {
                    manifest.extend(sextant_app::Manifest::from_openapi(
                        path,
                        name.as_deref(),
                        target_url.as_deref(),
                    )?);
                }
                if let Some(path) = &asyncapi {
                    manifest.extend(sextant_app::Manifest::from_asyncapi(path, name.as_deref())?);
                }
                if file.is_none() && openapi.is_none() && asyncapi.is_none() {
                    anyhow::bail!("nothing to register: give --file, --openapi or --asyncapi");
                }
                let client = open().await?;
                let done = sextant_app::register::register(&client, &manifest)
                    .await
                    .map_err(|e| anyhow::anyhow!(sextant_app::chain(&e)))?;
                println!("{}", sextant_app::to_json(&done));
                Ok(())
            }
            AppCommand::Config => {
                let client = open().await?;
                let config = client
                    .pull_configuration(None)
                    .await
                    .map_err(|e| anyhow::anyhow!(sextant_app::chain(&e)))?;
                println!("{}", sextant_app::to_json(&config));
                Ok(())
            }
            AppCommand::SendEvent {
                runtime_url,
                runtime_id,
                event_type,
                type_version,
                data,
                event_id,
            } => {
                let event = sextant_app::Event::new(event_type, type_version, event_id, &data)?;
                let client = open().await?;
                let answer = client
                    .send_event_to(runtime_url.as_deref(), runtime_id, &event)
                    .await
                    .map_err(|e| anyhow::anyhow!(sextant_app::chain(&e)))?;
                println!("{}", sextant_app::to_json(&answer));
                Ok(())
            }
            AppCommand::Listen {
                listen,
                webhook_secret_file,
                credentials_command,
                credentials_file,
            } => {
                let secret = std::fs::read_to_string(&webhook_secret_file)
                    .with_context(|| format!("cannot read {}", webhook_secret_file.display()))?;
                let credentials = match (credentials_command, credentials_file) {
                    (Some(command), _) => Some(sextant_app::CredentialSource::command(&command)?),
                    (None, Some(file)) => Some(sextant_app::CredentialSource::File(file)),
                    (None, None) => None,
                };
                let client = std::sync::Arc::new(open().await?);
                let shutdown = tokio_util::sync::CancellationToken::new();
                tokio::spawn(client.clone().keep_renewed(shutdown.clone()));
                let listener = sextant_app::WebhookListener::new(
                    secret.trim_end_matches(['\r', '\n']).as_bytes(),
                    std::sync::Arc::new(sextant_app::ClientHandler {
                        client: client.clone(),
                        credentials,
                    }),
                    Some(client.state_dir()),
                )?;
                let bound = listener.spawn(listen, shutdown.clone()).await?;
                eprintln!(
                    "Application webhook for {} ({}): http://{bound}/",
                    client.application_name(),
                    client.application_id()
                );
                shutdown_signal().await;
                shutdown.cancel();
                Ok(())
            }
        }
    })
}

fn agent(args: AgentArgs) -> anyhow::Result<()> {
    let (gateway_listen, gateway_allow_private, gateway_allow_hosts) = (
        args.gateway_listen,
        args.gateway_allow_private,
        args.gateway_allow_hosts,
    );
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SEXTANT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let bootstrap = sextant_agent::BootstrapConfig::load(args.config_file.as_deref())
        .context("reading the agent's bootstrap configuration")?;
    let mut config = sextant_agent::AgentConfig::new(bootstrap, args.state_dir);
    config.event_service_url = args.event_service_url;
    config.console_url = args.console_url;
    config.renew_now = args.renew_now;
    if let (Some(listen), Some(sink)) = (args.event_gateway_listen, args.event_sink) {
        let mut events = sextant_agent::EventGatewayConfig::new(listen, sink);
        events.name = args.event_gateway_name;
        config.event_gateway = Some(events);
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let agent = sextant_agent::Agent::new(config).context("starting the agent")?;
        let shutdown = tokio_util::sync::CancellationToken::new();
        let token = shutdown.clone();
        tokio::spawn(async move {
            shutdown_signal().await;
            token.cancel();
        });
        let fetcher = sextant_fetch::Fetcher::new(sextant_fetch::FetchPolicy {
            allow_private: gateway_allow_private,
            allow_hosts: gateway_allow_hosts,
            ..sextant_fetch::FetchPolicy::default()
        })?;
        let gateway = sextant_gateway::application_gateway(agent.handle().configuration(), fetcher);
        let listener = tokio::net::TcpListener::bind(gateway_listen)
            .await
            .with_context(|| format!("the gateway cannot listen on {gateway_listen}"))?;
        eprintln!("Application gateway: http://{gateway_listen}/<application>/<api>/<path>");
        let stop = shutdown.clone();
        tokio::spawn(async move {
            let served = axum::serve(listener, gateway)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "the application gateway stopped");
            }
        });
        let result = agent.run(shutdown.clone()).await;
        shutdown.cancel();
        result.context("the agent stopped")?;
        Ok(())
    })
}

fn server(args: ServerArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SEXTANT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
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
                max_per_peer: args.max_connections_per_peer,
                handshake_timeout: args.handshake_timeout,
                idle_timeout: args.idle_timeout,
                keep_alive_interval: args.http2_keep_alive,
            }),
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

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {},
                    _ = term.recv() => {},
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
