//! Webhooks of applications: where and how an application is told of events, the secret its
//! deliveries are signed with, and since when it fails. The outbox of their deliveries is
//! `tx/delivery/`.

use sextant_domain::{ApplicationId, WebhookId};
use sextant_domain::{TenantId, Webhook};

use crate::error::StoreError;

/// The webhook operations of a transaction.
#[async_trait::async_trait]
pub trait WebhooksTx: Send {
    /// Inserts webhooks in one statement (more only beyond [`MAX_BIND_PARAMETERS`]).
    ///
    /// [`MAX_BIND_PARAMETERS`]: crate::MAX_BIND_PARAMETERS
    async fn insert_webhooks(&mut self, webhooks: &[Webhook]) -> Result<(), StoreError>;
    async fn insert_webhook(&mut self, webhook: &Webhook) -> Result<(), StoreError> {
        self.insert_webhooks(std::slice::from_ref(webhook)).await
    }
    async fn update_webhook(&mut self, webhook: &Webhook) -> Result<bool, StoreError>;
    async fn webhook(
        &mut self,
        tenant: TenantId,
        id: WebhookId,
    ) -> Result<Option<Webhook>, StoreError>;
    async fn delete_webhook(&mut self, tenant: TenantId, id: WebhookId)
    -> Result<bool, StoreError>;
    /// The webhooks of several applications, ordered by application and id.
    async fn webhooks(
        &mut self,
        tenant: TenantId,
        app_ids: &[ApplicationId],
    ) -> Result<Vec<Webhook>, StoreError>;
    /// Replaces a webhook's signing secret; false if there is no such webhook.
    async fn set_webhook_secret(
        &mut self,
        tenant: TenantId,
        id: WebhookId,
        secret: &str,
    ) -> Result<bool, StoreError>;
    /// Marks a webhook failing since `since`, or (None) not failing.
    async fn set_webhook_failing(
        &mut self,
        tenant: TenantId,
        id: WebhookId,
        since: Option<time::OffsetDateTime>,
    ) -> Result<(), StoreError>;
}

const WEBHOOK_COLUMNS: &str =
    "id, tenant_id, app_id, type, url, auth, created_at, secret, failing_since";

pub(crate) fn webhook_columns() -> &'static str {
    WEBHOOK_COLUMNS
}

macro_rules! webhooks_tx {
    ($Tx:ident, $Db:ty) => {
        impl $Tx {
            fn webhook_from_row(
                row: &<$Db as sqlx::Database>::Row,
            ) -> Result<sextant_domain::Webhook, StoreError> {
                use $crate::tx::catalog::parse_enum;
                let ty: String = row.try_get(3)?;
                let auth: Option<Json<sextant_domain::Auth>> = row.try_get(5)?;
                Ok(sextant_domain::Webhook {
                    id: sextant_domain::WebhookId::from_untyped(row.try_get(0)?),
                    tenant: TenantId(row.try_get(1)?),
                    application_id: sextant_domain::ApplicationId::from_untyped(row.try_get(2)?),
                    webhook_type: parse_enum(
                        "webhook type",
                        &ty,
                        sextant_domain::WebhookType::parse,
                    )?,
                    url: row.try_get(4)?,
                    auth: auth.map(|a| a.0),
                    created_at: from_micros(row.try_get(6)?)?,
                    secret: row.try_get(7)?,
                    failing_since: row
                        .try_get::<Option<i64>, _>(8)?
                        .map(from_micros)
                        .transpose()?,
                })
            }
        }

        #[async_trait::async_trait]
        impl $crate::tx::catalog::webhooks::WebhooksTx for $Tx {
            async fn insert_webhooks(
                &mut self,
                webhooks: &[sextant_domain::Webhook],
            ) -> Result<(), StoreError> {
                for chunk in $crate::tx::chunks::statement_chunks(webhooks, 9, |_| 0) {
                    let mut qb = sqlx::QueryBuilder::<$Db>::new(format!(
                        "INSERT INTO webhooks ({}) ",
                        $crate::tx::catalog::webhooks::webhook_columns()
                    ));
                    qb.push_values(chunk, |mut row, webhook| {
                        row.push_bind(webhook.id.into_untyped())
                            .push_bind(webhook.tenant.0)
                            .push_bind(webhook.application_id.into_untyped())
                            .push_bind(webhook.webhook_type.as_str())
                            .push_bind(webhook.url.as_str())
                            .push_bind(webhook.auth.as_ref().map(Json))
                            .push_bind(to_micros(webhook.created_at))
                            .push_bind(webhook.secret.as_deref())
                            .push_bind(webhook.failing_since.map(to_micros));
                    });
                    self.counter().inc();
                    qb.build().execute(self.conn()).await?;
                }
                Ok(())
            }

            async fn update_webhook(
                &mut self,
                webhook: &sextant_domain::Webhook,
            ) -> Result<bool, StoreError> {
                self.counter().inc();
                let done = sqlx::query(
                    "UPDATE webhooks SET type = $3, url = $4, auth = $5 \
                     WHERE tenant_id = $1 AND id = $2",
                )
                .bind(webhook.tenant.0)
                .bind(webhook.id.into_untyped())
                .bind(webhook.webhook_type.as_str())
                .bind(&webhook.url)
                .bind(webhook.auth.as_ref().map(Json))
                .execute(self.conn())
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn webhook(
                &mut self,
                tenant: TenantId,
                id: sextant_domain::WebhookId,
            ) -> Result<Option<sextant_domain::Webhook>, StoreError> {
                let row = self
                    .catalog_row(
                        "webhooks",
                        $crate::tx::catalog::webhooks::webhook_columns(),
                        tenant,
                        id,
                    )
                    .await?;
                row.as_ref().map(Self::webhook_from_row).transpose()
            }

            async fn delete_webhook(
                &mut self,
                tenant: TenantId,
                id: sextant_domain::WebhookId,
            ) -> Result<bool, StoreError> {
                self.catalog_delete("webhooks", tenant, id).await
            }

            async fn webhooks(
                &mut self,
                tenant: TenantId,
                app_ids: &[sextant_domain::ApplicationId],
            ) -> Result<Vec<sextant_domain::Webhook>, StoreError> {
                if app_ids.is_empty() {
                    return Ok(Vec::new());
                }
                let mut qb = sqlx::QueryBuilder::<$Db>::new(format!(
                    "SELECT {} FROM webhooks WHERE tenant_id = ",
                    $crate::tx::catalog::webhooks::webhook_columns()
                ));
                qb.push_bind(tenant.0);
                qb.push(" AND ");
                Self::push_id_in(&mut qb, "app_id", app_ids);
                qb.push(" ORDER BY app_id, id");
                self.counter().inc();
                let rows = qb.build().fetch_all(self.conn()).await?;
                rows.iter().map(Self::webhook_from_row).collect()
            }

            async fn set_webhook_secret(
                &mut self,
                tenant: TenantId,
                id: sextant_domain::WebhookId,
                secret: &str,
            ) -> Result<bool, StoreError> {
                self.counter().inc();
                let done =
                    sqlx::query("UPDATE webhooks SET secret = $3 WHERE tenant_id = $1 AND id = $2")
                        .bind(tenant.0)
                        .bind(id.into_untyped())
                        .bind(secret)
                        .execute(self.conn())
                        .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn set_webhook_failing(
                &mut self,
                tenant: TenantId,
                id: sextant_domain::WebhookId,
                since: Option<time::OffsetDateTime>,
            ) -> Result<(), StoreError> {
                self.counter().inc();
                sqlx::query(
                    "UPDATE webhooks SET failing_since = $3 WHERE tenant_id = $1 AND id = $2",
                )
                .bind(tenant.0)
                .bind(id.into_untyped())
                .bind(since.map(to_micros))
                .execute(self.conn())
                .await?;
                Ok(())
            }
        }
    };
}
