//! Bounds on an application's catalog: how many children of each kind it may have, how
//! large its specs and its tenant's may be in all, and how long a group name may be.

use sextant_domain::ApplicationId;
use sextant_domain::{
    DomainError, MAX_DEFINITIONS_PER_APPLICATION, MAX_WEBHOOKS_PER_APPLICATION, SpecLimits,
    TenantId,
};
use sextant_store::{ChildKind, Tx};

use crate::error::internal;

type Result<T> = std::result::Result<T, DomainError>;

/// Longest group name of an API or event definition.
pub const GROUP_MAX: usize = 36;

/// Requires that the application a child is added to exists (Compass's words when not).
pub async fn require_app(
    tx: &mut dyn Tx,
    tenant: TenantId,
    app_id: ApplicationId,
    what: &str,
) -> Result<()> {
    match tx.application(tenant, app_id).await.map_err(internal)? {
        Some(_) => Ok(()),
        None => Err(DomainError::NotFound(format!(
            "Cannot add {what} to not existing Application"
        ))),
    }
}

/// Refuses a child beyond the per-application bound.
pub async fn within_bound(
    tx: &mut dyn Tx,
    tenant: TenantId,
    app_id: ApplicationId,
    kind: ChildKind,
    adding: usize,
) -> Result<()> {
    let (max, what) = match kind {
        ChildKind::ApiDefinition => (MAX_DEFINITIONS_PER_APPLICATION, "API definitions"),
        ChildKind::EventDefinition => (MAX_DEFINITIONS_PER_APPLICATION, "event definitions"),
        ChildKind::Document => (MAX_DEFINITIONS_PER_APPLICATION, "documents"),
        ChildKind::Webhook => (MAX_WEBHOOKS_PER_APPLICATION, "webhooks"),
    };
    let present = tx
        .count_children(tenant, kind, app_id)
        .await
        .map_err(internal)?;
    if present.saturating_add(i64::try_from(adding).unwrap_or(i64::MAX)) > max {
        return Err(DomainError::Invalid(format!(
            "an application can have at most {max} {what}"
        )));
    }
    Ok(())
}

/// The spec bytes a definition's spec adds when written (its text, if it has one).
pub fn spec_bytes(data: Option<&str>) -> u64 {
    data.map_or(0, |d| u64::try_from(d.len()).unwrap_or(u64::MAX))
}

/// Refuses a write that added `added` spec bytes to an application if its specs, or its
/// tenant's, now exceed their quota. Call it after writing, in the same transaction, so that
/// a refusal rolls everything back; a write that added nothing is never refused (an
/// application over a lowered quota can still shrink).
pub async fn within_spec_quota(
    tx: &mut dyn Tx,
    tenant: TenantId,
    app_id: ApplicationId,
    added: u64,
    limits: &SpecLimits,
) -> Result<()> {
    if added == 0 {
        return Ok(());
    }
    let usage = tx.spec_usage(tenant, app_id).await.map_err(internal)?;
    if usage.application > limits.per_application {
        return Err(DomainError::QuotaExceeded(format!(
            "the specs of the application would take {} bytes; an application may store at most {} bytes of specs",
            usage.application, limits.per_application
        )));
    }
    if usage.tenant > limits.per_tenant {
        return Err(DomainError::QuotaExceeded(format!(
            "the specs of the tenant would take {} bytes; a tenant may store at most {} bytes of specs",
            usage.tenant, limits.per_tenant
        )));
    }
    Ok(())
}
