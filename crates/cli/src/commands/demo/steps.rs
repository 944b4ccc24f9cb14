//! The seed's flows, one function per step, each printing what happened and checking it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sextant_app::webhook::{CONFIGURATION_CHANGED, CREDENTIALS_REQUESTED};
use sextant_app::{AppClient, Event, Manifest, PairOptions, WebhookListener};
use sextant_domain::Credential;
use sextant_domain::runtime_config::{CredentialsSource, RuntimeConfiguration};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::admin::Admin;
use super::report::{Checked, Failure, abridged, detail, heading, passed};
use super::sample::{
    ASYNCAPI, BASE_PATH, DemoHandler, ORDERS_PATH, Outcome, Recorder, SampleApi, describe, openapi,
};

/// The sample application's name, API and event API.
const APP_NAME: &str = "shop";
const API_NAME: &str = "orders";
const EVENT_API_NAME: &str = "order-events";
const RUNTIME_NAME: &str = "demo-runtime";

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
    pairing(ctx, p).await?;
    p.step = 2;
    heading(2);
    api_registration(ctx, p).await?;
    p.step = 3;
    heading(3);
    runtime_creation(ctx, p).await?;
    p.step = 4;
    heading(4);
    runtime_ready_notification(ctx, p).await?;
    p.step = 5;
    heading(5);
    credentials_through_webhook(ctx, p).await?;
    p.step = 6;
    heading(6);
    configuration_applied(ctx, p).await?;
    p.step = 7;
    heading(7);
    workload_calls_api(ctx, p).await?;
    p.step = 8;
    heading(8);
    event_to_runtime(ctx, p).await?;
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

async fn pairing(ctx: &Ctx, p: &mut Progress) -> Checked<()> {
    let (name, data) = with_free_name(APP_NAME, |name| {
        ctx.admin.director(
            "mutation($in: ApplicationRegisterInput!) { registerApplication(in: $in) { id name labels } }",
            json!({"in": {"name": name, "providerName": "Sextant demo",
                   "description": "A sample shop: an orders API and order events",
                   "labels": {"scenarios": ["DEFAULT"]}}}),
        )
    })
    .await
    .map_err(|e| Failure::new("registerApplication to register the sample application", e))?;
    let app = &data["registerApplication"];
    let id = uuid_at(&app["id"], "registerApplication's answer")?;
    p.app = Some((id, name.clone()));
    detail(format!(
        "registerApplication (administrator, main listener): {name}, id {id}, scenarios {}",
        app["labels"]["scenarios"]
    ));

    let data = ctx
        .admin
        .director(
            "mutation($id: ID!) { requestOneTimeTokenForApplication(id: $id) { token connectorURL rawEncoded } }",
            json!({"id": id}),
        )
        .await
        .map_err(|e| Failure::new("requestOneTimeTokenForApplication", e))?;
    let token = &data["requestOneTimeTokenForApplication"];
    let raw_encoded = token["rawEncoded"].as_str().unwrap_or_default().to_owned();
    if raw_encoded.is_empty() {
        return Err(Failure::new(
            "a one-time token with rawEncoded",
            format!("{token}"),
        ));
    }
    detail(format!(
        "requestOneTimeTokenForApplication: a one-time token for {}; rawEncoded {}",
        token["connectorURL"].as_str().unwrap_or("?"),
        abridged(&raw_encoded, 12)
    ));

    let client = AppClient::pair(
        &ctx.app_state_dir,
        PairOptions {
            token: Some(raw_encoded),
            ca_file: Some(ctx.data_dir.join("ca.crt")),
            ..PairOptions::default()
        },
    )
    .await
    .map_err(|e| {
        Failure::new(
            "AppClient::pair to redeem the token at the Connector and get a client certificate",
            sextant_app::chain(&e),
        )
    })?;
    if client.application_id() != id {
        return Err(Failure::new(
            format!("the paired client to be application {id}"),
            format!("it is application {}", client.application_id()),
        ));
    }
    let identity = client.identity().await;
    let certificate = serde_json::to_value(&identity.certificate).unwrap_or_default();
    detail(format!(
        "AppClient::pair: CSR signed; client certificate serial {}, valid until {}, CN (client id) {}",
        identity.certificate.serial,
        certificate["notAfter"].as_str().unwrap_or("?"),
        identity.client_id.as_deref().unwrap_or("?")
    ));
    detail(format!(
        "key, certificate and state in {}",
        client.state_dir().display()
    ));
    let client = Arc::new(client);
    tokio::spawn(client.clone().keep_renewed(ctx.shutdown.clone()));
    p.client = Some(client);
    passed(format!(
        "application {name} is paired: the certificate-secured Director knows it as {id}"
    ));
    Ok(())
}

async fn api_registration(ctx: &Ctx, p: &mut Progress) -> Checked<()> {
    let client = needed(&p.client, "the paired application")?;
    let (app_id, _) = needed(&p.app, "the application")?;
    let manifest = Manifest {
        apis: vec![json!({
            "name": API_NAME,
            "description": "The shop's orders (HTTP basic; each runtime gets its own credentials)",
            "targetURL": ctx.sample_url,
            "spec": {"data": openapi(&ctx.sample_url), "type": "OPEN_API", "format": "YAML"},
            "version": {"value": "v1"},
        })],
        events: vec![json!({
            "name": EVENT_API_NAME,
            "description": "What happens to the shop's orders",
            "spec": {"data": ASYNCAPI, "type": "ASYNC_API", "format": "YAML"},
            "version": {"value": "v1"},
        })],
        documents: vec![],
    };
    let done = sextant_app::register::register(&client, &manifest)
        .await
        .map_err(|e| {
            Failure::new(
                "the application to register its API and event API through the certificate-secured Director",
                sextant_app::chain(&e),
            )
        })?;
    for item in &done {
        detail(format!(
            "{} {}: {} (id {}) by the application itself, over mTLS",
            item.kind, item.name, item.action, item.id
        ));
    }
    let api = done
        .iter()
        .find(|r| r.kind == "api" && r.name == API_NAME)
        .ok_or_else(|| Failure::new("the API registered", format!("{done:?}")))?;
    let api_id = uuid_at(&json!(api.id), "the API's id")?;
    p.api = Some((api_id, API_NAME.to_owned()));

    // The listener's port first: the webhook points at it, and its secret is known only once
    // the webhook exists.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| Failure::new("a port for the webhook listener", e.to_string()))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Failure::new("a port for the webhook listener", e.to_string()))?;
    let url = format!("http://{addr}/webhook");
    let data = client
        .director(
            "mutation($app: ID!, $in: WebhookInput!) { addWebhook(applicationID: $app, in: $in) { id url secret } }",
            json!({"app": app_id, "in": {"type": "CONFIGURATION_CHANGED", "url": url}}),
        )
        .await
        .map_err(|e| Failure::new("addWebhook for the application's listener", sextant_app::chain(&e)))?;
    let hook = &data["addWebhook"];
    let secret = hook["secret"].as_str().unwrap_or_default();
    if secret.is_empty() {
        return Err(Failure::new(
            "addWebhook to show the webhook's secret once",
            format!("{hook}"),
        ));
    }
    detail(format!(
        "addWebhook: {} -> {url}; signing secret {} (shown once, now held by the listener)",
        hook["id"].as_str().unwrap_or("?"),
        abridged(secret, 6)
    ));
    let webhooks = WebhookListener::new(
        secret.as_bytes(),
        Arc::new(DemoHandler {
            client: client.clone(),
            api: ctx.sample.clone(),
            recorder: ctx.recorder.clone(),
        }),
        Some(client.state_dir()),
    )
    .map_err(|e| Failure::new("a webhook listener", sextant_app::chain(&e)))?;
    let stop = ctx.shutdown.clone();
    tokio::spawn(async move {
        if let Err(e) = webhooks.serve(listener, stop).await {
            tracing::error!(error = %e, "the webhook listener stopped");
        }
    });
    p.webhook_url = Some(url.clone());
    detail(format!(
        "webhook listener (sextant_app::WebhookListener): {url}, checking signatures"
    ));

    // What the Director now holds, as the administrator sees it.
    let data = ctx
        .admin
        .director(
            "query($id: ID!) { application(id: $id) {
                apiDefinitions { data { id name targetURL defaultAuth { credential { __typename } } } }
                eventDefinitions { data { id name } }
                webhooks { id url } } }",
            json!({"id": app_id}),
        )
        .await
        .map_err(|e| Failure::new("the application's catalog in the Director", e))?;
    let app = &data["application"];
    let listed = |list: &Value, name: &str| {
        list.as_array()
            .and_then(|items| items.iter().find(|i| i["name"] == name).cloned())
    };
    let api = listed(&app["apiDefinitions"]["data"], API_NAME);
    let event = listed(&app["eventDefinitions"]["data"], EVENT_API_NAME);
    let hooked = app["webhooks"]
        .as_array()
        .is_some_and(|hooks| hooks.iter().any(|h| h["url"] == url.as_str()));
    match (&api, &event, hooked) {
        (Some(api), Some(_), true) if api["defaultAuth"].is_null() => {}
        _ => {
            return Err(Failure::new(
                format!(
                    "API {API_NAME} without defaultAuth, event API {EVENT_API_NAME} and the webhook {url}"
                ),
                format!("{app}"),
            ));
        }
    }
    detail(format!(
        "the Director: API {API_NAME} -> {} (no defaultAuth: every runtime needs credentials of its own)",
        ctx.sample_url
    ));
    passed(format!(
        "API {API_NAME}, event API {EVENT_API_NAME} and the webhook are registered"
    ));
    Ok(())
}

async fn operation_status(ctx: &Ctx, op: &str) -> Result<Value, String> {
    Ok(ctx
        .admin
        .provisioner(
            "query($id: String!) { runtimeOperationStatus(id: $id) { id operation state message runtimeID } }",
            json!({"id": op}),
        )
        .await?["runtimeOperationStatus"]
        .clone())
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

async fn runtime_creation(ctx: &Ctx, p: &mut Progress) -> Checked<()> {
    let (name, data) = with_free_name(RUNTIME_NAME, |name| {
        ctx.admin.provisioner(
            "mutation($config: ProvisionRuntimeInput!) { provisionRuntime(config: $config) }",
            json!({"config": {
                "runtimeInput": {"name": name, "description": "A runtime on this machine",
                                 "labels": {"scenarios": ["DEFAULT"]}},
                "clusterConfig": {"localConfig": {}}
            }}),
        )
    })
    .await
    .map_err(|e| Failure::new("provisionRuntime with the local provider", e))?;
    let op = data["provisionRuntime"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if op.is_empty() {
        return Err(Failure::new("an operation id", format!("{data}")));
    }
    p.operation = Some(op.clone());
    detail(format!(
        "provisionRuntime (administrator, /provisioner/graphql): runtime {name}, scenarios [DEFAULT], localConfig {{}}: operation {op}"
    ));

    let deadline = Instant::now() + ctx.wait;
    let mut last = (String::new(), String::new());
    let status = loop {
        let status = operation_status(ctx, &op)
            .await
            .map_err(|e| Failure::new("runtimeOperationStatus", e))?;
        if p.runtime.is_none()
            && let Some(id) = status["runtimeID"].as_str().and_then(|s| s.parse().ok())
        {
            p.runtime = Some((id, name.clone()));
            detail(format!("the runtime is registered in the Director: {id}"));
        }
        let state = status["state"].as_str().unwrap_or("?").to_owned();
        let message = status["message"].as_str().unwrap_or("").to_owned();
        if (state.clone(), message.clone()) != last {
            detail(format!("runtimeOperationStatus: {state}: {message}"));
            last = (state.clone(), message);
        }
        match state.as_str() {
            "Succeeded" => break status,
            "Failed" => {
                return Err(Failure::new(
                    "the Provision operation to succeed",
                    format!("it failed: {status}"),
                ));
            }
            _ if Instant::now() > deadline => {
                return Err(Failure::new(
                    format!("the Provision operation to succeed within {:?}", ctx.wait),
                    format!("still {status}"),
                ));
            }
            _ => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    };
    let (runtime, _) = match &p.runtime {
        Some(rt) => rt.clone(),
        None => (
            uuid_at(&status["runtimeID"], "the operation's runtimeID")?,
            name.clone(),
        ),
    };
    p.runtime = Some((runtime, name.clone()));

    let status = runtime_status(ctx, runtime)
        .await
        .map_err(|e| Failure::new("runtimeStatus", e))?;
    let local = &status["runtimeConfiguration"]["clusterConfig"];
    let dir = local["directory"].as_str().map(PathBuf::from);
    let gateway = local["gatewayPort"]
        .as_u64()
        .and_then(|n| u16::try_from(n).ok());
    let events = local["eventGatewayPort"]
        .as_u64()
        .and_then(|n| u16::try_from(n).ok());
    let (Some(dir), Some(gateway), Some(events)) = (dir, gateway, events) else {
        return Err(Failure::new(
            "runtimeStatus with a LocalConfig (directory, gatewayPort, eventGatewayPort)",
            format!("{status}"),
        ));
    };
    p.runtime_dir = Some(dir.clone());
    p.gateway_port = Some(gateway);
    p.event_gateway_port = Some(events);
    let pid = std::fs::read_to_string(dir.join("agent.pid")).unwrap_or_default();
    detail(format!(
        "the local provider runs `sextant agent` (pid {}) in {}",
        pid.trim(),
        dir.display()
    ));

    let data = ctx
        .admin
        .director(
            "query($id: ID!) { runtime(id: $id) { id name status { condition } labels } }",
            json!({"id": runtime}),
        )
        .await
        .map_err(|e| Failure::new("the runtime in the Director", e))?;
    let rt = &data["runtime"];
    let event_url = rt["labels"]["runtime/event_service_url"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let expected_url = format!("https://127.0.0.1:{events}");
    if rt["status"]["condition"] != "READY" || event_url != expected_url {
        return Err(Failure::new(
            format!("runtime {runtime} READY with label runtime/event_service_url {expected_url}"),
            format!("{rt}"),
        ));
    }
    p.event_url = Some(event_url.clone());
    detail(format!(
        "the agent paired, reported READY and its labels: runtime/event_service_url {event_url}"
    ));
    detail(format!(
        "application gateway http://127.0.0.1:{gateway}/<application>/<api>/<path>; event gateway {event_url}"
    ));
    passed(format!(
        "runtime {name} ({runtime}) is provisioned and READY"
    ));
    Ok(())
}

async fn runtime_ready_notification(ctx: &Ctx, p: &mut Progress) -> Checked<()> {
    let client = needed(&p.client, "the paired application")?;
    let (runtime, _) = needed(&p.runtime, "the runtime")?;
    let event_url = needed(&p.event_url, "the runtime's eventing URL")?;
    let found = ctx
        .recorder
        .wait_for(ctx.wait, |received| {
            received
                .iter()
                .find(|r| {
                    r.event.kind == CONFIGURATION_CHANGED
                        && r.event.runtime_id == runtime
                        && r.outcome
                            == Outcome::Pulled {
                                default_url: event_url.clone(),
                            }
                })
                .cloned()
        })
        .await
        .map_err(|received| {
            Failure::new(
                format!(
                    "CONFIGURATION_CHANGED for runtime {runtime}, after which the pulled \
                     configuration sends events to {event_url}"
                ),
                describe(&received),
            )
        })?;
    for r in ctx.recorder.snapshot() {
        if r.event.kind == CONFIGURATION_CHANGED && r.event.runtime_id == runtime {
            detail(format!("webhook: {r}"));
        }
    }
    let saved = client
        .saved_configuration()
        .ok()
        .flatten()
        .map(|c| {
            format!(
                "defaultURL {}, eventURL {}",
                c.default_url,
                c.event_url.unwrap_or_default()
            )
        })
        .unwrap_or_else(|| "none".into());
    detail(format!(
        "{}: {saved}",
        client.state_dir().join("configuration.json").display()
    ));
    passed(format!(
        "the application heard of the ready runtime through its webhook (event {}) and pulled its configuration",
        found.event.id
    ));
    Ok(())
}

async fn runtime_auth(ctx: &Ctx, app: Uuid, api: Uuid, runtime: Uuid) -> Result<Value, String> {
    Ok(ctx
        .admin
        .director(
            "query($app: ID!, $api: ID!, $rt: ID!) { application(id: $app) { apiDefinition(id: $api) {
                auth(runtimeID: $rt) { runtimeID auth { credential { ... on BasicCredentialData { username password } } } } } } }",
            json!({"app": app, "api": api, "rt": runtime}),
        )
        .await?["application"]["apiDefinition"]["auth"]
        .clone())
}

async fn credentials_through_webhook(ctx: &Ctx, p: &mut Progress) -> Checked<()> {
    let (app, _) = needed(&p.app, "the application")?;
    let (api, api_name) = needed(&p.api, "the API")?;
    let (runtime, _) = needed(&p.runtime, "the runtime")?;
    let found = ctx
        .recorder
        .wait_for(ctx.wait, |received| {
            received
                .iter()
                .find(|r| {
                    r.event.kind == CREDENTIALS_REQUESTED
                        && r.event.runtime_id == runtime
                        && r.event.api_definition_id == Some(api)
                        && matches!(r.outcome, Outcome::CredentialsSet { .. })
                })
                .cloned()
        })
        .await
        .map_err(|received| {
            Failure::new(
                format!(
                    "CREDENTIALS_REQUESTED for API {api_name} ({api}) and runtime {runtime}, \
                     answered with setAPIAuth"
                ),
                describe(&received),
            )
        })?;
    detail(format!("webhook: {found}"));
    let Outcome::CredentialsSet { user } = &found.outcome else {
        return Err(Failure::new("credentials set", format!("{found}")));
    };
    let password = ctx.sample.password_of(user).unwrap_or_default();
    let auth = runtime_auth(ctx, app, api, runtime)
        .await
        .map_err(|e| Failure::new("the API's auth(runtimeID) in the Director", e))?;
    let credential = &auth["auth"]["credential"];
    if auth["runtimeID"] != runtime.to_string()
        || credential["username"] != user.as_str()
        || credential["password"] != password.as_str()
    {
        return Err(Failure::new(
            format!(
                "auth(runtimeID: {runtime}) to hold basic user {user} with the password the shop issued"
            ),
            format!("{auth}"),
        ));
    }
    detail(format!(
        "the Director: apiDefinition({api_name}).auth(runtimeID: {runtime}) = basic {user} / {}",
        abridged(&password, 4)
    ));
    p.credentials = Some((user.clone(), password));
    passed(format!(
        "the runtime has credentials of its own for {api_name}, set by the application through the webhook flow"
    ));
    Ok(())
}

/// What the agent applied, if it holds the API with the runtime's own basic credentials for
/// `user`; otherwise why not.
fn applied(path: &Path, app: Uuid, api: Uuid, user: &str) -> Result<RuntimeConfiguration, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let config: RuntimeConfiguration =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let application = config
        .applications
        .iter()
        .find(|a| a.id == app)
        .ok_or_else(|| format!("application {app} is not in it: {text}"))?;
    let entry = application
        .apis
        .iter()
        .find(|a| a.id == api)
        .ok_or_else(|| format!("API {api} is not in it: {text}"))?;
    let basic_user = match entry.credentials.as_ref().map(|c| &c.credential) {
        Some(Credential::Basic { username, .. }) => Some(username.as_str()),
        _ => None,
    };
    if entry.credentials_source != CredentialsSource::Runtime || basic_user != Some(user) {
        return Err(format!(
            "API {api} has credentials {:?} from {:?}",
            basic_user, entry.credentials_source
        ));
    }
    Ok(config)
}

async fn configuration_applied(ctx: &Ctx, p: &mut Progress) -> Checked<()> {
    let (app, app_name) = needed(&p.app, "the application")?;
    let (api, api_name) = needed(&p.api, "the API")?;
    let (runtime, _) = needed(&p.runtime, "the runtime")?;
    let dir = needed(&p.runtime_dir, "the runtime's directory")?;
    let (user, _) = needed(&p.credentials, "the runtime's credentials")?;
    let path = dir.join("state").join("applied-configuration.json");
    let deadline = Instant::now() + ctx.wait;
    let config = loop {
        match applied(&path, app, api, &user) {
            Ok(config) => break config,
            Err(why) if Instant::now() > deadline => {
                return Err(Failure::new(
                    format!(
                        "{} to list {app_name}'s API {api_name} with the runtime's basic credentials {user}",
                        path.display()
                    ),
                    why,
                ));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };
    detail(format!(
        "the agent followed /runtime/configuration and wrote {}:",
        path.display()
    ));
    for application in &config.applications {
        let apis: Vec<String> = application
            .apis
            .iter()
            .map(|a| {
                format!(
                    "{} -> {} ({:?} credentials)",
                    a.name, a.target_url, a.credentials_source
                )
            })
            .collect();
        let events: Vec<&str> = application.events.iter().map(|e| e.name.as_str()).collect();
        detail(format!(
            "  application {}: APIs [{}], events [{}]",
            application.name,
            apis.join(", "),
            events.join(", ")
        ));
    }
    detail(format!(
        "  eventServiceURL {}",
        config.event_service_url.as_deref().unwrap_or("none")
    ));
    let status = runtime_status(ctx, runtime)
        .await
        .map_err(|e| Failure::new("runtimeStatus", e))?;
    let connection = &status["runtimeConnectionStatus"]["status"];
    if connection != "Connected" {
        return Err(Failure::new(
            "runtimeStatus.runtimeConnectionStatus.status Connected",
            format!("{status}"),
        ));
    }
    detail("runtimeStatus: runtimeConnectionStatus Connected");
    passed(format!(
        "the runtime applied its configuration: {app_name}'s {api_name} with basic user {user}"
    ));
    Ok(())
}

fn plain_client() -> Checked<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| Failure::new("an HTTP client", e.to_string()))
}

async fn workload_calls_api(ctx: &Ctx, p: &mut Progress) -> Checked<()> {
    let (_, app_name) = needed(&p.app, "the application")?;
    let (_, api_name) = needed(&p.api, "the API")?;
    let (runtime, _) = needed(&p.runtime, "the runtime")?;
    let gateway = needed(&p.gateway_port, "the gateway's port")?;
    let (user, _) = needed(&p.credentials, "the runtime's credentials")?;
    let http = plain_client()?;

    let direct = format!("{}{ORDERS_PATH}", ctx.sample_url);
    let status = http
        .get(&direct)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .map_err(|e| Failure::new(format!("GET {direct}"), sextant_app::chain(&e)))?;
    if status != 401 {
        return Err(Failure::new(
            format!("GET {direct} without credentials: HTTP 401"),
            format!("HTTP {status}"),
        ));
    }
    detail(format!("GET {direct} without credentials: HTTP {status}"));

    let url = format!("http://127.0.0.1:{gateway}/{app_name}/{api_name}{ORDERS_PATH}");
    let calls_before = ctx.sample.calls().len();
    let deadline = Instant::now() + ctx.wait;
    let (status, body) = loop {
        let answer = match http.get(&url).send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                (status, r.text().await.unwrap_or_default())
            }
            Err(e) => (0, sextant_app::chain(&e)),
        };
        if answer.0 == 200 || Instant::now() > deadline {
            break answer;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    if status != 200 {
        return Err(Failure::new(
            format!("GET {url} (the workload, without credentials): HTTP 200"),
            format!("HTTP {status}: {body}"),
        ));
    }
    detail(format!("a workload: GET {url} -> HTTP {status}"));
    let compact = serde_json::from_str::<Value>(&body)
        .map(|v| v.to_string())
        .unwrap_or(body);
    detail(format!("  {compact}"));
    let seen = ctx
        .sample
        .calls()
        .into_iter()
        .skip(calls_before)
        .find(|c| c.status == 200);
    match seen {
        Some(call)
            if call.user.as_deref() == Some(user.as_str()) && call.runtime == Some(runtime) =>
        {
            detail(format!(
                "the sample API saw {} {} with basic user {user}: the credentials it issued to runtime {runtime}",
                call.method, call.path
            ));
        }
        other => {
            return Err(Failure::new(
                format!("the sample API to see the runtime's credentials (basic user {user})"),
                format!("{other:?}"),
            ));
        }
    }
    passed(format!(
        "the runtime gateway called {BASE_PATH}{ORDERS_PATH} with the runtime's credentials"
    ));
    Ok(())
}

async fn event_to_runtime(ctx: &Ctx, p: &mut Progress) -> Checked<()> {
    let client = needed(&p.client, "the paired application")?;
    let (_, app_name) = needed(&p.app, "the application")?;
    let event_url = needed(&p.event_url, "the runtime's eventing URL")?;
    let dir = needed(&p.runtime_dir, "the runtime's directory")?;
    let id = Uuid::new_v4().to_string();
    let event = Event {
        event_type: "order.created".into(),
        event_type_version: "v1".into(),
        event_id: Some(id.clone()),
        data: json!({"orderId": "o-1003", "item": "chronometer", "quantity": 1}),
    };
    let deadline = Instant::now() + ctx.wait;
    let answer = loop {
        match client.send_event(Some(&event_url), &event).await {
            Ok(answer) => break answer,
            Err(e) if Instant::now() > deadline => {
                return Err(Failure::new(
                    format!("the event gateway {event_url} to accept the event"),
                    sextant_app::chain(&e),
                ));
            }
            Err(e) => {
                detail(format!("send_event: {} (retrying)", sextant_app::chain(&e)));
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    };
    detail(format!(
        "AppClient::send_event: POST {}/{app_name}/v1/events with the application's client certificate -> {answer}",
        event_url.trim_end_matches('/')
    ));
    let sink = dir.join("events.jsonl");
    let deadline = Instant::now() + ctx.wait;
    let line = loop {
        let text = std::fs::read_to_string(&sink).unwrap_or_default();
        let found = text.lines().find(|line| {
            serde_json::from_str::<Value>(line).is_ok_and(|v| v["event-id"] == id.as_str())
        });
        if let Some(line) = found {
            break line.to_owned();
        }
        if Instant::now() > deadline {
            return Err(Failure::new(
                format!("event {id} in {}", sink.display()),
                if text.is_empty() {
                    "the sink is empty".to_owned()
                } else {
                    text
                },
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    detail(format!("the runtime's sink {}:", sink.display()));
    detail(format!("  {line}"));
    passed(format!(
        "event order.created v1 ({id}) reached the runtime's sink"
    ));
    Ok(())
}
