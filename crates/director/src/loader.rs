//! Batches label reads: the labels of every object on a page cost one statement per kind.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use serde_json::Value;
use sextant_domain::{ObjectKind, TenantId};
use sextant_store::{Store, StoreError};
use uuid::Uuid;

/// Loads labels for one request's tenant. Created per request, so nothing is cached across
/// requests or tenants.
pub struct LabelLoader {
    pub store: Arc<dyn Store>,
    pub tenant: TenantId,
}

impl Loader<(ObjectKind, Uuid)> for LabelLoader {
    type Value = BTreeMap<String, Value>;
    type Error = Arc<StoreError>;

    async fn load(
        &self,
        keys: &[(ObjectKind, Uuid)],
    ) -> Result<HashMap<(ObjectKind, Uuid), Self::Value>, Self::Error> {
        let mut out: HashMap<(ObjectKind, Uuid), Self::Value> = HashMap::new();
        let mut tx = self.store.read().await.map_err(Arc::new)?;
        for kind in [ObjectKind::Application, ObjectKind::Runtime] {
            let ids: Vec<Uuid> = keys
                .iter()
                .filter(|(k, _)| *k == kind)
                .map(|(_, id)| *id)
                .collect();
            if ids.is_empty() {
                continue;
            }
            for (id, key, value) in tx.labels(self.tenant, kind, &ids).await.map_err(Arc::new)? {
                out.entry((kind, id)).or_default().insert(key, value);
            }
        }
        Ok(out)
    }
}
