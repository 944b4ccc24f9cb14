//! What the Application Webhook API is told, decided inside the transaction of the change
//! that causes it (so an event is queued exactly when its change commits):
//!
//! - `CONFIGURATION_CHANGED` to every application sharing a scenario with a runtime that
//!   became ready, changed its eventing URL (`runtime/event_service_url`), joined or left one
//!   of the application's scenarios, or was deleted;
//! - `CREDENTIALS_REQUESTED` to an application when a runtime newly sees one of its API
//!   definitions (the runtime joined a scenario, the application joined one, or the API is
//!   new) and has no credentials for it: neither its own nor the API's default.
//!
//! Each kind of event a change causes is recorded by one statement as a fan-out
//! ([`sextant_store::EventFanOut`]: the scenarios and ids that decide it), which the notifier
//! expands into deliveries in short batches after the change committed, finding the
//! applications, runtimes and APIs concerned in SQL, only among applications with a webhook;
//! so a change costs the same number of statements, and holds the writer as briefly, whatever
//! the number of objects it concerns.
//!
//! The deliveries are exactly those of the state the change left: a later change that would
//! alter the set of a fan-out still waiting (an application joining or leaving one of its
//! scenarios, or gaining or losing a webhook, an API or credentials; a runtime joining or
//! leaving one, or deleted) first expands it, in its own transaction, before it changes
//! anything ([`settle_for_application`], [`settle_for_runtime`]). Normally the notifier has
//! expanded it milliseconds after it was recorded, and the check costs one statement.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use sextant_domain::label::EVENT_SERVICE_URL_KEY;
use sextant_domain::{ApiDefinition, DomainError, ObjectRef, RuntimeStatusCondition, TenantId};
use sextant_domain::{ApiDefinitionId, ApplicationId, RuntimeId};
use sextant_store::{EventFanOut, FanOutKind, Tx};

use crate::clock::now_micros;
use crate::error::internal;
use crate::objects::labels_of;
use crate::scenarios::scenarios_of;

type Result<T> = std::result::Result<T, DomainError>;

/// What a runtime's applications care about.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuntimeFacts {
    pub scenarios: BTreeSet<String>,
    pub event_url: Option<Value>,
    pub ready: bool,
}

/// A runtime's facts now (None if it does not exist).
pub async fn runtime_facts(
    tx: &mut dyn Tx,
    tenant: TenantId,
    runtime: RuntimeId,
) -> Result<Option<RuntimeFacts>> {
    let Some(rt) = tx.runtime(tenant, runtime).await.map_err(internal)? else {
        return Ok(None);
    };
    let labels = labels_of(tx, tenant, ObjectRef::Runtime(runtime)).await?;
    Ok(Some(RuntimeFacts::of(&rt, &labels)))
}

impl RuntimeFacts {
    /// The facts of a runtime and its labels, already read.
    pub fn of(runtime: &sextant_domain::Runtime, labels: &BTreeMap<String, Value>) -> RuntimeFacts {
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
    app: ApplicationId,
) -> Result<BTreeSet<String>> {
    let labels = labels_of(tx, tenant, ObjectRef::Application(app)).await?;
    Ok(scenarios_of(&labels))
}

/// A runtime changed from `before` to `after` (None: it did not exist, or was deleted).
pub async fn runtime_changed(
    tx: &mut dyn Tx,
    tenant: TenantId,
    runtime: RuntimeId,
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
    let time = now_micros();
    let told: Vec<String> = told.into_iter().collect();
    tx.enqueue_webhook_events(
        tenant,
        EventFanOut::ConfigurationChanged {
            runtime,
            scenarios: &told,
        },
        time,
    )
    .await
    .map_err(internal)?;
    // The runtime newly sees the applications of scenarios it joined (unless it saw them
    // through another scenario already).
    if after.is_some() {
        let joined: Vec<String> = new.scenarios.difference(&old.scenarios).cloned().collect();
        let seen: Vec<String> = old.scenarios.iter().cloned().collect();
        tx.enqueue_webhook_events(
            tenant,
            EventFanOut::RuntimeSeesApplications {
                runtime,
                joined: &joined,
                seen: &seen,
            },
            time,
        )
        .await
        .map_err(internal)?;
    }
    Ok(())
}

/// An application's scenarios changed: the runtimes that newly see it ask for credentials.
pub async fn app_scenarios_changed(
    tx: &mut dyn Tx,
    tenant: TenantId,
    app: ApplicationId,
    before: &BTreeSet<String>,
    after: &BTreeSet<String>,
) -> Result<()> {
    if before == after {
        return Ok(());
    }
    let joined: Vec<String> = after.iter().cloned().collect();
    let seen: Vec<String> = before.iter().cloned().collect();
    tx.enqueue_webhook_events(
        tenant,
        EventFanOut::RuntimesSeeApplication {
            app,
            apis: None,
            joined: &joined,
            seen: &seen,
        },
        now_micros(),
    )
    .await
    .map_err(internal)?;
    Ok(())
}

/// New API definitions of an application: every runtime that sees it asks for credentials.
pub async fn apis_added(
    tx: &mut dyn Tx,
    tenant: TenantId,
    app: ApplicationId,
    apis: &[ApiDefinition],
) -> Result<()> {
    if apis.iter().all(|a| a.default_auth.is_some()) {
        return Ok(());
    }
    let scenarios: Vec<String> = app_scenarios(tx, tenant, app).await?.into_iter().collect();
    apis_added_in(tx, tenant, app, apis, &scenarios).await
}

/// [`apis_added`] to an application whose scenarios the caller knows.
pub async fn apis_added_in(
    tx: &mut dyn Tx,
    tenant: TenantId,
    app: ApplicationId,
    apis: &[ApiDefinition],
    scenarios: &[String],
) -> Result<()> {
    let needing: Vec<ApiDefinitionId> = apis
        .iter()
        .filter(|a| a.default_auth.is_none())
        .map(|a| a.id)
        .collect();
    if needing.is_empty() {
        return Ok(());
    }
    tx.enqueue_webhook_events(
        tenant,
        EventFanOut::RuntimesSeeApplication {
            app,
            apis: Some(&needing),
            joined: scenarios,
            seen: &[],
        },
        now_micros(),
    )
    .await
    .map_err(internal)?;
    Ok(())
}

/// Before a change to `app`'s scenarios, webhooks, APIs or the credentials of its APIs:
/// expands the waiting fan-outs whose set the change may alter (those deciding by any of
/// `scenarios`, the application's scenarios before and after the change, or None for the
/// ones it has now; and its own).
pub async fn settle_for_application(
    tx: &mut dyn Tx,
    tenant: TenantId,
    app: ApplicationId,
    scenarios: Option<&BTreeSet<String>>,
) -> Result<()> {
    let pending = tx
        .pending_fan_outs(
            tenant,
            &[
                FanOutKind::ConfigurationChanged,
                FanOutKind::RuntimeSeesApplications,
            ],
            Some(app),
            None,
        )
        .await
        .map_err(internal)?;
    if pending.is_empty() {
        return Ok(());
    }
    let now;
    let scenarios = match scenarios {
        Some(scenarios) => scenarios,
        None => {
            now = app_scenarios(tx, tenant, app).await?;
            &now
        }
    };
    for fan_out in pending {
        let concerned = match fan_out.kind {
            FanOutKind::ConfigurationChanged | FanOutKind::RuntimeSeesApplications => {
                fan_out.concerns_scenarios(scenarios)
            }
            FanOutKind::RuntimesSeeApplication => fan_out.app == Some(app),
        };
        if concerned {
            tx.expand_fan_out(fan_out.seq).await.map_err(internal)?;
        }
    }
    Ok(())
}

/// Before a change to `runtime`'s scenarios (`scenarios`: before and after the change) or
/// its deletion: expands the waiting fan-outs whose set the change may alter.
pub async fn settle_for_runtime(
    tx: &mut dyn Tx,
    tenant: TenantId,
    runtime: RuntimeId,
    scenarios: &BTreeSet<String>,
    deleted: bool,
) -> Result<()> {
    if scenarios.is_empty() && !deleted {
        return Ok(());
    }
    let pending = tx
        .pending_fan_outs(
            tenant,
            &[FanOutKind::RuntimesSeeApplication],
            None,
            deleted.then_some(runtime),
        )
        .await
        .map_err(internal)?;
    for fan_out in pending {
        let concerned = match fan_out.kind {
            FanOutKind::RuntimesSeeApplication => fan_out.concerns_scenarios(scenarios),
            // Its credentials go with it.
            FanOutKind::RuntimeSeesApplications => deleted && fan_out.runtime == Some(runtime),
            FanOutKind::ConfigurationChanged => false,
        };
        if concerned {
            tx.expand_fan_out(fan_out.seq).await.map_err(internal)?;
        }
    }
    Ok(())
}
