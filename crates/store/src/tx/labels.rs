//! Labels of applications and runtimes (one table per kind of object), and label filters:
//! how a list of objects is narrowed to those whose labels match, in SQL shared by both
//! backends around each adapter's condition on a label's value.

use serde_json::Value;
use sextant_domain::{ObjectKind, ObjectRef, TenantId};
use uuid::Uuid;

use crate::error::StoreError;

/// The label operations of a transaction.
#[async_trait::async_trait]
pub trait LabelsTx: Send {
    /// The labels of several objects of one kind in one statement: (object id, key, value).
    async fn labels(
        &mut self,
        tenant: TenantId,
        kind: ObjectKind,
        ids: &[Uuid],
    ) -> Result<Vec<(Uuid, String, Value)>, StoreError>;
    /// Inserts or replaces a label. The object must exist (else [`StoreError::ForeignKey`]).
    async fn set_label(
        &mut self,
        tenant: TenantId,
        object: ObjectRef,
        key: &str,
        value: &Value,
    ) -> Result<(), StoreError>;
    /// Inserts or replaces several labels of one object (distinct keys) in one statement. The
    /// object must exist (else [`StoreError::ForeignKey`]).
    async fn set_labels(
        &mut self,
        tenant: TenantId,
        object: ObjectRef,
        labels: &[(&str, &Value)],
    ) -> Result<(), StoreError>;
    /// Removes a label and returns its value, if it was there.
    async fn delete_label(
        &mut self,
        tenant: TenantId,
        object: ObjectRef,
        key: &str,
    ) -> Result<Option<Value>, StoreError>;
    async fn delete_all_labels(
        &mut self,
        tenant: TenantId,
        object: ObjectRef,
    ) -> Result<(), StoreError>;
    /// Every label of a tenant with this key, on objects of either kind.
    async fn labels_with_key(
        &mut self,
        tenant: TenantId,
        key: &str,
    ) -> Result<Vec<(ObjectRef, Value)>, StoreError>;
    async fn delete_labels_with_key(
        &mut self,
        tenant: TenantId,
        key: &str,
    ) -> Result<u64, StoreError>;
}

/// The label table and object column of a kind.
pub(crate) fn label_table(kind: ObjectKind) -> (&'static str, &'static str) {
    match kind {
        ObjectKind::Application => ("application_labels", "app_id"),
        ObjectKind::Runtime => ("runtime_labels", "runtime_id"),
    }
}

/// A label filter made ready for SQL by a backend.
pub(crate) enum ResolvedFilter {
    Exists(String),
    AnyOf(String, Vec<String>),
    Contains(String, Value),
    /// Objects already found by the adapter (SQLite evaluates `@>` in Rust).
    Ids(Vec<Uuid>),
}

macro_rules! labels_tx {
    ($Tx:ident, $Db:ty) => {
        impl $Tx {
            /// Appends one condition per filter: an id list, or the set of objects with a
            /// label of the filter's key (and the backend's condition on its value). The set is
            /// an uncorrelated `IN (SELECT ...)` over the label table's `(tenant_id, key)`
            /// index, computed once per statement rather than probed once per object.
            fn push_filters(
                qb: &mut sqlx::QueryBuilder<$Db>,
                alias: &str,
                kind: ObjectKind,
                tenant: TenantId,
                filters: &[ResolvedFilter],
            ) {
                let (table, column) = label_table(kind);
                for filter in filters {
                    match filter {
                        ResolvedFilter::Ids(ids) => {
                            qb.push(format!(" AND {alias}.id IN "));
                            Self::push_id_list(qb, ids);
                        }
                        ResolvedFilter::Exists(key)
                        | ResolvedFilter::AnyOf(key, _)
                        | ResolvedFilter::Contains(key, _) => {
                            qb.push(format!(
                                " AND {alias}.id IN (SELECT l.{column} FROM {table} l \
                                 WHERE l.tenant_id = "
                            ));
                            qb.push_bind(tenant.0);
                            qb.push(" AND l.key = ");
                            qb.push_bind(key.clone());
                            Self::push_value_match(qb, filter);
                            qb.push(")");
                        }
                    }
                }
            }

            async fn count_filtered(
                &mut self,
                table: &str,
                kind: ObjectKind,
                tenant: TenantId,
                resolved: &[ResolvedFilter],
            ) -> Result<i64, StoreError> {
                let mut qb = sqlx::QueryBuilder::<$Db>::new(format!(
                    "SELECT COUNT(*) FROM {table} o WHERE o.tenant_id = "
                ));
                qb.push_bind(tenant.0);
                Self::push_filters(&mut qb, "o", kind, tenant, resolved);
                self.counter().inc();
                let count: i64 = qb.build_query_scalar().fetch_one(self.conn()).await?;
                Ok(count)
            }
        }

        #[async_trait::async_trait]
        impl $crate::tx::labels::LabelsTx for $Tx {
            async fn labels(
                &mut self,
                tenant: TenantId,
                kind: ObjectKind,
                ids: &[Uuid],
            ) -> Result<Vec<(Uuid, String, Value)>, StoreError> {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let (table, column) = label_table(kind);
                let mut qb = sqlx::QueryBuilder::<$Db>::new(format!(
                    "SELECT {column}, key, value FROM {table} WHERE tenant_id = "
                ));
                qb.push_bind(tenant.0);
                qb.push(format!(" AND {column} IN "));
                Self::push_id_list(&mut qb, ids);
                qb.push(format!(" ORDER BY {column}, key"));
                self.counter().inc();
                let rows = qb.build().fetch_all(self.conn()).await?;
                rows.iter()
                    .map(|row| {
                        let id: Uuid = row.try_get(0)?;
                        let key: String = row.try_get(1)?;
                        let value: Json<Value> = row.try_get(2)?;
                        Ok((id, key, value.0))
                    })
                    .collect()
            }

            async fn set_label(
                &mut self,
                tenant: TenantId,
                object: ObjectRef,
                key: &str,
                value: &Value,
            ) -> Result<(), StoreError> {
                let (table, column) = label_table(object.kind());
                self.counter().inc();
                sqlx::query(AssertSqlSafe(format!(
                    "INSERT INTO {table} (tenant_id, {column}, key, value) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (tenant_id, {column}, key) DO UPDATE SET value = excluded.value"
                )))
                .bind(tenant.0)
                .bind(object.id())
                .bind(key)
                .bind(Json(value))
                .execute(self.conn())
                .await?;
                Ok(())
            }

            async fn set_labels(
                &mut self,
                tenant: TenantId,
                object: ObjectRef,
                labels: &[(&str, &Value)],
            ) -> Result<(), StoreError> {
                let (table, column) = label_table(object.kind());
                for chunk in $crate::tx::chunks::statement_chunks(labels, 4, |_| 0) {
                    let mut qb = sqlx::QueryBuilder::<$Db>::new(format!(
                        "INSERT INTO {table} (tenant_id, {column}, key, value) "
                    ));
                    qb.push_values(chunk, |mut row, (key, value)| {
                        row.push_bind(tenant.0)
                            .push_bind(object.id())
                            .push_bind(*key)
                            .push_bind(Json(*value));
                    });
                    qb.push(format!(
                        " ON CONFLICT (tenant_id, {column}, key) DO UPDATE SET value = excluded.value"
                    ));
                    self.counter().inc();
                    qb.build().execute(self.conn()).await?;
                }
                Ok(())
            }

            async fn delete_label(
                &mut self,
                tenant: TenantId,
                object: ObjectRef,
                key: &str,
            ) -> Result<Option<Value>, StoreError> {
                let (table, column) = label_table(object.kind());
                self.counter().inc();
                let value: Option<Json<Value>> = sqlx::query_scalar(AssertSqlSafe(format!(
                    "DELETE FROM {table} WHERE tenant_id = $1 AND {column} = $2 AND key = $3 \
                     RETURNING value"
                )))
                .bind(tenant.0)
                .bind(object.id())
                .bind(key)
                .fetch_optional(self.conn())
                .await?;
                Ok(value.map(|v| v.0))
            }

            async fn delete_all_labels(
                &mut self,
                tenant: TenantId,
                object: ObjectRef,
            ) -> Result<(), StoreError> {
                let (table, column) = label_table(object.kind());
                self.counter().inc();
                sqlx::query(AssertSqlSafe(format!(
                    "DELETE FROM {table} WHERE tenant_id = $1 AND {column} = $2"
                )))
                .bind(tenant.0)
                .bind(object.id())
                .execute(self.conn())
                .await?;
                Ok(())
            }

            async fn labels_with_key(
                &mut self,
                tenant: TenantId,
                key: &str,
            ) -> Result<Vec<(ObjectRef, Value)>, StoreError> {
                let mut out = Vec::new();
                for kind in [ObjectKind::Application, ObjectKind::Runtime] {
                    let (table, column) = label_table(kind);
                    self.counter().inc();
                    let rows = sqlx::query(AssertSqlSafe(format!(
                        "SELECT {column}, value FROM {table} WHERE tenant_id = $1 AND key = $2 \
                         ORDER BY {column}"
                    )))
                    .bind(tenant.0)
                    .bind(key)
                    .fetch_all(self.conn())
                    .await?;
                    for row in &rows {
                        let id: Uuid = row.try_get(0)?;
                        let value: Json<Value> = row.try_get(1)?;
                        out.push((ObjectRef::from_untyped(kind, id), value.0));
                    }
                }
                Ok(out)
            }

            async fn delete_labels_with_key(
                &mut self,
                tenant: TenantId,
                key: &str,
            ) -> Result<u64, StoreError> {
                let mut deleted = 0;
                for kind in [ObjectKind::Application, ObjectKind::Runtime] {
                    let (table, _) = label_table(kind);
                    self.counter().inc();
                    deleted += sqlx::query(AssertSqlSafe(format!(
                        "DELETE FROM {table} WHERE tenant_id = $1 AND key = $2"
                    )))
                    .bind(tenant.0)
                    .bind(key)
                    .execute(self.conn())
                    .await?
                    .rows_affected();
                }
                Ok(deleted)
            }
        }
    };
}
