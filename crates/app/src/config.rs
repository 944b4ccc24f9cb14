//! The application's configuration, pulled (the seed's "Get configuration for assigned
//! Runtimes", pull variant), and events sent to a runtime's event gateway.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sextant_client::http::{CALL_TIMEOUT, MAX_BODY, Security, error_message, read_limited};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::client::AppClient;
use crate::error::AppError;
use crate::http;
use crate::state::CONFIGURATION_FILE;

const CONFIG_QUERY: &str = "query($id: ID!) { application(id: $id) { id name labels eventingConfiguration { defaultURL } assignedRuntimes { id name status eventingURL } } }";

/// What the application learns about the runtimes it is assigned to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppConfiguration {
    /// The application.
    #[serde(rename = "applicationID")]
    pub application_id: Uuid,
    /// Its name.
    pub name: String,
    /// Its scenarios: the runtimes of these scenarios are the ones it is assigned to.
    pub scenarios: Vec<String>,
    /// `eventingConfiguration.defaultURL`: the event gateway of the runtime its events go to
    /// (the one chosen with `setDefaultEventingForApplication`, else the oldest runtime of its
    /// scenarios), `""` when there is none.
    #[serde(rename = "defaultURL")]
    pub default_url: String,
    /// Where to post events: `<defaultURL>/<name>/v1/events`, when there is a default URL.
    #[serde(rename = "eventURL")]
    pub event_url: Option<String>,
    /// When it was pulled (RFC 3339).
    pub pulled_at: String,
    /// The runtimes it is assigned to (those of its scenarios), each with its event gateway.
    #[serde(default)]
    pub runtimes: Vec<AssignedRuntime>,
    /// The runtime whose change triggered this pull (a `CONFIGURATION_CHANGED` webhook).
    #[serde(rename = "notifiedRuntimeID", skip_serializing_if = "Option::is_none")]
    pub notified_runtime_id: Option<Uuid>,
}

/// A runtime the application is assigned to (the Director's `Application.assignedRuntimes`,
/// a Sextant extension).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssignedRuntime {
    /// The runtime's id.
    #[serde(rename = "runtimeID")]
    pub runtime_id: Uuid,
    /// Its name.
    pub name: String,
    /// `INITIAL`, `READY` or `FAILED`.
    pub status: String,
    /// The runtime's event gateway (`runtime/event_service_url`), if it has one.
    #[serde(rename = "eventingURL", skip_serializing_if = "Option::is_none")]
    pub eventing_url: Option<String>,
    /// Where this application posts events to that runtime.
    #[serde(rename = "eventURL", skip_serializing_if = "Option::is_none")]
    pub event_url: Option<String>,
}

/// The event gateway (eventing URL) and runtime an event goes to, from the configuration.
fn target(
    config: &AppConfiguration,
    url: Option<&str>,
    id: Option<Uuid>,
) -> Result<(String, Uuid), AppError> {
    let same = |a: &str, b: &str| a.trim_end_matches('/') == b.trim_end_matches('/');
    if let Some(id) = id {
        let runtime = config
            .runtimes
            .iter()
            .find(|r| r.runtime_id == id)
            .ok_or_else(|| {
                AppError::Input(format!(
                    "runtime {id} is not assigned to the application (not in its scenarios)"
                ))
            })?;
        let eventing = runtime.eventing_url.as_deref().ok_or_else(|| {
            AppError::Input(format!("runtime {id} has no event gateway (eventing URL)"))
        })?;
        return Ok((url.unwrap_or(eventing).to_owned(), id));
    }
    let url = match url {
        Some(url) => url,
        None if config.default_url.is_empty() => {
            return Err(AppError::Input(
                "no runtime takes the application's events (defaultURL is empty): \
                 give --runtime-url"
                    .into(),
            ));
        }
        None => config.default_url.as_str(),
    };
    let mut matching = config
        .runtimes
        .iter()
        .filter(|r| r.eventing_url.as_deref().is_some_and(|u| same(u, url)));
    match (matching.next(), matching.next()) {
        (Some(runtime), None) => Ok((url.to_owned(), runtime.runtime_id)),
        (None, _) => Err(AppError::Input(format!(
            "no runtime assigned to the application has the eventing URL {url}: \
             give the runtime's id (--runtime-id)"
        ))),
        (Some(_), Some(_)) => Err(AppError::Input(format!(
            "more than one runtime assigned to the application has the eventing URL {url}: \
             give the runtime's id (--runtime-id)"
        ))),
    }
}

/// `<base>/<application>/v1/events`.
pub fn event_url(base: &str, application: &str) -> String {
    format!("{}/{application}/v1/events", base.trim_end_matches('/'))
}

fn now_rfc3339() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_else(|_| OffsetDateTime::now_utc().unix_timestamp().to_string())
}

/// An event for a runtime's event gateway (Kyma's fields).
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// `event-type`.
    pub event_type: String,
    /// `event-type-version`.
    pub event_type_version: String,
    /// `event-id`; a UUID is made up when `None`.
    pub event_id: Option<String>,
    /// `data`.
    pub data: Value,
}

impl Event {
    /// An event whose `data` is JSON text.
    pub fn new(
        event_type: String,
        event_type_version: String,
        event_id: Option<String>,
        data_json: &str,
    ) -> Result<Event, AppError> {
        let data = serde_json::from_str(data_json)
            .map_err(|e| AppError::Input(format!("the event data is not JSON: {e}")))?;
        Ok(Event {
            event_type,
            event_type_version,
            event_id,
            data,
        })
    }
}

impl AppClient {
    /// Pulls the configuration and saves it as `configuration.json` in the state directory.
    pub async fn pull_configuration(
        &self,
        notified_runtime_id: Option<Uuid>,
    ) -> Result<AppConfiguration, AppError> {
        let data = self
            .director(CONFIG_QUERY, json!({"id": self.application_id()}))
            .await?;
        let app = &data["application"];
        if app.is_null() {
            return Err(AppError::Protocol(
                "the Director does not show the application (unregistered?)".into(),
            ));
        }
        let name = app["name"]
            .as_str()
            .unwrap_or(self.application_name())
            .to_owned();
        let default_url = app["eventingConfiguration"]["defaultURL"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let scenarios = app["labels"]["scenarios"]
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let runtimes = app["assignedRuntimes"]
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|r| {
                        let eventing_url = r["eventingURL"].as_str().map(str::to_owned);
                        Some(AssignedRuntime {
                            runtime_id: r["id"].as_str()?.parse().ok()?,
                            name: r["name"].as_str()?.to_owned(),
                            status: r["status"].as_str().unwrap_or_default().to_owned(),
                            event_url: eventing_url.as_deref().map(|u| event_url(u, &name)),
                            eventing_url,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let config = AppConfiguration {
            application_id: self.application_id(),
            runtimes,
            event_url: (!default_url.is_empty()).then(|| event_url(&default_url, &name)),
            name,
            scenarios,
            default_url,
            pulled_at: now_rfc3339(),
            notified_runtime_id,
        };
        self.dir.write_json(CONFIGURATION_FILE, &config)?;
        Ok(config)
    }

    /// The configuration last pulled, if any.
    pub fn saved_configuration(&self) -> Result<Option<AppConfiguration>, AppError> {
        Ok(self.dir.read_json(CONFIGURATION_FILE)?)
    }

    /// The runtime serving CA (PEM) from the management plane: event gateways' TLS
    /// certificates chain to it.
    pub async fn runtime_serving_ca(&self) -> Result<String, AppError> {
        let url = self
            .mtls_base()?
            .join("connector/runtime-serving-ca")
            .map_err(|e| AppError::Protocol(e.to_string()))?;
        let response = self
            .link()
            .client
            .get(url)
            .timeout(CALL_TIMEOUT)
            .send()
            .await
            .map_err(|e| AppError::Transport(sextant_client::chain(&e)))?;
        let status = response.status();
        let body = read_limited(response, MAX_BODY, Security::Certificate).await?;
        if !status.is_success() {
            return Err(AppError::Transport(format!(
                "the runtime serving CA: HTTP {}: {}",
                status.as_u16(),
                error_message(&body)
            )));
        }
        String::from_utf8(body)
            .map_err(|_| AppError::Protocol("the runtime serving CA is not PEM text".into()))
    }

    /// Posts an event to a runtime's event gateway with the application's certificate,
    /// trusting the runtime serving CA. `runtime_url` is the runtime's eventing URL (its
    /// `runtime/event_service_url`); default: the application's `defaultURL`. The runtime is
    /// the one assigned runtime with that URL (pulled now); see [`AppClient::send_event_to`].
    /// Answers the gateway's answer (`{"event-id": …}`).
    pub async fn send_event(
        &self,
        runtime_url: Option<&str>,
        event: &Event,
    ) -> Result<Value, AppError> {
        self.send_event_to(runtime_url, None, event).await
    }

    /// Posts an event to one runtime's event gateway. The gateway's certificate must name
    /// that runtime (`urn:sextant:runtime:<id>`), not only the URL's host: whoever else
    /// answers at that address (another runtime, of this tenant or another, with a
    /// certificate for the same host) gets no event. `runtime_id` and `runtime_url` default
    /// to each other through the pulled configuration (the assigned runtime with that id, or
    /// the one whose eventing URL this is), and both to the application's `defaultURL`.
    pub async fn send_event_to(
        &self,
        runtime_url: Option<&str>,
        runtime_id: Option<Uuid>,
        event: &Event,
    ) -> Result<Value, AppError> {
        let (base, runtime) = match (runtime_url, runtime_id) {
            (Some(url), Some(id)) => (url.to_owned(), id),
            (url, id) => {
                let config = self.pull_configuration(None).await?;
                target(&config, url, id)?
            }
        };
        let url = event_url(&base, self.application_name());
        let ca = self.runtime_serving_ca().await?;
        let link = self.link();
        let client = http::runtime_client(&link.credentials, &ca, runtime)?;
        let body = json!({
            "event-type": event.event_type,
            "event-type-version": event.event_type_version,
            "event-id": event.event_id.clone().unwrap_or_else(|| Uuid::new_v4().to_string()),
            "event-time": now_rfc3339(),
            "data": event.data,
        });
        let response = client
            .post(&url)
            .timeout(CALL_TIMEOUT)
            .json(&body)
            .send()
            .await
            .map_err(|e| AppError::Transport(format!("{url}: {}", sextant_client::chain(&e))))?;
        let status = response.status();
        let answer = read_limited(response, MAX_BODY, Security::Certificate).await?;
        if !status.is_success() {
            return Err(AppError::Transport(format!(
                "the event gateway {url} answered HTTP {}: {}",
                status.as_u16(),
                error_message(&answer)
            )));
        }
        Ok(serde_json::from_slice(&answer).unwrap_or(Value::Null))
    }
}
