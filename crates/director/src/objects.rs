//! Applications and runtimes as objects that carry labels: their name in messages, and their
//! labels.

use std::collections::BTreeMap;

use serde_json::Value;
use sextant_domain::{DomainError, ObjectKind, ObjectRef, TenantId};
use sextant_store::Tx;

use crate::error::internal;

type Result<T> = std::result::Result<T, DomainError>;

/// How messages name an object of this kind.
pub fn object_name(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::Application => "application",
        ObjectKind::Runtime => "runtime",
    }
}

/// The labels of one object as a map.
pub async fn labels_of(
    tx: &mut dyn Tx,
    tenant: TenantId,
    object: ObjectRef,
) -> Result<BTreeMap<String, Value>> {
    Ok(tx
        .labels(tenant, object.kind(), &[object.id()])
        .await
        .map_err(internal)?
        .into_iter()
        .map(|l| (l.key, l.value))
        .collect())
}
