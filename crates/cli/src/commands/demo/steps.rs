//! The seed's flows, one function per step, each printing what happened and checking it;
//! the steps are grouped in the modules below, in the order they are walked.

mod application;
mod credentials;
mod runtime;
mod traffic;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use sextant_app::AppClient;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::admin::Admin;
use super::report::{Checked, Failure, heading};
use super::sample::{Recorder, SampleApi};

/// What the steps work with.
pub(crate) struct Ctx {
    pub admin: Admin,
    pub data_dir: PathBuf,
    pub app_state_dir: PathBuf,
    pub sample: Arc<SampleApi>,
    /// The sample API's base URL (`http://127.0.0.1:<port>/api`).
    pub sample_url: String,
    pub recorder: Arc<Recorder>,
    /// Stops the webhook listener and the application's renewal.
    pub shutdown: CancellationToken,
    /// The longest any one wait takes.
    pub wait: Duration,
}

/// What the steps found and made, kept when a step fails or the walk is cut short, so the
/// demo can clean up and point at what exists.
#[derive(Default)]
pub(crate) struct Progress {
    /// The step running (or last run).
    pub step: usize,
    pub client: Option<Arc<AppClient>>,
    pub app: Option<(Uuid, String)>,
    pub api: Option<(Uuid, String)>,
    pub webhook_url: Option<String>,
    pub operation: Option<String>,
    pub runtime: Option<(Uuid, String)>,
    pub runtime_dir: Option<PathBuf>,
    pub gateway_port: Option<u16>,
    pub event_gateway_port: Option<u16>,
    pub event_url: Option<String>,
    pub credentials: Option<(String, String)>,
}

/// Walks steps 1 to 8, recording in `p` what exists.
pub(crate) async fn walk(ctx: &Ctx, p: &mut Progress) -> Checked<()> {
    p.step = 1;
    heading(1);
    application::pairing(ctx, p).await?;
    p.step = 2;
    heading(2);
    application::api_registration(ctx, p).await?;
    p.step = 3;
    heading(3);
    runtime::runtime_creation(ctx, p).await?;
    p.step = 4;
    heading(4);
    runtime::runtime_ready_notification(ctx, p).await?;
    p.step = 5;
    heading(5);
    credentials::credentials_through_webhook(ctx, p).await?;
    p.step = 6;
    heading(6);
    credentials::configuration_applied(ctx, p).await?;
    p.step = 7;
    heading(7);
    traffic::workload_calls_api(ctx, p).await?;
    p.step = 8;
    heading(8);
    traffic::event_to_runtime(ctx, p).await?;
    Ok(())
}

fn uuid_at(value: &Value, what: &str) -> Checked<Uuid> {
    value
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Failure::new(format!("{what} (an id)"), format!("got {value}")))
}

fn needed<T: Clone>(value: &Option<T>, what: &str) -> Checked<T> {
    value
        .clone()
        .ok_or_else(|| Failure::new(format!("{what} from an earlier step"), "none"))
}

/// Registers under `base`, or `base-2`, `base-3`, … when the name is taken (a reused
/// `--data-dir`).
async fn with_free_name<F, Fut>(base: &str, mut register: F) -> Result<(String, Value), String>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = Result<Value, String>>,
{
    let mut name = base.to_owned();
    for n in 2..=20 {
        match register(name.clone()).await {
            Ok(data) => return Ok((name, data)),
            Err(e) if e.contains("NOT_UNIQUE") || e.contains("not unique") => {
                name = format!("{base}-{n}");
            }
            Err(e) => return Err(e),
        }
    }
    Err(format!("the names {base} to {base}-20 are all taken"))
}

async fn runtime_status(ctx: &Ctx, runtime: Uuid) -> Result<Value, String> {
    Ok(ctx
        .admin
        .provisioner(
            "query($id: String!) { runtimeStatus(id: $id) {
                lastOperationStatus { operation state }
                runtimeConnectionStatus { status errors { message } }
                runtimeConfiguration { clusterConfig { __typename ... on LocalConfig { directory gatewayPort eventGatewayPort } } } } }",
            json!({"id": runtime.to_string()}),
        )
        .await?["runtimeStatus"]
        .clone())
}
