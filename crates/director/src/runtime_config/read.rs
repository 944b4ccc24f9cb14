//! The read phase: everything a runtime's document is built from, in a number of statements
//! that does not grow with the applications or their definitions.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;
use sextant_domain::label::{LabelFilter, LabelQuery, SCENARIOS_KEY};
use sextant_domain::{
    ApiDefinition, ApiDefinitionId, Application, ApplicationId, Auth, Cursor, DomainError,
    EventDefinition, MAX_DEFINITIONS_PER_APPLICATION, ObjectKind, PageRequest, Runtime, RuntimeId,
    TenantId,
};
use sextant_store::{StoredLabel, Tx};
use uuid::Uuid;

use super::assemble::scenarios;
use crate::error::internal;

/// What a runtime's document is built from, as read in one transaction.
#[derive(Clone, Debug, PartialEq)]
pub struct RuntimeReading {
    pub runtime: Runtime,
    /// The runtime's labels, by key.
    pub labels: BTreeMap<String, Value>,
    /// The applications of the runtime's scenarios, in id order.
    pub applications: Vec<ApplicationReading>,
    /// The credentials set for this runtime (`setAPIAuth`), by API.
    pub runtime_auths: HashMap<ApiDefinitionId, Auth>,
}

/// An application of the runtime's scenarios, with what it holds.
#[derive(Clone, Debug, PartialEq)]
pub struct ApplicationReading {
    pub application: Application,
    /// Its labels, by key.
    pub labels: BTreeMap<String, Value>,
    /// Its API definitions, in id order, without their specs' texts.
    pub apis: Vec<ApiDefinition>,
    /// Its event definitions, in id order, without their specs' texts.
    pub events: Vec<EventDefinition>,
}

/// Reads what the runtime's document is built from, or `None` if the runtime does not exist
/// in the tenant.
pub async fn read(
    tx: &mut dyn Tx,
    tenant: TenantId,
    runtime_id: RuntimeId,
) -> Result<Option<RuntimeReading>, DomainError> {
    let Some(runtime) = tx.runtime(tenant, runtime_id).await.map_err(internal)? else {
        return Ok(None);
    };
    let labels: BTreeMap<String, Value> = tx
        .labels(tenant, ObjectKind::Runtime, &[runtime_id.into_untyped()])
        .await
        .map_err(internal)?
        .into_iter()
        .map(|l| (l.key, l.value))
        .collect();
    let apps = scenario_applications(tx, tenant, scenarios(&labels)).await?;
    if apps.is_empty() {
        return Ok(Some(RuntimeReading {
            runtime,
            labels,
            applications: Vec::new(),
            runtime_auths: HashMap::new(),
        }));
    }

    let app_ids: Vec<ApplicationId> = apps.iter().map(|app| app.id).collect();
    let untyped_app_ids: Vec<Uuid> = app_ids.iter().map(|id| id.into_untyped()).collect();
    let mut app_labels: HashMap<ApplicationId, BTreeMap<String, Value>> = HashMap::new();
    for StoredLabel {
        object: id,
        key,
        value,
    } in tx
        .labels(tenant, ObjectKind::Application, &untyped_app_ids)
        .await
        .map_err(internal)?
    {
        app_labels
            .entry(ApplicationId::from_untyped(id))
            .or_default()
            .insert(key, value);
    }
    // Every definition of every application: an application has at most this many.
    let all = PageRequest {
        first: u32::try_from(MAX_DEFINITIONS_PER_APPLICATION).unwrap_or(u32::MAX),
        after: None,
    };
    let (mut apis, mut events) = tx
        .definitions_without_spec_data(tenant, &app_ids, &all)
        .await
        .map_err(internal)?;
    let api_ids: Vec<ApiDefinitionId> = apis
        .values()
        .flat_map(|page| page.items.iter().map(|api| api.id))
        .collect();
    let runtime_auths = if api_ids.is_empty() {
        HashMap::new()
    } else {
        tx.api_runtime_auths(tenant, &api_ids, Some(&[runtime_id]))
            .await
            .map_err(internal)?
            .into_iter()
            .map(|auth| (auth.api_id, auth.auth))
            .collect()
    };

    let applications = apps
        .into_iter()
        .map(|application| ApplicationReading {
            labels: app_labels.remove(&application.id).unwrap_or_default(),
            apis: apis
                .remove(&application.id)
                .map(|page| page.items)
                .unwrap_or_default(),
            events: events
                .remove(&application.id)
                .map(|page| page.items)
                .unwrap_or_default(),
            application,
        })
        .collect();
    Ok(Some(RuntimeReading {
        runtime,
        labels,
        applications,
        runtime_auths,
    }))
}

/// The applications of the given scenarios, in id order, a page per statement.
async fn scenario_applications(
    tx: &mut dyn Tx,
    tenant: TenantId,
    scenarios: Vec<String>,
) -> Result<Vec<Application>, DomainError> {
    let mut apps = Vec::new();
    if scenarios.is_empty() {
        return Ok(apps);
    }
    let filter = [LabelFilter {
        key: SCENARIOS_KEY.to_owned(),
        query: LabelQuery::AnyOf(scenarios),
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
    Ok(apps)
}
