//! Scenarios: the `scenarios` label assigns applications to the runtimes that share one of
//! its values. What such a label names, the tenant's definition of it, and the applications
//! a runtime's scenarios reach.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use sextant_domain::RuntimeId;
use sextant_domain::label::{LabelFilter, LabelQuery, SCENARIOS_KEY, default_scenarios_schema};
use sextant_domain::{
    Application, DomainError, LabelDefinition, ObjectRef, Page, PageRequest, TenantId,
};
use sextant_store::Tx;

use crate::error::internal;
use crate::objects::labels_of;

type Result<T> = std::result::Result<T, DomainError>;

/// The scenarios a `scenarios` label among `labels` names.
pub fn scenarios_of(labels: &BTreeMap<String, Value>) -> BTreeSet<String> {
    labels
        .get(SCENARIOS_KEY)
        .map(scenarios_in)
        .unwrap_or_default()
}

/// The scenarios a `scenarios` label value names.
pub fn scenarios_in(value: &Value) -> BTreeSet<String> {
    match value {
        Value::Array(items) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => BTreeSet::new(),
    }
}

/// The scenarios a `scenarios` label among `labels` names, in the label's order.
pub fn scenario_list(labels: &BTreeMap<String, Value>) -> Vec<String> {
    labels
        .get(SCENARIOS_KEY)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Creates the tenant's `scenarios` definition with the default schema if it is missing.
pub async fn ensure_scenarios_definition(tx: &mut dyn Tx, tenant: TenantId) -> Result<()> {
    tx.ensure_label_definition(
        tenant,
        &LabelDefinition {
            key: SCENARIOS_KEY.to_owned(),
            schema: Some(default_scenarios_schema()),
        },
    )
    .await
    .map_err(internal)?;
    Ok(())
}

/// `applicationsForRuntime`: the tenant's applications that share a scenario with the runtime.
pub async fn applications_for_runtime(
    tx: &mut dyn Tx,
    tenant: TenantId,
    runtime_id: RuntimeId,
    page: &PageRequest,
) -> Result<Page<Application>> {
    if tx
        .runtime(tenant, runtime_id)
        .await
        .map_err(internal)?
        .is_none()
    {
        return Err(DomainError::NotFound("runtime does not exist".to_owned()));
    }
    let scenarios = labels_of(tx, tenant, ObjectRef::Runtime(runtime_id))
        .await?
        .remove(SCENARIOS_KEY);
    let values: Vec<String> = match scenarios {
        Some(Value::Array(items)) => items
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    if values.is_empty() {
        return Ok(Page {
            items: Vec::new(),
            total_count: 0,
            has_next_page: false,
        });
    }
    let filter = LabelFilter {
        key: SCENARIOS_KEY.to_owned(),
        query: LabelQuery::AnyOf(values),
    };
    tx.applications(tenant, &[filter], page)
        .await
        .map_err(internal)
}
