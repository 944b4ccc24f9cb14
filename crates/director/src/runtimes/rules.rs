//! The rules of runtimes: registering one (runtimes have no default scenario), updating it
//! (its labels replaced), setting its status, and unregistering it. Each tells
//! [`notify`] what the applications of its scenarios should hear.

use std::collections::BTreeMap;

use serde_json::Value;
use sextant_domain::Name;
use sextant_domain::{DomainError, ObjectRef, Runtime, RuntimeStatusCondition, TenantId};
use sextant_domain::{RuntimeId, SystemAuthOwner};
use sextant_store::{CertificatesOf, StoreError, Tx};

use crate::clock::now_micros;
use crate::error::internal;
use crate::labels::rules::put_labels;
use crate::notify;
use crate::objects::labels_of;
use crate::scenarios::{ensure_scenarios_definition, scenarios_of};

type Result<T> = std::result::Result<T, DomainError>;

/// A validated runtime registration or update.
#[derive(Clone, Debug)]
pub struct RuntimeInput {
    pub name: Name,
    pub description: Option<String>,
    pub labels: BTreeMap<String, Value>,
}

fn runtime_not_unique(name: &Name) -> impl FnOnce(StoreError) -> DomainError + '_ {
    move |e| match e {
        StoreError::NotUnique => DomainError::NotUnique(format!(
            "runtime name \"{name}\" is not unique in the tenant"
        )),
        other => internal(other),
    }
}

/// The longest status message a runtime may report.
pub const MAX_STATUS_MESSAGE: usize = 1024;

/// `setRuntimeStatus`: the runtime's condition and why, stamped now.
pub async fn set_runtime_status(
    tx: &mut dyn Tx,
    tenant: TenantId,
    id: RuntimeId,
    condition: RuntimeStatusCondition,
    message: Option<String>,
) -> Result<Runtime> {
    if message
        .as_ref()
        .is_some_and(|m| m.chars().count() > MAX_STATUS_MESSAGE)
    {
        return Err(DomainError::Invalid(format!(
            "validation error for type setRuntimeStatus: message: at most {MAX_STATUS_MESSAGE} characters"
        )));
    }
    let mut runtime = tx
        .runtime(tenant, id)
        .await
        .map_err(internal)?
        .ok_or_else(|| DomainError::not_found("runtime", id))?;
    let object = ObjectRef::Runtime(id);
    let before = notify::RuntimeFacts::of(&runtime, &labels_of(tx, tenant, object).await?);
    runtime.status_condition = condition;
    runtime.status_timestamp = now_micros();
    runtime.status_message = message;
    tx.update_runtime(&runtime).await.map_err(internal)?;
    // Only the status changed: the labels are those just read.
    let after = notify::RuntimeFacts {
        ready: condition == RuntimeStatusCondition::Ready,
        ..before.clone()
    };
    notify::runtime_changed(tx, tenant, id, Some(before), Some(after)).await?;
    Ok(runtime)
}

/// `registerRuntime`. Runtimes have no default scenario.
pub async fn register_runtime(
    tx: &mut dyn Tx,
    tenant: TenantId,
    input: RuntimeInput,
) -> Result<Runtime> {
    ensure_scenarios_definition(tx, tenant).await?;
    let id = RuntimeId::new_v4();
    notify::settle_for_runtime(tx, tenant, id, &scenarios_of(&input.labels), false).await?;
    let now = now_micros();
    let runtime = Runtime {
        id,
        tenant,
        name: input.name,
        description: input.description,
        status_condition: RuntimeStatusCondition::Initial,
        status_timestamp: now,
        status_message: None,
        created_at: now,
    };
    tx.insert_runtime(&runtime)
        .await
        .map_err(runtime_not_unique(&runtime.name))?;
    let object = ObjectRef::Runtime(runtime.id);
    put_labels(
        tx,
        tenant,
        object,
        input
            .labels
            .iter()
            .map(|(key, value)| (key.as_str(), value)),
    )
    .await?;
    let after = notify::runtime_facts(tx, tenant, runtime.id).await?;
    notify::runtime_changed(tx, tenant, runtime.id, None, after).await?;
    Ok(runtime)
}

/// `updateRuntime`: as in Compass, the labels are replaced by the input's labels.
pub async fn update_runtime(
    tx: &mut dyn Tx,
    tenant: TenantId,
    id: RuntimeId,
    input: RuntimeInput,
) -> Result<Runtime> {
    let before = notify::runtime_facts(tx, tenant, id).await?;
    let mut runtime = tx
        .runtime(tenant, id)
        .await
        .map_err(internal)?
        .ok_or_else(|| DomainError::not_found("runtime", id))?;
    let mut changing = scenarios_of(&input.labels);
    changing.extend(before.iter().flat_map(|f| f.scenarios.iter().cloned()));
    notify::settle_for_runtime(tx, tenant, id, &changing, false).await?;
    runtime.name = input.name;
    runtime.description = input.description;
    tx.update_runtime(&runtime)
        .await
        .map_err(runtime_not_unique(&runtime.name))?;
    let object = ObjectRef::Runtime(id);
    tx.delete_all_labels(tenant, object)
        .await
        .map_err(internal)?;
    put_labels(
        tx,
        tenant,
        object,
        input
            .labels
            .iter()
            .map(|(key, value)| (key.as_str(), value)),
    )
    .await?;
    let after = notify::runtime_facts(tx, tenant, id).await?;
    notify::runtime_changed(tx, tenant, id, before, after).await?;
    Ok(runtime)
}

/// `unregisterRuntime`: returns the runtime and the labels it had.
pub async fn unregister_runtime(
    tx: &mut dyn Tx,
    tenant: TenantId,
    id: RuntimeId,
) -> Result<(Runtime, BTreeMap<String, Value>)> {
    let runtime = tx
        .runtime(tenant, id)
        .await
        .map_err(internal)?
        .ok_or_else(|| DomainError::not_found("runtime", id))?;
    let labels = labels_of(tx, tenant, ObjectRef::Runtime(id)).await?;
    tx.revoke_certificates_of(
        tenant,
        CertificatesOf::Owner(SystemAuthOwner::Runtime(id)),
        now_micros(),
    )
    .await
    .map_err(internal)?;
    let before = notify::RuntimeFacts::of(&runtime, &labels);
    notify::settle_for_runtime(tx, tenant, id, &before.scenarios, true).await?;
    tx.delete_runtime(tenant, id).await.map_err(internal)?;
    notify::runtime_changed(tx, tenant, id, Some(before), None).await?;
    Ok((runtime, labels))
}
