//! The assembly: a runtime's document from what was read, with no I/O. What the document
//! says depends only on the [`RuntimeReading`], and its order only on the order things were
//! read in (the maps in the reading are looked up, never iterated), so the same data gives the
//! same JSON and the same version.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;
use sextant_domain::label::{EVENT_SERVICE_URL_KEY, SCENARIOS_KEY};
use sextant_domain::runtime_config::{
    ConfiguredApi, ConfiguredApplication, ConfiguredEvent, CredentialsSource, RuntimeConfiguration,
    SpecRef,
};
use sextant_domain::{ApiDefinition, ApiDefinitionId, Auth, EventDefinition, SpecDigest};

use super::read::{ApplicationReading, RuntimeReading};

/// The runtime's scenarios: the strings of its `scenarios` label, in the label's order.
pub fn scenarios(labels: &BTreeMap<String, Value>) -> Vec<String> {
    match labels.get(SCENARIOS_KEY) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// The runtime's eventing URL: its `runtime/event_service_url` label, if that is a string.
pub(crate) fn event_service_url(labels: &BTreeMap<String, Value>) -> Option<String> {
    match labels.get(EVENT_SERVICE_URL_KEY) {
        Some(Value::String(url)) => Some(url.clone()),
        _ => None,
    }
}

/// The document of the runtime that was read.
pub fn assemble(reading: RuntimeReading) -> RuntimeConfiguration {
    let RuntimeReading {
        runtime,
        labels,
        applications,
        mut runtime_auths,
    } = reading;
    RuntimeConfiguration {
        runtime_id: runtime.id.into_untyped(),
        tenant: runtime.tenant.0,
        runtime_name: runtime.name,
        event_service_url: event_service_url(&labels),
        scenarios: scenarios(&labels),
        applications: applications
            .into_iter()
            .map(|app| configured_application(app, &mut runtime_auths))
            .collect(),
    }
}

pub(crate) fn configured_application(
    app: ApplicationReading,
    runtime_auths: &mut HashMap<ApiDefinitionId, Auth>,
) -> ConfiguredApplication {
    let ApplicationReading {
        application,
        labels,
        apis,
        events,
    } = app;
    ConfiguredApplication {
        id: application.id.into_untyped(),
        name: application.name,
        description: application.description,
        labels,
        apis: apis
            .into_iter()
            .map(|api| {
                let runtime_auth = runtime_auths.remove(&api.id);
                configured_api(api, runtime_auth)
            })
            .collect(),
        events: events.into_iter().map(configured_event).collect(),
    }
}

/// An API with the credentials this runtime calls it with: its own if it has any, else the
/// API's default, else none.
fn configured_api(api: ApiDefinition, runtime_auth: Option<Auth>) -> ConfiguredApi {
    let (credentials, credentials_source) = match (runtime_auth, api.default_auth) {
        (Some(auth), _) => (Some(auth), CredentialsSource::Runtime),
        (None, Some(auth)) => (Some(auth), CredentialsSource::Default),
        (None, None) => (None, CredentialsSource::None),
    };
    ConfiguredApi {
        id: api.id.into_untyped(),
        name: api.name,
        description: api.description,
        target_url: api.target_url,
        group: api.group,
        version: api.version.map(|v| v.value),
        spec: api
            .spec
            .and_then(|spec| spec_ref(spec.digest, spec.spec_type.as_str(), spec.format.as_str())),
        credentials,
        credentials_source,
    }
}

fn configured_event(event: EventDefinition) -> ConfiguredEvent {
    ConfiguredEvent {
        id: event.id.into_untyped(),
        name: event.name,
        description: event.description,
        group: event.group,
        version: event.version.map(|v| v.value),
        spec: spec_ref(
            event.spec.digest,
            event.spec.spec_type.as_str(),
            event.spec.format.as_str(),
        ),
    }
}

/// A spec named by its digest; `None` for a spec without a text (no digest).
fn spec_ref(digest: Option<SpecDigest>, spec_type: &str, format: &str) -> Option<SpecRef> {
    let digest = digest?;
    Some(SpecRef {
        spec_type: spec_type.to_owned(),
        format: format.to_owned(),
        sha256: digest.sha256,
        size: digest.size,
    })
}
