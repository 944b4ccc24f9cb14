//! `sextant app`: the application client.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use clap::Subcommand;
use sextant_app::{AppClient, AppError, PairOptions};
use tokio_util::sync::CancellationToken;

use crate::process::{async_runtime, init_logs, shutdown_signal};

#[derive(clap::Args)]
pub(crate) struct AppArgs {
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
pub(crate) enum AppCommand {
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
        /// An OpenAPI document registered as an API (name from `info.title`, target URL from
        /// `servers[0].url`).
        #[arg(long)]
        openapi: Option<PathBuf>,
        /// An AsyncAPI document registered as an event API (name from info.title).
        #[arg(long)]
        asyncapi: Option<PathBuf>,
        /// The name for --openapi/--asyncapi instead of info.title.
        #[arg(long)]
        name: Option<String>,
        /// The target URL for --openapi instead of `servers[0].url`.
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

/// Runs one command of the application client.
pub(crate) fn run(args: AppArgs) -> anyhow::Result<()> {
    init_logs("info", std::io::stderr);
    let runtime = async_runtime()?;
    let AppArgs {
        state_dir,
        renew_now,
        command,
    } = args;
    runtime.block_on(async move {
        match command {
            AppCommand::Pair {
                token,
                connector_url,
                ca_file,
            } => {
                let options = PairOptions {
                    token,
                    connector_url,
                    ca_file,
                    renew_now,
                };
                pair(&state_dir, options).await
            }
            AppCommand::Register {
                file,
                openapi,
                asyncapi,
                name,
                target_url,
            } => {
                let manifest = manifest(
                    file.as_deref(),
                    openapi.as_deref(),
                    asyncapi.as_deref(),
                    name.as_deref(),
                    target_url.as_deref(),
                )?;
                register(&open(&state_dir, renew_now).await?, &manifest).await
            }
            AppCommand::Config => config(&open(&state_dir, renew_now).await?).await,
            AppCommand::SendEvent {
                runtime_url,
                runtime_id,
                event_type,
                type_version,
                data,
                event_id,
            } => {
                let event = sextant_app::Event::new(event_type, type_version, event_id, &data)?;
                let client = open(&state_dir, renew_now).await?;
                send_event(&client, runtime_url.as_deref(), runtime_id, &event).await
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
                let client = Arc::new(open(&state_dir, renew_now).await?);
                serve_webhook(client, listen, &secret, credentials).await
            }
        }
    })
}

/// An application client error, with its causes, as the command's error.
fn failed(e: AppError) -> anyhow::Error {
    anyhow::anyhow!(sextant_app::chain(&e))
}

/// The paired application of the state directory.
async fn open(state_dir: &Path, renew_now: bool) -> anyhow::Result<AppClient> {
    AppClient::pair(
        state_dir,
        PairOptions {
            renew_now,
            ..PairOptions::default()
        },
    )
    .await
    .map_err(failed)
}

/// Pairs (or resumes) and prints the application's identity and certificate.
async fn pair(state_dir: &Path, options: PairOptions) -> anyhow::Result<()> {
    let client = AppClient::pair(state_dir, options).await.map_err(failed)?;
    println!("{}", sextant_app::to_json(&client.identity().await));
    Ok(())
}

/// What `register` registers: a manifest, an OpenAPI and an AsyncAPI document, together.
fn manifest(
    file: Option<&Path>,
    openapi: Option<&Path>,
    asyncapi: Option<&Path>,
    name: Option<&str>,
    target_url: Option<&str>,
) -> anyhow::Result<sextant_app::Manifest> {
    let mut manifest = sextant_app::Manifest::default();
    if let Some(file) = file {
        manifest.extend(sextant_app::Manifest::load(file)?);
    }
    if let Some(path) = openapi {
        manifest.extend(sextant_app::Manifest::from_openapi(path, name, target_url)?);
    }
    if let Some(path) = asyncapi {
        manifest.extend(sextant_app::Manifest::from_asyncapi(path, name)?);
    }
    if file.is_none() && openapi.is_none() && asyncapi.is_none() {
        anyhow::bail!("nothing to register: give --file, --openapi or --asyncapi");
    }
    Ok(manifest)
}

/// Registers `manifest` and prints what was registered.
async fn register(client: &AppClient, manifest: &sextant_app::Manifest) -> anyhow::Result<()> {
    let done = sextant_app::register::register(client, manifest)
        .await
        .map_err(failed)?;
    println!("{}", sextant_app::to_json(&done));
    Ok(())
}

/// Pulls and prints the configuration.
async fn config(client: &AppClient) -> anyhow::Result<()> {
    let config = client.pull_configuration(None).await.map_err(failed)?;
    println!("{}", sextant_app::to_json(&config));
    Ok(())
}

/// Sends `event` to a runtime's event gateway and prints the answer.
async fn send_event(
    client: &AppClient,
    runtime_url: Option<&str>,
    runtime_id: Option<uuid::Uuid>,
    event: &sextant_app::Event,
) -> anyhow::Result<()> {
    let answer = client
        .send_event_to(runtime_url, runtime_id, event)
        .await
        .map_err(failed)?;
    println!("{}", sextant_app::to_json(&answer));
    Ok(())
}

/// Serves the Application Webhook API on `listen`, keeping the certificate renewed, until
/// interrupted.
async fn serve_webhook(
    client: Arc<AppClient>,
    listen: SocketAddr,
    secret: &str,
    credentials: Option<sextant_app::CredentialSource>,
) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    tokio::spawn(client.clone().keep_renewed(shutdown.clone()));
    let listener = sextant_app::WebhookListener::new(
        secret.trim_end_matches(['\r', '\n']).as_bytes(),
        Arc::new(sextant_app::ClientHandler {
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
