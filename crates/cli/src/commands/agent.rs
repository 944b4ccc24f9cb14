//! `sextant agent`: a runtime agent with its application and event gateways.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;

use crate::process::{async_runtime, init_logs, shutdown_signal};

#[derive(clap::Args)]
pub(crate) struct AgentArgs {
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

/// Runs a runtime agent and its application gateway until interrupted.
pub(crate) fn run(args: AgentArgs) -> anyhow::Result<()> {
    let (gateway_listen, gateway_allow_private, gateway_allow_hosts) = (
        args.gateway_listen,
        args.gateway_allow_private,
        args.gateway_allow_hosts,
    );
    init_logs("info", std::io::stdout);
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
    let runtime = async_runtime()?;
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
        let listener = sextant_agent::listen::bind_patiently(
            gateway_listen,
            sextant_agent::listen::BIND_PATIENCE,
        )
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
