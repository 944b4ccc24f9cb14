//! The rules of default eventing: choosing the runtime an application's events go to, and
//! forgetting the choice.

use std::collections::BTreeMap;

use serde_json::Value;
use sextant_domain::label::EVENT_SERVICE_URL_KEY;
use sextant_domain::{ApplicationId, RuntimeId};
use sextant_domain::{DomainError, ObjectRef, TenantId};
use sextant_store::Tx;

use crate::error::internal;
use crate::objects::labels_of;
use crate::scenarios::scenario_list;

type Result<T> = std::result::Result<T, DomainError>;

async fn object_labels(
    tx: &mut dyn Tx,
    tenant: TenantId,
    object: ObjectRef,
) -> Result<BTreeMap<String, Value>> {
    labels_of(tx, tenant, object).await
}

/// A runtime's eventing URL: its `runtime/event_service_url` label, else "".
pub async fn runtime_eventing_url(
    tx: &mut dyn Tx,
    tenant: TenantId,
    runtime: RuntimeId,
) -> Result<String> {
    let labels = object_labels(tx, tenant, ObjectRef::Runtime(runtime)).await?;
    Ok(labels
        .get(EVENT_SERVICE_URL_KEY)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned())
}

async fn shares_scenario(
    tx: &mut dyn Tx,
    tenant: TenantId,
    app_scenarios: &[String],
    runtime: RuntimeId,
) -> Result<bool> {
    let labels = object_labels(tx, tenant, ObjectRef::Runtime(runtime)).await?;
    Ok(scenario_list(&labels)
        .iter()
        .any(|s| app_scenarios.contains(s)))
}

/// `setDefaultEventingForApplication`: the runtime must share a scenario with the application.
pub async fn set_default_eventing(
    tx: &mut dyn Tx,
    tenant: TenantId,
    app_id: ApplicationId,
    runtime_id: RuntimeId,
) -> Result<String> {
    if tx
        .application(tenant, app_id)
        .await
        .map_err(internal)?
        .is_none()
    {
        return Err(DomainError::not_found("application", app_id));
    }
    let app_scenarios =
        scenario_list(&object_labels(tx, tenant, ObjectRef::Application(app_id)).await?);
    if tx
        .runtime(tenant, runtime_id)
        .await
        .map_err(internal)?
        .is_none()
        || !shares_scenario(tx, tenant, &app_scenarios, runtime_id).await?
    {
        return Err(DomainError::Invalid(format!(
            "does not find the given runtime [ID={runtime_id}] assigned to the application scenarios"
        )));
    }
    tx.set_default_eventing(tenant, app_id, runtime_id)
        .await
        .map_err(internal)?;
    runtime_eventing_url(tx, tenant, runtime_id).await
}

/// `deleteDefaultEventingForApplication`: forgets the choice; answers the URL of the runtime
/// that was chosen (or "" if none was).
pub async fn delete_default_eventing(
    tx: &mut dyn Tx,
    tenant: TenantId,
    app_id: ApplicationId,
) -> Result<String> {
    if tx
        .application(tenant, app_id)
        .await
        .map_err(internal)?
        .is_none()
    {
        return Err(DomainError::not_found("application", app_id));
    }
    match tx
        .delete_default_eventing(tenant, app_id)
        .await
        .map_err(internal)?
    {
        Some(runtime) => runtime_eventing_url(tx, tenant, runtime).await,
        None => Ok(String::new()),
    }
}
