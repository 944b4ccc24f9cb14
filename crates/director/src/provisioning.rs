//! What the Provisioner asks of the Director, in process: the same rules the GraphQL
//! mutations apply (`registerRuntime`'s validation, `requestOneTimeTokenForRuntime`'s token),
//! for the Provisioner to run inside its own write transactions.

use sextant_domain::{DomainError, OneTimeTokenKind, SystemAuthOwner, TenantId};
use sextant_store::Tx;
use uuid::Uuid;

pub use crate::error::to_graphql;
pub use crate::guard::Scopes;
pub use crate::inputs::RuntimeInput;

/// A one-time token that pairs the runtime's agent through the Connector, valid for `ttl`
/// (what `requestOneTimeTokenForRuntime` makes); stored as a hash, returned in the clear.
pub async fn runtime_pairing_token(
    tx: &mut dyn Tx,
    tenant: TenantId,
    runtime: Uuid,
    ttl: std::time::Duration,
) -> Result<String, DomainError> {
    if tx
        .runtime(tenant, runtime)
        .await
        .map_err(crate::error::internal)?
        .is_none()
    {
        return Err(DomainError::not_found("runtime", runtime));
    }
    let (token, hash) = crate::system_auths::new_token()?;
    crate::system_auths::pairing_token(
        tx,
        tenant,
        SystemAuthOwner::Runtime(runtime),
        OneTimeTokenKind::Runtime,
        hash,
        ttl,
    )
    .await?;
    Ok(token)
}
