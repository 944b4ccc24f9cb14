//! Label definitions: a tenant's label keys with the JSON schema their values must meet.

use sextant_domain::{LabelDefinition, TenantId};

use crate::error::StoreError;

/// The label definition operations of a transaction.
#[async_trait::async_trait]
pub trait LabelDefinitionsTx: Send {
    /// The definition of a key. In a write transaction on PostgreSQL the row is share-locked,
    /// so a concurrent schema update waits for labels validated against the old schema.
    async fn label_definition(
        &mut self,
        tenant: TenantId,
        key: &str,
    ) -> Result<Option<LabelDefinition>, StoreError>;
    /// The definitions of these keys (those that exist) in one statement, share-locked like
    /// [`LabelDefinitionsTx::label_definition`]'s.
    async fn label_definitions_of(
        &mut self,
        tenant: TenantId,
        keys: &[&str],
    ) -> Result<Vec<LabelDefinition>, StoreError>;
    async fn label_definitions(
        &mut self,
        tenant: TenantId,
    ) -> Result<Vec<LabelDefinition>, StoreError>;
    async fn insert_label_definition(
        &mut self,
        tenant: TenantId,
        definition: &LabelDefinition,
    ) -> Result<(), StoreError>;
    /// Inserts the definition unless one exists for the key; true if it inserted. Safe under
    /// concurrency: two writers ensuring the same key both succeed.
    async fn ensure_label_definition(
        &mut self,
        tenant: TenantId,
        definition: &LabelDefinition,
    ) -> Result<bool, StoreError>;
    async fn update_label_definition(
        &mut self,
        tenant: TenantId,
        definition: &LabelDefinition,
    ) -> Result<bool, StoreError>;
    /// Removes a definition and returns it, if it was there.
    async fn delete_label_definition(
        &mut self,
        tenant: TenantId,
        key: &str,
    ) -> Result<Option<LabelDefinition>, StoreError>;
}

macro_rules! label_definitions_tx {
    ($Tx:ident, $Db:ty) => {
        impl $Tx {
            fn label_definition_from_row(
                row: &<$Db as sqlx::Database>::Row,
            ) -> Result<LabelDefinition, StoreError> {
                let schema: Option<Json<Value>> = row.try_get(1)?;
                Ok(LabelDefinition {
                    key: row.try_get(0)?,
                    schema: schema.map(|s| s.0),
                })
            }
        }

        #[async_trait::async_trait]
        impl $crate::tx::label_definitions::LabelDefinitionsTx for $Tx {
            async fn label_definition(
                &mut self,
                tenant: TenantId,
                key: &str,
            ) -> Result<Option<LabelDefinition>, StoreError> {
                self.counter().inc();
                let row = sqlx::query(AssertSqlSafe(format!(
                    "SELECT key, schema FROM label_definitions WHERE tenant_id = $1 AND key = $2{}",
                    self.share_lock()
                )))
                .bind(tenant.0)
                .bind(key)
                .fetch_optional(self.conn())
                .await?;
                row.as_ref()
                    .map(Self::label_definition_from_row)
                    .transpose()
            }

            async fn label_definitions_of(
                &mut self,
                tenant: TenantId,
                keys: &[&str],
            ) -> Result<Vec<LabelDefinition>, StoreError> {
                if keys.is_empty() {
                    return Ok(Vec::new());
                }
                let mut qb = sqlx::QueryBuilder::<$Db>::new(
                    "SELECT key, schema FROM label_definitions WHERE tenant_id = ",
                );
                qb.push_bind(tenant.0);
                qb.push(" AND ");
                Self::push_text_in(&mut qb, "key", keys);
                qb.push(self.share_lock());
                self.counter().inc();
                let rows = qb.build().fetch_all(self.conn()).await?;
                rows.iter().map(Self::label_definition_from_row).collect()
            }

            async fn label_definitions(
                &mut self,
                tenant: TenantId,
            ) -> Result<Vec<LabelDefinition>, StoreError> {
                self.counter().inc();
                let rows = sqlx::query(
                    "SELECT key, schema FROM label_definitions WHERE tenant_id = $1 ORDER BY key",
                )
                .bind(tenant.0)
                .fetch_all(self.conn())
                .await?;
                rows.iter().map(Self::label_definition_from_row).collect()
            }

            async fn insert_label_definition(
                &mut self,
                tenant: TenantId,
                definition: &LabelDefinition,
            ) -> Result<(), StoreError> {
                self.counter().inc();
                sqlx::query(
                    "INSERT INTO label_definitions (tenant_id, key, schema) VALUES ($1, $2, $3)",
                )
                .bind(tenant.0)
                .bind(&definition.key)
                .bind(definition.schema.as_ref().map(Json))
                .execute(self.conn())
                .await?;
                Ok(())
            }

            async fn ensure_label_definition(
                &mut self,
                tenant: TenantId,
                definition: &LabelDefinition,
            ) -> Result<bool, StoreError> {
                self.counter().inc();
                let done = sqlx::query(
                    "INSERT INTO label_definitions (tenant_id, key, schema) VALUES ($1, $2, $3) \
                     ON CONFLICT (tenant_id, key) DO NOTHING",
                )
                .bind(tenant.0)
                .bind(&definition.key)
                .bind(definition.schema.as_ref().map(Json))
                .execute(self.conn())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn update_label_definition(
                &mut self,
                tenant: TenantId,
                definition: &LabelDefinition,
            ) -> Result<bool, StoreError> {
                self.counter().inc();
                let done = sqlx::query(
                    "UPDATE label_definitions SET schema = $3 WHERE tenant_id = $1 AND key = $2",
                )
                .bind(tenant.0)
                .bind(&definition.key)
                .bind(definition.schema.as_ref().map(Json))
                .execute(self.conn())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_label_definition(
                &mut self,
                tenant: TenantId,
                key: &str,
            ) -> Result<Option<LabelDefinition>, StoreError> {
                self.counter().inc();
                let row = sqlx::query(
                    "DELETE FROM label_definitions WHERE tenant_id = $1 AND key = $2 \
                     RETURNING key, schema",
                )
                .bind(tenant.0)
                .bind(key)
                .fetch_optional(self.conn())
                .await?;
                row.as_ref()
                    .map(Self::label_definition_from_row)
                    .transpose()
            }
        }
    };
}
