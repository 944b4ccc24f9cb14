//! What the Application Webhook API is told, decided inside the transaction of the change
//! that causes it (so an event is queued exactly when its change commits):
//!
//! - `CONFIGURATION_CHANGED` to every application sharing a scenario with a runtime that
//!   became ready, changed its eventing URL (`runtime/event_service_url`), joined or left one
//!   of the application's scenarios, or was deleted;
//! - `CREDENTIALS_REQUESTED` to an application when a runtime newly sees one of its API
//!   definitions (the runtime joined a scenario, the application joined one, or the API is
//!   new) and has no credentials for it: neither its own nor the API's default.

use std::collections::{BTreeSet, HashSet};

use serde_json::Value;
use sextant_domain::delivery::{WebhookEvent, WebhookEventType};
use sextant_domain::label::{LabelFilter, LabelQuery, SCENARIOS_KEY};
use sextant_domain::{
    ApiDefinition, DomainError, ObjectKind, ObjectRef, PageRequest, RuntimeStatusCondition,
    TenantId,
};
use sextant_store::Tx;
use uuid::Uuid;

use crate::catalog::EVENT_SERVICE_URL_KEY;
use crate::error::internal;
use crate::service::{labels_of, now_micros};

type Result<T> = std::result::Result<T, DomainError>;

/// At most this many applications or runtimes are looked at per change (100 pages).
const MAX_PAGES: usize = 100;

/// What a runtime's applications care about.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuntimeFacts {
    pub scenarios: BTreeSet<String>,
    pub event_url: Option<Value>,
    pub ready: bool,
}

fn scenarios_of(labels: &std::collections::BTreeMap<String, Value>) -> BTreeSet<String> {
    match labels.get(SCENARIOS_KEY) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => BTreeSet::new(),
    }
}

/// A runtime's facts now (None if it does not exist).
pub async fn runtime_facts(
    tx: &mut dyn Tx,
    tenant: TenantId,
    runtime: Uuid,
) -> Result<Option<RuntimeFacts>> {
    let Some(rt) = tx.runtime(tenant, runtime).await.map_err(internal)? else {
        return Ok(None);
    };
    let labels = labels_of(
        tx,
        tenant,
        ObjectRef {
            kind: ObjectKind::Runtime,
            id: runtime,
        },
    )
    .await?;
    Ok(Some(RuntimeFacts::of(&rt, &labels)))
}

impl RuntimeFacts {
    /// The facts of a runtime and its labels, already read.
    pub fn of(
        runtime: &sextant_domain::Runtime,
        labels: &std::collections::BTreeMap<String, Value>,
    ) -> RuntimeFacts {
        RuntimeFacts {
            scenarios: scenarios_of(labels),
            event_url: labels.get(EVENT_SERVICE_URL_KEY).cloned(),
            ready: runtime.status_condition == RuntimeStatusCondition::Ready,
        }
    }
}

/// An application's scenarios now.
pub async fn app_scenarios(
    tx: &mut dyn Tx,
    tenant: TenantId,
    app: Uuid,
) -> Result<BTreeSet<String>> {
    let labels = labels_of(
        tx,
        tenant,
        ObjectRef {
            kind: ObjectKind::Application,
            id: app,
        },
    )
    .await?;
    Ok(scenarios_of(&labels))
}

fn scenario_filter(scenarios: &BTreeSet<String>) -> LabelFilter {
    LabelFilter {
        key: SCENARIOS_KEY.to_owned(),
        query: LabelQuery::AnyOf(scenarios.iter().cloned().collect()),
    }
}

async fn apps_in(
    tx: &mut dyn Tx,
    tenant: TenantId,
    scenarios: &BTreeSet<String>,
) -> Result<Vec<Uuid>> {
    ids_in(tx, tenant, scenarios, ObjectKind::Application).await
}

async fn runtimes_in(
    tx: &mut dyn Tx,
    tenant: TenantId,
    scenarios: &BTreeSet<String>,
) -> Result<Vec<Uuid>> {
    ids_in(tx, tenant, scenarios, ObjectKind::Runtime).await
}

/// The ids of the applications or runtimes in any of the scenarios, page by page.
async fn ids_in(
    tx: &mut dyn Tx,
    tenant: TenantId,
    scenarios: &BTreeSet<String>,
    kind: ObjectKind,
) -> Result<Vec<Uuid>> {
    if scenarios.is_empty() {
        return Ok(Vec::new());
    }
    let filter = [scenario_filter(scenarios)];
    let mut page = PageRequest::all();
    let mut ids = Vec::new();
    for _ in 0..MAX_PAGES {
        let (found, more) = match kind {
            ObjectKind::Application => {
                let p = tx
                    .applications(tenant, &filter, &page)
                    .await
                    .map_err(internal)?;
                (
                    p.items.iter().map(|a| a.id).collect::<Vec<_>>(),
                    p.has_next_page,
                )
            }
            ObjectKind::Runtime => {
                let p = tx
                    .runtimes(tenant, &filter, &page)
                    .await
                    .map_err(internal)?;
                (
                    p.items.iter().map(|r| r.id).collect::<Vec<_>>(),
                    p.has_next_page,
                )
            }
        };
        let last = found.last().copied();
        ids.extend(found);
        match (more, last) {
            (true, Some(last)) => page.after = Some(sextant_domain::Cursor(last)),
            _ => break,
        }
    }
    Ok(ids)
}

async fn enqueue(
    tx: &mut dyn Tx,
    tenant: TenantId,
    event_type: WebhookEventType,
    app: Uuid,
    runtime: Uuid,
    api: Option<Uuid>,
) -> Result<()> {
    let event = WebhookEvent {
        id: Uuid::new_v4(),
        event_type,
        tenant,
        application_id: app,
        runtime_id: runtime,
        api_definition_id: api,
        time: now_micros(),
    };
    tx.enqueue_webhook_event(&event).await.map_err(internal)?;
    Ok(())
}

/// Credentials requests for `apis` (of `app`) to each runtime in `runtimes` that has no
/// credentials for them.
async fn request_credentials(
    tx: &mut dyn Tx,
    tenant: TenantId,
    app: Uuid,
    apis: &[ApiDefinition],
    runtimes: &[Uuid],
) -> Result<()> {
    let needing: Vec<&ApiDefinition> = apis.iter().filter(|a| a.default_auth.is_none()).collect();
    if needing.is_empty() || runtimes.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = needing.iter().map(|a| a.id).collect();
    let have: HashSet<(Uuid, Uuid)> = tx
        .api_runtime_auths(tenant, &ids, Some(runtimes))
        .await
        .map_err(internal)?
        .into_iter()
        .map(|a| (a.api_id, a.runtime_id))
        .collect();
    for runtime in runtimes {
        for api in &needing {
            if !have.contains(&(api.id, *runtime)) {
                let kind = WebhookEventType::CredentialsRequested;
                enqueue(tx, tenant, kind, app, *runtime, Some(api.id)).await?;
            }
        }
    }
    Ok(())
}

async fn apis_of(tx: &mut dyn Tx, tenant: TenantId, app: Uuid) -> Result<Vec<ApiDefinition>> {
    let mut pages = tx
        .api_definitions(tenant, &[app], None, &PageRequest::all())
        .await
        .map_err(internal)?;
    Ok(pages.remove(&app).map(|p| p.items).unwrap_or_default())
}

/// A runtime changed from `before` to `after` (None: it did not exist, or was deleted).
pub async fn runtime_changed(
    tx: &mut dyn Tx,
    tenant: TenantId,
    runtime: Uuid,
    before: Option<RuntimeFacts>,
    after: Option<RuntimeFacts>,
) -> Result<()> {
    if before == after {
        return Ok(());
    }
    let (old, new) = (
        before.unwrap_or_default(),
        after.clone().unwrap_or_default(),
    );
    let mut told: BTreeSet<String> = BTreeSet::new();
    // Every scenario whose applications hear of it.
    if after.is_none() {
        told.extend(old.scenarios.iter().cloned());
    } else {
        if (new.ready && !old.ready) || new.event_url != old.event_url {
            told.extend(new.scenarios.iter().cloned());
        }
        told.extend(new.scenarios.symmetric_difference(&old.scenarios).cloned());
    }
    let apps = apps_in(tx, tenant, &told).await?;
    for app in &apps {
        enqueue(
            tx,
            tenant,
            WebhookEventType::ConfigurationChanged,
            *app,
            runtime,
            None,
        )
        .await?;
    }
    // The runtime newly sees the applications of scenarios it joined (unless it saw them
    // through another scenario already).
    if after.is_some() {
        let joined: BTreeSet<String> = new.scenarios.difference(&old.scenarios).cloned().collect();
        let seen: HashSet<Uuid> = apps_in(tx, tenant, &old.scenarios)
            .await?
            .into_iter()
            .collect();
        for app in apps_in(tx, tenant, &joined).await? {
            if !seen.contains(&app) {
                let apis = apis_of(tx, tenant, app).await?;
                request_credentials(tx, tenant, app, &apis, &[runtime]).await?;
            }
        }
    }
    Ok(())
}

/// An application's scenarios changed: the runtimes that newly see it ask for credentials.
pub async fn app_scenarios_changed(
    tx: &mut dyn Tx,
    tenant: TenantId,
    app: Uuid,
    before: &BTreeSet<String>,
    after: &BTreeSet<String>,
) -> Result<()> {
    if before == after {
        return Ok(());
    }
    let seen: HashSet<Uuid> = runtimes_in(tx, tenant, before).await?.into_iter().collect();
    let new: Vec<Uuid> = runtimes_in(tx, tenant, after)
        .await?
        .into_iter()
        .filter(|r| !seen.contains(r))
        .collect();
    if new.is_empty() {
        return Ok(());
    }
    let apis = apis_of(tx, tenant, app).await?;
    request_credentials(tx, tenant, app, &apis, &new).await
}

/// New API definitions of an application: every runtime that sees it asks for credentials.
pub async fn apis_added(
    tx: &mut dyn Tx,
    tenant: TenantId,
    app: Uuid,
    apis: &[ApiDefinition],
) -> Result<()> {
    if apis.iter().all(|a| a.default_auth.is_some()) {
        return Ok(());
    }
    let scenarios = app_scenarios(tx, tenant, app).await?;
    let runtimes = runtimes_in(tx, tenant, &scenarios).await?;
    request_credentials(tx, tenant, app, apis, &runtimes).await
}
