//! Labels and label definitions as answered, and the labels of applications and runtimes:
//! loaded for a whole page in one statement, or for one object.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_graphql::{Context, SimpleObject};
use serde_json::Value;
use sextant_domain::{self as domain, ObjectKind, ObjectRef, TypedUuid};
use sextant_store::{StoredLabel, Tx};
use uuid::Uuid;

use crate::context::{consumer, store};
use crate::error::{GqlResult, IntoGql};
use crate::scalars::{Any, JsonSchema, Labels};

/// Labels known up front: loaded for a whole page in one statement, or kept from an object
/// that was just deleted and can no longer be loaded.
pub type Preloaded = Option<Arc<BTreeMap<String, Value>>>;

/// The labels of objects, grouped per object.
pub type LabelsById<K> = HashMap<K, BTreeMap<String, Value>>;

/// Loads the labels of a page's objects in one statement, if the query asks for them.
pub async fn page_labels<K: TypedUuid + Eq + std::hash::Hash>(
    ctx: &Context<'_>,
    tx: &mut dyn Tx,
    kind: ObjectKind,
    ids: Vec<K>,
) -> GqlResult<Option<LabelsById<K>>> {
    let data = ctx.look_ahead().field("data");
    let wanted = data.field("labels").exists()
        || (kind == ObjectKind::Runtime && data.field("eventingConfiguration").exists());
    if !wanted || ids.is_empty() {
        return Ok(None);
    }
    let tenant = consumer(ctx)?.tenant;
    let ids: Vec<Uuid> = ids.into_iter().map(Into::into).collect();
    let mut grouped = LabelsById::new();
    for StoredLabel {
        object: id,
        key,
        value,
    } in tx.labels(tenant, kind, &ids).await.gql()?
    {
        grouped
            .entry(K::from_untyped(id))
            .or_default()
            .insert(key, value);
    }
    Ok(Some(grouped))
}

/// An object's labels (those with `key`, if given): the preloaded ones, else read.
pub async fn resolve_labels(
    ctx: &Context<'_>,
    object: ObjectRef,
    preloaded: &Preloaded,
    key: Option<String>,
) -> GqlResult<Option<Labels>> {
    let all = match preloaded {
        Some(labels) => labels.as_ref().clone(),
        None => {
            let tenant = consumer(ctx)?.tenant;
            let mut tx = store(ctx)?.read().await.gql()?;
            tx.labels(tenant, object.kind(), &[object.id()])
                .await
                .gql()?
                .into_iter()
                .map(|l| (l.key, l.value))
                .collect()
        }
    };
    let map = all
        .into_iter()
        .filter(|(k, _)| key.as_ref().is_none_or(|wanted| wanted == k))
        .collect();
    Ok(Some(Labels(map)))
}

#[derive(SimpleObject)]
pub struct Label {
    pub key: String,
    pub value: Any,
}

#[derive(SimpleObject)]
pub struct LabelDefinition {
    pub key: String,
    pub schema: Option<JsonSchema>,
}

impl From<domain::LabelDefinition> for LabelDefinition {
    fn from(d: domain::LabelDefinition) -> Self {
        LabelDefinition {
            key: d.key,
            schema: d.schema.map(|s| JsonSchema(s.to_string())),
        }
    }
}

/// Sextant: a scenario and how many of the tenant's applications and runtimes hold it.
#[derive(SimpleObject)]
pub struct ScenarioCount {
    pub scenario: String,
    /// Null when the caller may not read applications.
    pub applications: Option<i32>,
    /// Null when the caller may not read runtimes.
    pub runtimes: Option<i32>,
}
