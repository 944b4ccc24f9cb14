//! The parts of `fleetOverview`, each resolved only when asked for, behind its scope.

use std::collections::BTreeMap;

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use sextant_domain::{DomainError, Scope};
use sextant_store::{CountedKind, OwnerKind};
use time::OffsetDateTime;

use crate::clock::now_micros;
use crate::context::{Scopes, consumer, store};
use crate::error::{GqlResult, IntoGql, to_graphql};
use crate::scalars::Timestamp;

/// The most rows a list of the overview answers.
const MAX_FIRST: i32 = 100;
/// The longest history of `activity` (fetch counts are kept two hours).
const MAX_MINUTES: i32 = 120;

fn invalid(message: String) -> async_graphql::Error {
    to_graphql(DomainError::Invalid(message))
}

fn first_of(first: i32) -> GqlResult<u32> {
    if !(1..=MAX_FIRST).contains(&first) {
        return Err(invalid(format!(
            "first must be between 1 and {MAX_FIRST}, not {first}"
        )));
    }
    u32::try_from(first).map_err(|_| invalid("first is out of range".into()))
}

pub struct FleetOverview;

/// Sextant: how many objects have a status condition.
#[derive(SimpleObject)]
pub struct StatusCount {
    pub condition: String,
    pub count: i32,
}

/// Sextant: a runtime whose agent was not seen lately, or does not hold its tenant's
/// current configuration (see `RuntimeAgent.configurationCurrent`).
#[derive(SimpleObject)]
pub struct AttentionRuntime {
    pub id: ID,
    pub name: String,
    pub last_seen_at: Timestamp,
    pub configuration_current: bool,
}

/// Sextant: the first runtimes needing attention, and how many do.
#[derive(SimpleObject)]
pub struct AttentionRuntimes {
    pub data: Vec<AttentionRuntime>,
    pub total_count: i32,
}

/// Sextant: who holds a client certificate.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum CertificateOwnerKind {
    Application,
    Runtime,
}

/// Sextant: a client's newest valid certificate, which expires soon (no key, no secret).
#[derive(SimpleObject)]
pub struct ExpiringCertificate {
    pub owner_kind: CertificateOwnerKind,
    #[graphql(name = "ownerID")]
    pub owner_id: ID,
    pub owner_name: String,
    /// Hexadecimal, as in the certificate.
    pub serial: String,
    pub expires_at: Timestamp,
}

/// Sextant: the first certificates that expire soon, and how many do.
#[derive(SimpleObject)]
pub struct ExpiringCertificates {
    pub data: Vec<ExpiringCertificate>,
    pub total_count: i32,
}

/// Sextant: a webhook whose deliveries give up (`Webhook.failingSince`).
#[derive(SimpleObject)]
pub struct FailingWebhook {
    #[graphql(name = "webhookID")]
    pub webhook_id: ID,
    #[graphql(name = "applicationID")]
    pub application_id: ID,
    pub application_name: String,
    pub url: String,
    pub failing_since: Timestamp,
}

/// Sextant: the first failing webhooks, and how many there are.
#[derive(SimpleObject)]
pub struct FailingWebhooks {
    pub data: Vec<FailingWebhook>,
    pub total_count: i32,
}

/// Sextant: an API or event definition whose spec's last fetch failed.
#[derive(SimpleObject)]
pub struct FailedSpecFetch {
    /// `API` or `EVENT`.
    pub kind: String,
    #[graphql(name = "definitionID")]
    pub definition_id: ID,
    pub name: String,
    #[graphql(name = "applicationID")]
    pub application_id: ID,
    pub application_name: String,
    /// Why it failed, as the fetch request's status says.
    pub message: Option<String>,
}

/// Sextant: the first definitions whose fetch failed, and how many there are.
#[derive(SimpleObject)]
pub struct FailedSpecFetches {
    pub data: Vec<FailedSpecFetch>,
    pub total_count: i32,
}

/// Sextant: what happened in one minute. A count is null when the caller may not read it
/// (`application:read` for webhook deliveries, `runtime:read` for agents' fetches).
#[derive(SimpleObject)]
pub struct ActivityMinute {
    /// The minute's start.
    pub minute: Timestamp,
    /// Webhook deliveries whose latest attempt fell in this minute and delivered.
    pub webhook_deliveries: Option<i32>,
    /// Webhook deliveries whose latest attempt fell in this minute and did not deliver.
    pub failed_webhook_deliveries: Option<i32>,
    /// Configuration requests of the tenant's runtimes' agents answered in this minute.
    pub agent_fetches: Option<i32>,
}

fn count(n: u64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn minute_start(at: OffsetDateTime) -> OffsetDateTime {
    let seconds = at.unix_timestamp();
    OffsetDateTime::from_unix_timestamp(seconds - seconds.rem_euclid(60)).unwrap_or(at)
}

/// Sextant: see `Query.fleetOverview`.
#[Object]
impl FleetOverview {
    /// The tenant's applications per status condition (conditions no application has are
    /// not listed).
    #[graphql(guard = "Scopes(&[Scope::ApplicationRead])")]
    async fn application_statuses(&self, ctx: &Context<'_>) -> GqlResult<Vec<StatusCount>> {
        status_counts(ctx, CountedKind::Applications).await
    }

    /// The tenant's runtimes per status condition.
    #[graphql(guard = "Scopes(&[Scope::RuntimeRead])")]
    async fn runtime_statuses(&self, ctx: &Context<'_>) -> GqlResult<Vec<StatusCount>> {
        status_counts(ctx, CountedKind::Runtimes).await
    }

    /// Runtimes whose agent was not seen for `notSeenForSeconds`, or does not hold its
    /// tenant's current configuration; runtimes whose agent never asked are not listed.
    /// Seen longest ago first.
    #[graphql(guard = "Scopes(&[Scope::RuntimeRead])")]
    async fn runtimes_needing_attention(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 300)] not_seen_for_seconds: i32,
        #[graphql(default = 10)] first: i32,
    ) -> GqlResult<AttentionRuntimes> {
        let limit = first_of(first)?;
        if not_seen_for_seconds < 1 {
            return Err(invalid(format!(
                "notSeenForSeconds must be positive, not {not_seen_for_seconds}"
            )));
        }
        let seen_before = now_micros() - time::Duration::seconds(i64::from(not_seen_for_seconds));
        let tenant = consumer(ctx)?.tenant;
        let mut tx = store(ctx)?.read().await.gql()?;
        let listed = tx
            .runtimes_needing_attention(tenant, seen_before, limit)
            .await
            .gql()?;
        Ok(AttentionRuntimes {
            total_count: count(listed.total),
            data: listed
                .items
                .into_iter()
                .map(|r| AttentionRuntime {
                    id: ID(r.runtime.to_string()),
                    name: r.name,
                    last_seen_at: Timestamp(r.last_seen),
                    configuration_current: r.configuration_epoch >= r.tenant_epoch,
                })
                .collect(),
        })
    }

    /// The newest valid client certificate of each client that expires within `withinDays`
    /// (soonest first): applications' with `application:read`, runtimes' with
    /// `runtime:read`. `first` applies to each kind.
    async fn expiring_certificates(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 14)] within_days: i32,
        #[graphql(default = 10)] first: i32,
    ) -> GqlResult<ExpiringCertificates> {
        let limit = first_of(first)?;
        if !(1..=3650).contains(&within_days) {
            return Err(invalid(format!(
                "withinDays must be between 1 and 3650, not {within_days}"
            )));
        }
        let caller = consumer(ctx)?;
        let now = now_micros();
        let until = now + time::Duration::days(i64::from(within_days));
        let mut tx = store(ctx)?.read().await.gql()?;
        let mut data = Vec::new();
        let mut total_count = 0u64;
        for (kind, scope, owner_kind) in [
            (
                OwnerKind::Application,
                Scope::ApplicationRead,
                CertificateOwnerKind::Application,
            ),
            (
                OwnerKind::Runtime,
                Scope::RuntimeRead,
                CertificateOwnerKind::Runtime,
            ),
        ] {
            if !caller.has(scope) {
                continue;
            }
            let listed = tx
                .expiring_certificates(caller.tenant, kind, now, until, limit)
                .await
                .gql()?;
            total_count += listed.total;
            data.extend(listed.items.into_iter().map(|c| ExpiringCertificate {
                owner_kind,
                owner_id: ID(c.owner.to_string()),
                owner_name: c.owner_name,
                serial: hex(&c.serial),
                expires_at: Timestamp(c.not_after),
            }));
        }
        data.sort_by_key(|c| c.expires_at.0);
        Ok(ExpiringCertificates {
            data,
            total_count: count(total_count),
        })
    }

    /// Webhooks whose deliveries give up, failing longest first.
    #[graphql(guard = "Scopes(&[Scope::ApplicationRead])")]
    async fn failing_webhooks(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 10)] first: i32,
    ) -> GqlResult<FailingWebhooks> {
        let limit = first_of(first)?;
        let tenant = consumer(ctx)?.tenant;
        let mut tx = store(ctx)?.read().await.gql()?;
        let listed = tx.failing_webhooks(tenant, limit).await.gql()?;
        Ok(FailingWebhooks {
            total_count: count(listed.total),
            data: listed
                .items
                .into_iter()
                .map(|w| FailingWebhook {
                    webhook_id: ID(w.webhook.to_string()),
                    application_id: ID(w.application.to_string()),
                    application_name: w.application_name,
                    url: w.url,
                    failing_since: Timestamp(w.failing_since),
                })
                .collect(),
        })
    }

    /// API and event definitions whose spec's last fetch failed, by application and name.
    #[graphql(guard = "Scopes(&[Scope::ApplicationRead])")]
    async fn failed_spec_fetches(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 10)] first: i32,
    ) -> GqlResult<FailedSpecFetches> {
        let limit = first_of(first)?;
        let tenant = consumer(ctx)?.tenant;
        let mut tx = store(ctx)?.read().await.gql()?;
        let listed = tx.failed_fetches(tenant, limit).await.gql()?;
        Ok(FailedSpecFetches {
            total_count: count(listed.total),
            data: listed
                .items
                .into_iter()
                .map(|f| FailedSpecFetch {
                    kind: f.kind,
                    definition_id: ID(f.definition.to_string()),
                    name: f.name,
                    application_id: ID(f.application.to_string()),
                    application_name: f.application_name,
                    message: f.message,
                })
                .collect(),
        })
    }

    /// Webhook deliveries and agents' configuration requests per minute over the last
    /// `minutes` minutes (at most 120), oldest first, the current minute last; every minute
    /// is listed, with zeros.
    async fn activity(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 60)] minutes: i32,
    ) -> GqlResult<Vec<ActivityMinute>> {
        if !(1..=MAX_MINUTES).contains(&minutes) {
            return Err(invalid(format!(
                "minutes must be between 1 and {MAX_MINUTES}, not {minutes}"
            )));
        }
        let caller = consumer(ctx)?;
        let deliveries_allowed = caller.has(Scope::ApplicationRead);
        let fetches_allowed = caller.has(Scope::RuntimeRead);
        let last = minute_start(now_micros());
        let since = last - time::Duration::minutes(i64::from(minutes) - 1);
        let mut tx = store(ctx)?.read().await.gql()?;
        let deliveries: BTreeMap<OffsetDateTime, (u64, u64)> = if deliveries_allowed {
            tx.delivery_minutes(caller.tenant, since)
                .await
                .gql()?
                .into_iter()
                .map(|m| (m.minute, (m.delivered, m.failed)))
                .collect()
        } else {
            BTreeMap::new()
        };
        let fetches: BTreeMap<OffsetDateTime, u64> = if fetches_allowed {
            tx.fetch_counts(caller.tenant, since)
                .await
                .gql()?
                .into_iter()
                .collect()
        } else {
            BTreeMap::new()
        };
        Ok((0..minutes)
            .map(|i| {
                let minute = since + time::Duration::minutes(i64::from(i));
                let (delivered, failed) = deliveries.get(&minute).copied().unwrap_or((0, 0));
                ActivityMinute {
                    minute: Timestamp(minute),
                    webhook_deliveries: deliveries_allowed.then(|| count(delivered)),
                    failed_webhook_deliveries: deliveries_allowed.then(|| count(failed)),
                    agent_fetches: fetches_allowed
                        .then(|| count(fetches.get(&minute).copied().unwrap_or(0))),
                }
            })
            .collect())
    }
}

async fn status_counts(ctx: &Context<'_>, kind: CountedKind) -> GqlResult<Vec<StatusCount>> {
    let tenant = consumer(ctx)?.tenant;
    let mut tx = store(ctx)?.read().await.gql()?;
    Ok(tx
        .status_counts(tenant, kind)
        .await
        .gql()?
        .into_iter()
        .map(|c| StatusCount {
            condition: c.condition,
            count: count(c.count),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minutes_start_on_the_minute() {
        let at = OffsetDateTime::from_unix_timestamp(125).unwrap();
        assert_eq!(minute_start(at).unix_timestamp(), 120);
        assert_eq!(hex(&[0, 171, 5]), "00ab05");
        assert!(first_of(0).is_err());
        assert!(first_of(101).is_err());
        assert_eq!(first_of(10).unwrap(), 10);
    }
}
