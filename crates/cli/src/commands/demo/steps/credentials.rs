//! Steps 5 and 6: the application sets the runtime's credentials when asked through its
//! webhook, and the runtime's agent applies the configuration that carries them.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sextant_app::webhook::CREDENTIALS_REQUESTED;
use sextant_domain::Credential;
use sextant_domain::runtime_config::{CredentialsSource, RuntimeConfiguration};
use uuid::Uuid;

use super::{Ctx, Progress, needed, runtime_status};
use crate::commands::demo::report::{Checked, Failure, abridged, detail, passed};
use crate::commands::demo::sample::{Outcome, describe};

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

pub(super) async fn credentials_through_webhook(ctx: &Ctx, p: &mut Progress) -> Checked<()> {
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

pub(super) async fn configuration_applied(ctx: &Ctx, p: &mut Progress) -> Checked<()> {
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
