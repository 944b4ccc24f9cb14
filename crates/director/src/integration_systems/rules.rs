//! The rules of integration systems: registering one (its tenant owns it and grants it
//! access), updating and unregistering it (by its owner), and granting or revoking a
//! tenant's access.

use sextant_domain::IntegrationSystemId;
use sextant_domain::Name;
use sextant_domain::{DomainError, IntegrationSystem, TenantId};
use sextant_store::{StoreError, Tx};

use crate::clock::now_micros;
use crate::confine::owned_integration_system;
use crate::error::internal;

type Result<T> = std::result::Result<T, DomainError>;

fn system_not_unique(name: &Name) -> impl FnOnce(StoreError) -> DomainError + '_ {
    move |e| match e {
        StoreError::NotUnique => {
            DomainError::NotUnique(format!("integration system name \"{name}\" is not unique"))
        }
        other => internal(other),
    }
}

/// `registerIntegrationSystem`: the caller's tenant owns the system and grants it access.
pub async fn register_integration_system(
    tx: &mut dyn Tx,
    tenant: TenantId,
    name: Name,
    description: Option<String>,
) -> Result<IntegrationSystem> {
    let system = IntegrationSystem {
        id: IntegrationSystemId::new_v4(),
        name,
        description,
        owner: tenant,
    };
    tx.insert_integration_system(&system)
        .await
        .map_err(system_not_unique(&system.name))?;
    tx.grant_integration_system(tenant, system.id, now_micros())
        .await
        .map_err(internal)?;
    Ok(system)
}

/// `updateIntegrationSystem`: by its owner.
pub async fn update_integration_system(
    tx: &mut dyn Tx,
    tenant: TenantId,
    id: IntegrationSystemId,
    name: Name,
    description: Option<String>,
) -> Result<IntegrationSystem> {
    let system = IntegrationSystem {
        name,
        description,
        ..owned_integration_system(tx, tenant, id).await?
    };
    if !tx
        .update_integration_system(&system)
        .await
        .map_err(system_not_unique(&system.name))?
    {
        return Err(DomainError::not_found("integration system", id));
    }
    Ok(system)
}

/// `unregisterIntegrationSystem`: by its owner; refused while any application (of any
/// tenant) names it.
pub async fn unregister_integration_system(
    tx: &mut dyn Tx,
    tenant: TenantId,
    id: IntegrationSystemId,
) -> Result<IntegrationSystem> {
    let system = owned_integration_system(tx, tenant, id).await?;
    let in_use = || {
        DomainError::InUse(format!(
            "integration system with ID \"{id}\" is still used by applications"
        ))
    };
    if tx
        .count_applications_of_integration_system(id)
        .await
        .map_err(internal)?
        > 0
    {
        return Err(in_use());
    }
    tx.delete_integration_system(id)
        .await
        .map_err(|e| match e {
            StoreError::ForeignKey => in_use(),
            other => internal(other),
        })?;
    Ok(system)
}

/// `grantIntegrationSystemAccess`: lets the system act in the caller's tenant (its owner
/// hands out the id). Granting again changes nothing.
pub async fn grant_integration_system_access(
    tx: &mut dyn Tx,
    tenant: TenantId,
    id: IntegrationSystemId,
) -> Result<IntegrationSystem> {
    let system = tx
        .integration_system(id)
        .await
        .map_err(internal)?
        .ok_or_else(|| DomainError::not_found("integration system", id))?;
    tx.grant_integration_system(tenant, id, now_micros())
        .await
        .map_err(|e| match e {
            StoreError::ForeignKey => DomainError::not_found("integration system", id),
            other => internal(other),
        })?;
    Ok(system)
}

/// `revokeIntegrationSystemAccess`: the system no longer acts in the caller's tenant; its
/// clients are refused from their next request on. The applications it managed stay, with
/// their `integrationSystemID`, for the tenant's users to change.
pub async fn revoke_integration_system_access(
    tx: &mut dyn Tx,
    tenant: TenantId,
    id: IntegrationSystemId,
) -> Result<IntegrationSystem> {
    let system = tx
        .visible_integration_system(tenant, id)
        .await
        .map_err(internal)?
        .ok_or_else(|| DomainError::not_found("integration system", id))?;
    if !tx
        .revoke_integration_system(tenant, id)
        .await
        .map_err(internal)?
    {
        return Err(DomainError::NotFound(format!(
            "integration system with ID \"{id}\" has no access to this tenant"
        )));
    }
    Ok(system)
}
