//! The read phase: everything a runtime's document is built from, in a number of statements
//! that does not grow with the applications or their definitions. It comes in two parts, so
//! that what runtimes share is read once for all of them: the runtimes' own facts (many
//! runtimes per read) and the applications of a set of scenarios.

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

/// What a runtime's document takes from the runtime itself: the runtime, its labels and
/// the credentials set for it. Read for many runtimes at once ([`read_runtimes`]).
#[derive(Clone, Debug, PartialEq)]
pub struct RuntimeFacts {
    pub runtime: Runtime,
    /// The runtime's labels, by key.
    pub labels: BTreeMap<String, Value>,
    /// The credentials set for this runtime (`setAPIAuth`), by API, for any API.
    pub auths: HashMap<ApiDefinitionId, Auth>,
}

impl RuntimeFacts {
    /// The runtime's scenarios as a set (sorted, each once): runtimes with the same set see
    /// the same applications.
    pub fn scenario_set(&self) -> Vec<String> {
        let mut set = scenarios(&self.labels);
        set.sort_unstable();
        set.dedup();
        set
    }
}

/// The facts of the runtimes with these ids that exist in the tenant, in three statements
/// whatever their number (the runtimes, their labels, their credentials).
pub async fn read_runtimes(
    tx: &mut dyn Tx,
    tenant: TenantId,
    ids: &[RuntimeId],
) -> Result<HashMap<RuntimeId, RuntimeFacts>, DomainError> {
    let runtimes = tx.runtimes_by_id(tenant, ids).await.map_err(internal)?;
    if runtimes.is_empty() {
        return Ok(HashMap::new());
    }
    let found: Vec<Uuid> = runtimes.iter().map(|r| r.id.into_untyped()).collect();
    let mut facts: HashMap<RuntimeId, RuntimeFacts> = runtimes
        .into_iter()
        .map(|runtime| {
            let facts = RuntimeFacts {
                runtime,
                labels: BTreeMap::new(),
                auths: HashMap::new(),
            };
            (facts.runtime.id, facts)
        })
        .collect();
    for StoredLabel { object, key, value } in tx
        .labels(tenant, ObjectKind::Runtime, &found)
        .await
        .map_err(internal)?
    {
        if let Some(f) = facts.get_mut(&RuntimeId::from_untyped(object)) {
            f.labels.insert(key, value);
        }
    }
    let found: Vec<RuntimeId> = facts.keys().copied().collect();
    for auth in tx
        .runtime_auths_of(tenant, &found)
        .await
        .map_err(internal)?
    {
        if let Some(f) = facts.get_mut(&auth.runtime_id) {
            f.auths.insert(auth.api_id, auth.auth);
        }
    }
    Ok(facts)
}

/// Reads what the runtime's document is built from, or `None` if the runtime does not exist
/// in the tenant: its facts ([`read_runtimes`]) and the applications of its scenarios
/// ([`read_applications`]).
pub async fn read(
    tx: &mut dyn Tx,
    tenant: TenantId,
    runtime_id: RuntimeId,
) -> Result<Option<RuntimeReading>, DomainError> {
    let Some(facts) = read_runtimes(tx, tenant, &[runtime_id])
        .await?
        .remove(&runtime_id)
    else {
        return Ok(None);
    };
    let applications = read_applications(tx, tenant, &facts.scenario_set()).await?;
    Ok(Some(RuntimeReading {
        runtime: facts.runtime,
        labels: facts.labels,
        applications,
        runtime_auths: facts.auths,
    }))
}

/// The applications of these scenarios, in id order, with their labels, API and event
/// definitions (without spec texts): what every runtime with these scenarios sees, in a
/// number of statements that does not grow with the applications or their definitions.
pub async fn read_applications(
    tx: &mut dyn Tx,
    tenant: TenantId,
    scenarios: &[String],
) -> Result<Vec<ApplicationReading>, DomainError> {
    let apps = scenario_applications(tx, tenant, scenarios.to_vec()).await?;
    if apps.is_empty() {
        return Ok(Vec::new());
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
    Ok(apps
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
        .collect())
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
