//! Builds a runtime's configuration document ([`RuntimeConfiguration`]) in one read
//! transaction, with a number of statements that does not grow with the applications or
//! their definitions: the runtime and its labels, the applications of its scenarios (a page
//! of 100 per statement), their labels, their API and event definitions, and this runtime's
//! credentials for those APIs.
//!
//! Specs are named by their digest only: their texts are not read, so what a document costs
//! (to build and to keep) does not grow with the size of the specs it names.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;
use sextant_domain::label::{EVENT_SERVICE_URL_KEY, LabelFilter, LabelQuery, SCENARIOS_KEY};
use sextant_domain::runtime_config::{
    ConfiguredApi, ConfiguredApplication, ConfiguredEvent, CredentialsSource, RuntimeConfiguration,
    SpecRef,
};
use sextant_domain::{ApiDefinitionId, ApplicationId, RuntimeId};
use sextant_domain::{
    Cursor, DomainError, MAX_DEFINITIONS_PER_APPLICATION, ObjectKind, PageRequest, TenantId,
};
use sextant_store::Tx;
use uuid::Uuid;

use crate::error::internal;

/// A built document: the document, its JSON and version, and the hashes of the specs it names.
#[derive(Debug)]
pub struct BuiltConfiguration {
    pub document: RuntimeConfiguration,
    /// The document as served.
    pub json: Vec<u8>,
    /// SHA-256 of `json`, the first 16 bytes in lowercase hex: the `ETag`.
    pub version: String,
    /// The specs the document names, by SHA-256 (lowercase hex): the ones this runtime may
    /// read from `/runtime/specs/{sha256}`.
    pub specs: HashSet<String>,
}

impl BuiltConfiguration {
    /// The bytes this document keeps in memory (its JSON and the hashes it names), without
    /// the parsed copy's overhead.
    pub fn held_bytes(&self) -> usize {
        self.json.len() + self.specs.iter().map(String::len).sum::<usize>()
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn spec_ref(
    digest: Option<&sextant_domain::SpecDigest>,
    spec_type: &str,
    format: &str,
    specs: &mut HashSet<String>,
) -> Option<SpecRef> {
    let digest = digest?;
    specs.insert(digest.sha256.clone());
    Some(SpecRef {
        spec_type: spec_type.to_owned(),
        format: format.to_owned(),
        sha256: digest.sha256.clone(),
        size: digest.size,
    })
}

/// The configuration of a runtime, or `None` if the runtime does not exist in the tenant.
pub async fn build(
    tx: &mut dyn Tx,
    tenant: TenantId,
    runtime_id: RuntimeId,
) -> Result<Option<BuiltConfiguration>, DomainError> {
    let Some(runtime) = tx.runtime(tenant, runtime_id).await.map_err(internal)? else {
        return Ok(None);
    };
    let mut runtime_labels: BTreeMap<String, Value> = tx
        .labels(tenant, ObjectKind::Runtime, &[runtime_id.into_untyped()])
        .await
        .map_err(internal)?
        .into_iter()
        .map(|(_, key, value)| (key, value))
        .collect();
    let scenarios: Vec<String> = match runtime_labels.remove(SCENARIOS_KEY) {
        Some(Value::Array(items)) => items
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    let event_service_url = match runtime_labels.remove(EVENT_SERVICE_URL_KEY) {
        Some(Value::String(url)) => Some(url),
        _ => None,
    };

    // The applications of the runtime's scenarios, page by page.
    let mut apps = Vec::new();
    if !scenarios.is_empty() {
        let filter = [LabelFilter {
            key: SCENARIOS_KEY.to_owned(),
            query: LabelQuery::AnyOf(scenarios.clone()),
        }];
        let mut page = PageRequest::all();
        loop {
            let found = tx
                .applications(tenant, &filter, &page)
                .await
                .map_err(internal)?;
            let last = found.items.last().map(|app| app.id);
            apps.extend(found.items);
            match last {
                Some(last) if found.has_next_page => page.after = Some(Cursor(last.into_untyped())),
                _ => break,
            }
        }
    }
    let app_ids: Vec<ApplicationId> = apps.iter().map(|app| app.id).collect();
    let untyped_app_ids: Vec<Uuid> = app_ids.iter().map(|id| id.into_untyped()).collect();

    let mut app_labels: HashMap<Uuid, BTreeMap<String, Value>> = HashMap::new();
    let mut apis = HashMap::new();
    let mut events = HashMap::new();
    let mut runtime_auths = HashMap::new();
    if !app_ids.is_empty() {
        for (id, key, value) in tx
            .labels(tenant, ObjectKind::Application, &untyped_app_ids)
            .await
            .map_err(internal)?
        {
            app_labels.entry(id).or_default().insert(key, value);
        }
        // Every definition of every application: an application has at most this many.
        let all = PageRequest {
            first: u32::try_from(MAX_DEFINITIONS_PER_APPLICATION).unwrap_or(u32::MAX),
            after: None,
        };
        (apis, events) = tx
            .definitions_without_spec_data(tenant, &app_ids, &all)
            .await
            .map_err(internal)?;
        let api_ids: Vec<ApiDefinitionId> = apis
            .values()
            .flat_map(|page| page.items.iter().map(|api| api.id))
            .collect();
        if !api_ids.is_empty() {
            runtime_auths = tx
                .api_runtime_auths(tenant, &api_ids, Some(&[runtime_id]))
                .await
                .map_err(internal)?
                .into_iter()
                .map(|auth| (auth.api_id, auth.auth))
                .collect();
        }
    }

    let mut specs = HashSet::new();
    let applications = apps
        .into_iter()
        .map(|app| {
            let apis = apis
                .remove(&app.id)
                .map(|page| page.items)
                .unwrap_or_default()
                .into_iter()
                .map(|api| {
                    let (credentials, credentials_source) = match runtime_auths.remove(&api.id) {
                        Some(auth) => (Some(auth), CredentialsSource::Runtime),
                        None => match api.default_auth {
                            Some(auth) => (Some(auth), CredentialsSource::Default),
                            None => (None, CredentialsSource::None),
                        },
                    };
                    ConfiguredApi {
                        id: api.id.into_untyped(),
                        name: api.name,
                        description: api.description,
                        target_url: api.target_url,
                        group: api.group,
                        version: api.version.map(|v| v.value),
                        spec: api.spec.as_ref().and_then(|spec| {
                            spec_ref(
                                spec.digest.as_ref(),
                                spec.spec_type.as_str(),
                                spec.format.as_str(),
                                &mut specs,
                            )
                        }),
                        credentials,
                        credentials_source,
                    }
                })
                .collect();
            let events = events
                .remove(&app.id)
                .map(|page| page.items)
                .unwrap_or_default()
                .into_iter()
                .map(|event| ConfiguredEvent {
                    id: event.id.into_untyped(),
                    name: event.name,
                    description: event.description,
                    group: event.group,
                    version: event.version.map(|v| v.value),
                    spec: spec_ref(
                        event.spec.digest.as_ref(),
                        event.spec.spec_type.as_str(),
                        event.spec.format.as_str(),
                        &mut specs,
                    ),
                })
                .collect();
            ConfiguredApplication {
                labels: app_labels.remove(app.id.as_uuid()).unwrap_or_default(),
                id: app.id.into_untyped(),
                name: app.name,
                description: app.description,
                apis,
                events,
            }
        })
        .collect();
    let document = RuntimeConfiguration {
        runtime_id: runtime_id.into_untyped(),
        tenant: tenant.0,
        runtime_name: runtime.name,
        event_service_url,
        scenarios,
        applications,
    };
    let json = serde_json::to_vec(&document).map_err(|e| DomainError::Internal(Box::new(e)))?;
    let mut version = sha256_hex(&json);
    version.truncate(32);
    Ok(Some(BuiltConfiguration {
        document,
        json,
        version,
        specs,
    }))
}
