//! What the console's dashboard reads of a tenant, each in one statement whatever the number
//! of objects: [`OverviewTx`] is a supertrait of [`crate::Tx`], implemented once for both
//! backends by `overview_tx!`. Lists answer at most `limit` rows and the number that match.

use sextant_domain::{ApplicationId, RuntimeId, TenantId};
use uuid::Uuid;

use crate::error::StoreError;
use crate::tx::system_auths::OwnerKind;

/// The first rows of a list, and how many match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed<T> {
    pub items: Vec<T>,
    pub total: u64,
}

/// How many objects of a kind have a status condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusCount {
    pub condition: String,
    pub count: u64,
}

/// Which objects [`OverviewTx::status_counts`] counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CountedKind {
    Applications,
    Runtimes,
}

/// A runtime whose agent was not seen lately, or holds a configuration of an older epoch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttentionRuntime {
    pub runtime: RuntimeId,
    pub name: String,
    pub last_seen: time::OffsetDateTime,
    pub configuration_epoch: u64,
    pub tenant_epoch: u64,
}

/// A client's newest valid certificate, which expires soon.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpiringCertificate {
    /// The application or runtime it was issued to.
    pub owner: Uuid,
    pub owner_name: String,
    pub serial: Vec<u8>,
    pub not_after: time::OffsetDateTime,
}

/// A webhook whose deliveries give up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailingWebhook {
    pub webhook: Uuid,
    pub application: ApplicationId,
    pub application_name: String,
    pub url: String,
    pub failing_since: time::OffsetDateTime,
}

/// An API or event definition whose spec's last fetch failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedFetch {
    /// `API` or `EVENT`.
    pub kind: String,
    pub definition: Uuid,
    pub name: String,
    pub application: ApplicationId,
    pub application_name: String,
    pub message: Option<String>,
}

/// Webhook delivery attempts in one minute, by the minute of each delivery's latest attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeliveryMinute {
    pub minute: time::OffsetDateTime,
    /// Deliveries whose latest attempt delivered.
    pub delivered: u64,
    /// Deliveries whose latest attempt did not (retried later, or given up).
    pub failed: u64,
}

/// The dashboard's reads of a transaction.
#[async_trait::async_trait]
pub trait OverviewTx: Send {
    /// The tenant's applications or runtimes per status condition.
    async fn status_counts(
        &mut self,
        tenant: TenantId,
        kind: CountedKind,
    ) -> Result<Vec<StatusCount>, StoreError>;
    /// Runtimes whose agent was last seen before `seen_before`, or holds a document of an
    /// older configuration epoch than its tenant's (runtimes never seen are not listed);
    /// those seen longest ago first.
    async fn runtimes_needing_attention(
        &mut self,
        tenant: TenantId,
        seen_before: time::OffsetDateTime,
        limit: u32,
    ) -> Result<Listed<AttentionRuntime>, StoreError>;
    /// The newest valid certificate of each client of applications or runtimes (`kind`)
    /// when it expires after `now` and by `until`; soonest first.
    async fn expiring_certificates(
        &mut self,
        tenant: TenantId,
        kind: OwnerKind,
        now: time::OffsetDateTime,
        until: time::OffsetDateTime,
        limit: u32,
    ) -> Result<Listed<ExpiringCertificate>, StoreError>;
    /// Webhooks with `failing_since`, failing longest first.
    async fn failing_webhooks(
        &mut self,
        tenant: TenantId,
        limit: u32,
    ) -> Result<Listed<FailingWebhook>, StoreError>;
    /// API and event definitions whose fetch request's status is FAILED.
    async fn failed_fetches(
        &mut self,
        tenant: TenantId,
        limit: u32,
    ) -> Result<Listed<FailedFetch>, StoreError>;
    /// Deliveries per minute of their latest attempt since `since`, oldest first.
    async fn delivery_minutes(
        &mut self,
        tenant: TenantId,
        since: time::OffsetDateTime,
    ) -> Result<Vec<DeliveryMinute>, StoreError>;
}

/// The total of a list from its first row's `COUNT(*) OVER ()` (0 without rows).
pub(crate) fn total_of(first: Option<i64>) -> u64 {
    first.and_then(|n| u64::try_from(n).ok()).unwrap_or(0)
}

/// A statement's `LIMIT`.
pub(crate) fn limit_of(limit: u32) -> i64 {
    i64::from(limit)
}

const MINUTE_MICROS: i64 = 60_000_000;

pub(crate) fn minute_micros() -> i64 {
    MINUTE_MICROS
}

macro_rules! overview_tx {
    ($Tx:ident, $Db:ty) => {
        #[async_trait::async_trait]
        impl $crate::tx::overview::OverviewTx for $Tx {
            async fn status_counts(
                &mut self,
                tenant: TenantId,
                kind: $crate::tx::overview::CountedKind,
            ) -> Result<Vec<$crate::tx::overview::StatusCount>, StoreError> {
                use $crate::tx::agents::count_of;
                use $crate::tx::overview::CountedKind;
                let sql = match kind {
                    CountedKind::Applications => {
                        "SELECT status_condition, COUNT(*) FROM applications \
                         WHERE tenant_id = $1 GROUP BY status_condition ORDER BY status_condition"
                    }
                    CountedKind::Runtimes => {
                        "SELECT status_condition, COUNT(*) FROM runtimes \
                         WHERE tenant_id = $1 GROUP BY status_condition ORDER BY status_condition"
                    }
                };
                self.counter().inc();
                let rows = sqlx::query(sql)
                    .bind(tenant.0)
                    .fetch_all(self.conn())
                    .await?;
                rows.iter()
                    .map(|r| {
                        Ok($crate::tx::overview::StatusCount {
                            condition: r.try_get(0)?,
                            count: count_of(r.try_get(1)?),
                        })
                    })
                    .collect()
            }

            async fn runtimes_needing_attention(
                &mut self,
                tenant: TenantId,
                seen_before: time::OffsetDateTime,
                limit: u32,
            ) -> Result<
                $crate::tx::overview::Listed<$crate::tx::overview::AttentionRuntime>,
                StoreError,
            > {
                use $crate::tx::agents::count_of;
                use $crate::tx::overview::{limit_of, total_of};
                self.counter().inc();
                let rows = sqlx::query(
                    "SELECT r.id, r.name, a.last_seen_at, a.configuration_epoch, \
                     COALESCE(e.epoch, 0), COUNT(*) OVER () \
                     FROM runtime_agents a \
                     JOIN runtimes r ON r.tenant_id = a.tenant_id AND r.id = a.runtime_id \
                     LEFT JOIN config_epochs e ON e.tenant_id = a.tenant_id \
                     WHERE a.tenant_id = $1 \
                     AND (a.last_seen_at < $2 OR a.configuration_epoch < COALESCE(e.epoch, 0)) \
                     ORDER BY a.last_seen_at, r.id LIMIT $3",
                )
                .bind(tenant.0)
                .bind(to_micros(seen_before))
                .bind(limit_of(limit))
                .fetch_all(self.conn())
                .await?;
                let total = total_of(rows.first().map(|r| r.try_get(5)).transpose()?);
                let items = rows
                    .iter()
                    .map(|r| {
                        Ok($crate::tx::overview::AttentionRuntime {
                            runtime: RuntimeId::from_untyped(r.try_get::<Uuid, _>(0)?),
                            name: r.try_get(1)?,
                            last_seen: from_micros(r.try_get(2)?)?,
                            configuration_epoch: count_of(r.try_get(3)?),
                            tenant_epoch: count_of(r.try_get(4)?),
                        })
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?;
                Ok($crate::tx::overview::Listed { items, total })
            }

            async fn expiring_certificates(
                &mut self,
                tenant: TenantId,
                kind: $crate::tx::system_auths::OwnerKind,
                now: time::OffsetDateTime,
                until: time::OffsetDateTime,
                limit: u32,
            ) -> Result<
                $crate::tx::overview::Listed<$crate::tx::overview::ExpiringCertificate>,
                StoreError,
            > {
                use $crate::tx::overview::{limit_of, total_of};
                use $crate::tx::system_auths::OwnerKind;
                let (owners, column) = match kind {
                    OwnerKind::Application => ("applications", "app_id"),
                    OwnerKind::Runtime => ("runtimes", "runtime_id"),
                    // Integration systems pair through no Connector: they hold no certificate.
                    OwnerKind::IntegrationSystem => {
                        return Ok($crate::tx::overview::Listed {
                            items: Vec::new(),
                            total: 0,
                        });
                    }
                };
                let mut qb = sqlx::QueryBuilder::<$Db>::new(format!(
                    "SELECT o.id, o.name, c.serial, c.not_after, COUNT(*) OVER () \
                     FROM issued_certificates c \
                     JOIN system_auths a ON a.id = c.client_id AND a.tenant_id = c.tenant_id \
                     JOIN {owners} o ON o.tenant_id = a.tenant_id AND o.id = a.{column} \
                     WHERE c.revoked_at IS NULL AND NOT EXISTS (SELECT 1 FROM \
                     issued_certificates n WHERE n.client_id = c.client_id \
                     AND n.revoked_at IS NULL AND n.not_after > c.not_after) \
                     AND c.tenant_id = "
                ));
                qb.push_bind(tenant.0);
                qb.push(" AND c.not_after > ");
                qb.push_bind(to_micros(now));
                qb.push(" AND c.not_after <= ");
                qb.push_bind(to_micros(until));
                qb.push(" ORDER BY c.not_after, c.serial LIMIT ");
                qb.push_bind(limit_of(limit));
                self.counter().inc();
                let rows = qb.build().fetch_all(self.conn()).await?;
                let total = total_of(rows.first().map(|r| r.try_get(4)).transpose()?);
                let items = rows
                    .iter()
                    .map(|r| {
                        Ok($crate::tx::overview::ExpiringCertificate {
                            owner: r.try_get::<Uuid, _>(0)?,
                            owner_name: r.try_get(1)?,
                            serial: r.try_get(2)?,
                            not_after: from_micros(r.try_get(3)?)?,
                        })
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?;
                Ok($crate::tx::overview::Listed { items, total })
            }

            async fn failing_webhooks(
                &mut self,
                tenant: TenantId,
                limit: u32,
            ) -> Result<
                $crate::tx::overview::Listed<$crate::tx::overview::FailingWebhook>,
                StoreError,
            > {
                use $crate::tx::overview::{limit_of, total_of};
                self.counter().inc();
                let rows = sqlx::query(
                    "SELECT w.id, w.app_id, ap.name, w.url, w.failing_since, COUNT(*) OVER () \
                     FROM webhooks w \
                     JOIN applications ap ON ap.tenant_id = w.tenant_id AND ap.id = w.app_id \
                     WHERE w.tenant_id = $1 AND w.failing_since IS NOT NULL \
                     ORDER BY w.failing_since, w.id LIMIT $2",
                )
                .bind(tenant.0)
                .bind(limit_of(limit))
                .fetch_all(self.conn())
                .await?;
                let total = total_of(rows.first().map(|r| r.try_get(5)).transpose()?);
                let items = rows
                    .iter()
                    .map(|r| {
                        Ok($crate::tx::overview::FailingWebhook {
                            webhook: r.try_get::<Uuid, _>(0)?,
                            application: ApplicationId::from_untyped(r.try_get::<Uuid, _>(1)?),
                            application_name: r.try_get(2)?,
                            url: r.try_get(3)?,
                            failing_since: from_micros(r.try_get(4)?)?,
                        })
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?;
                Ok($crate::tx::overview::Listed { items, total })
            }

            async fn failed_fetches(
                &mut self,
                tenant: TenantId,
                limit: u32,
            ) -> Result<
                $crate::tx::overview::Listed<$crate::tx::overview::FailedFetch>,
                StoreError,
            > {
                use $crate::tx::overview::total_of;
                let mut qb = sqlx::QueryBuilder::<$Db>::new("");
                Self::push_failed_fetches(&mut qb, tenant, limit);
                self.counter().inc();
                let rows = qb.build().fetch_all(self.conn()).await?;
                let total = total_of(rows.first().map(|r| r.try_get(6)).transpose()?);
                let items = rows
                    .iter()
                    .map(|r| {
                        Ok($crate::tx::overview::FailedFetch {
                            kind: r.try_get(0)?,
                            definition: r.try_get::<Uuid, _>(1)?,
                            name: r.try_get(2)?,
                            application: ApplicationId::from_untyped(r.try_get::<Uuid, _>(3)?),
                            application_name: r.try_get(4)?,
                            message: r.try_get(5)?,
                        })
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?;
                Ok($crate::tx::overview::Listed { items, total })
            }

            async fn delivery_minutes(
                &mut self,
                tenant: TenantId,
                since: time::OffsetDateTime,
            ) -> Result<Vec<$crate::tx::overview::DeliveryMinute>, StoreError> {
                use $crate::tx::agents::count_of;
                use $crate::tx::overview::minute_micros;
                self.counter().inc();
                let rows = sqlx::query(
                    "SELECT last_attempt_at / $3, \
                     SUM(CASE WHEN state = 'delivered' THEN 1 ELSE 0 END), \
                     SUM(CASE WHEN state = 'delivered' THEN 0 ELSE 1 END) \
                     FROM webhook_deliveries \
                     WHERE tenant_id = $1 AND last_attempt_at >= $2 \
                     GROUP BY 1 ORDER BY 1",
                )
                .bind(tenant.0)
                .bind(to_micros(since))
                .bind(minute_micros())
                .fetch_all(self.conn())
                .await?;
                rows.iter()
                    .map(|r| {
                        let minute: i64 = r.try_get(0)?;
                        Ok($crate::tx::overview::DeliveryMinute {
                            minute: from_micros(minute.saturating_mul(minute_micros()))?,
                            delivered: count_of(r.try_get(1)?),
                            failed: count_of(r.try_get(2)?),
                        })
                    })
                    .collect()
            }
        }

        impl $Tx {
            /// The statement of [`OverviewTx::failed_fetches`]. The condition is inside each
            /// branch, as the partial indexes of migration 0029 state it: only the failed
            /// definitions are read.
            pub(crate) fn push_failed_fetches(
                qb: &mut sqlx::QueryBuilder<$Db>,
                tenant: TenantId,
                limit: u32,
            ) {
                use $crate::tx::overview::limit_of;
                let failed = format!(
                    "{} = 'FAILED'",
                    Self::sql_json_text("spec_fetch_request", "condition")
                );
                let message = Self::sql_json_text("spec_fetch_request", "message");
                qb.push(format!(
                    "SELECT d.kind, d.id, d.name, d.app_id, ap.name, d.message, COUNT(*) OVER () \
                     FROM (SELECT 'API' AS kind, id, name, app_id, tenant_id, \
                     {message} AS message FROM api_definitions WHERE {failed} AND tenant_id = "
                ));
                qb.push_bind(tenant.0);
                qb.push(format!(
                    " UNION ALL SELECT 'EVENT' AS kind, id, name, app_id, tenant_id, \
                     {message} AS message FROM event_definitions WHERE {failed} AND tenant_id = "
                ));
                qb.push_bind(tenant.0);
                qb.push(
                    ") d JOIN applications ap ON ap.tenant_id = d.tenant_id AND ap.id = d.app_id \
                     ORDER BY ap.name, d.name, d.id LIMIT ",
                );
                qb.push_bind(limit_of(limit));
            }
        }
    };
}
