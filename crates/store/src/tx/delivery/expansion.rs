//! The expansion of a fan-out into deliveries: which events it holds (found through the
//! `scenarios` labels, only among applications with a webhook), in batches of keys, each
//! batch queued by one `INSERT ... SELECT` that writes every delivery's id and body in SQL.

use uuid::Uuid;

/// The hyphenated text of a random UUID without its last 8 hex digits: with a per-row
/// counter appended it gives a statement's rows distinct UUIDs (90 random bits shared by the
/// statement, then the counter), computed in SQL on both backends.
pub(crate) fn uuid_prefix() -> String {
    let mut text = Uuid::new_v4().hyphenated().to_string();
    text.truncate(28);
    text
}

macro_rules! fan_out_expansion {
    ($Tx:ident, $Db:ty) => {
        impl $Tx {
            /// Pushes the `SELECT` of the events of `fan_out` (their varying ids, one row per
            /// event: `app_id`, `app_id, api_id` or `runtime_id, api_id`), limited to the keys
            /// (the first column) after `after` and up to `through`; false if it can have none.
            /// Each is driven by an index in key order (applications with a webhook; runtimes
            /// with scenarios), the rest looked up per key, so a batch costs its own size.
            fn push_fan_out_candidates(
                qb: &mut sqlx::QueryBuilder<$Db>,
                tenant: TenantId,
                fan_out: $crate::tx::delivery::fan_outs::EventFanOut<'_>,
                after: Option<Uuid>,
                through: Option<Uuid>,
            ) -> bool {
                use $crate::tx::delivery::fan_outs::EventFanOut as F;
                if fan_out.is_empty() {
                    return false;
                }
                let key = sextant_domain::label::SCENARIOS_KEY;
                let in_scenarios = |scenarios: &[String]| {
                    $crate::tx::labels::ResolvedFilter::AnyOf(key.to_owned(), scenarios.to_vec())
                };
                // Whether the application `w.app_id` has a scenarios label matching `scenarios`.
                let app_in = |qb: &mut sqlx::QueryBuilder<$Db>, scenarios: &[String]| {
                    qb.push("(SELECT 1 FROM application_labels l WHERE l.tenant_id = ");
                    qb.push_bind(tenant.0);
                    qb.push(" AND l.app_id = w.app_id AND l.key = ");
                    qb.push_bind(key);
                    Self::push_value_match(qb, &in_scenarios(scenarios));
                    qb.push(")");
                };
                let range = |qb: &mut sqlx::QueryBuilder<$Db>, column: &str| {
                    if let Some(after) = after {
                        qb.push(format!(" AND {column} > "));
                        qb.push_bind(after);
                    }
                    if let Some(through) = through {
                        qb.push(format!(" AND {column} <= "));
                        qb.push_bind(through);
                    }
                };
                // w: the applications with a webhook, in the range.
                let with_webhooks = |qb: &mut sqlx::QueryBuilder<$Db>| {
                    qb.push("(SELECT DISTINCT h.app_id AS app_id FROM webhooks h WHERE h.tenant_id = ");
                    qb.push_bind(tenant.0);
                    range(qb, "h.app_id");
                    qb.push(") w");
                };
                match fan_out {
                    F::ConfigurationChanged { scenarios, .. } => {
                        qb.push("SELECT w.app_id AS app_id FROM ");
                        with_webhooks(qb);
                        qb.push(" WHERE EXISTS ");
                        app_in(qb, scenarios);
                    }
                    F::RuntimeSeesApplications { runtime, joined, seen } => {
                        qb.push("SELECT w.app_id AS app_id, d.id AS api_id FROM ");
                        with_webhooks(qb);
                        qb.push(" JOIN api_definitions d ON d.tenant_id = ");
                        qb.push_bind(tenant.0);
                        qb.push(" AND d.app_id = w.app_id AND d.default_auth IS NULL WHERE EXISTS ");
                        app_in(qb, joined);
                        if !seen.is_empty() {
                            qb.push(" AND NOT EXISTS ");
                            app_in(qb, seen);
                        }
                        qb.push(" AND NOT EXISTS (SELECT 1 FROM api_runtime_auths x WHERE x.tenant_id = ");
                        qb.push_bind(tenant.0);
                        qb.push(" AND x.api_id = d.id AND x.runtime_id = ");
                        qb.push_bind(runtime.into_untyped());
                        qb.push(")");
                    }
                    F::RuntimesSeeApplication { app, apis, joined, seen } => {
                        // r: the runtimes in the range in any of `joined`, through the labels'
                        // primary key, in runtime order.
                        qb.push(
                            "SELECT r.runtime_id AS runtime_id, d.id AS api_id FROM \
                             (SELECT l.runtime_id AS runtime_id FROM runtime_labels l WHERE l.tenant_id = ",
                        );
                        qb.push_bind(tenant.0);
                        qb.push(format!(" AND {}l.key = ", Self::no_index()));
                        qb.push_bind(key);
                        range(qb, "l.runtime_id");
                        Self::push_value_match(qb, &in_scenarios(joined));
                        qb.push(") r JOIN api_definitions d ON d.tenant_id = ");
                        qb.push_bind(tenant.0);
                        qb.push(" AND d.app_id = ");
                        qb.push_bind(app.into_untyped());
                        qb.push(" AND d.default_auth IS NULL");
                        if let Some(apis) = apis {
                            qb.push(" AND ");
                            Self::push_id_in(qb, "d.id", apis);
                        }
                        qb.push(" WHERE EXISTS (SELECT 1 FROM webhooks h WHERE h.tenant_id = ");
                        qb.push_bind(tenant.0);
                        qb.push(" AND h.app_id = ");
                        qb.push_bind(app.into_untyped());
                        qb.push(")");
                        if !seen.is_empty() {
                            qb.push(" AND NOT EXISTS (SELECT 1 FROM runtime_labels l WHERE l.tenant_id = ");
                            qb.push_bind(tenant.0);
                            qb.push(" AND l.runtime_id = r.runtime_id AND l.key = ");
                            qb.push_bind(key);
                            Self::push_value_match(qb, &in_scenarios(seen));
                            qb.push(")");
                        }
                        qb.push(" AND NOT EXISTS (SELECT 1 FROM api_runtime_auths x WHERE x.tenant_id = ");
                        qb.push_bind(tenant.0);
                        qb.push(" AND x.api_id = d.id AND x.runtime_id = r.runtime_id)");
                    }
                }
                true
            }

            /// The key that ends the next batch of `fan_out` after `after`: the `keys`-th
            /// application with a webhook (runtime with scenarios) after it, whether or not
            /// it is concerned, so that finding it costs the batch's size; None if fewer remain
            /// (the batch is the rest).
            async fn fan_out_batch_end(
                &mut self,
                tenant: TenantId,
                fan_out: $crate::tx::delivery::fan_outs::EventFanOut<'_>,
                after: Option<Uuid>,
                keys: i64,
            ) -> Result<Option<Uuid>, StoreError> {
                use $crate::tx::delivery::fan_outs::EventFanOut as F;
                let mut qb = match fan_out {
                    F::RuntimesSeeApplication { .. } => {
                        let mut qb = sqlx::QueryBuilder::<$Db>::new(
                            "SELECT l.runtime_id FROM runtime_labels l WHERE l.tenant_id = ",
                        );
                        qb.push_bind(tenant.0);
                        qb.push(format!(" AND {}l.key = ", Self::no_index()));
                        qb.push_bind(sextant_domain::label::SCENARIOS_KEY);
                        if let Some(after) = after {
                            qb.push(" AND l.runtime_id > ");
                            qb.push_bind(after);
                        }
                        qb.push(" ORDER BY l.runtime_id");
                        qb
                    }
                    _ => {
                        let mut qb = sqlx::QueryBuilder::<$Db>::new(
                            "SELECT DISTINCT h.app_id FROM webhooks h WHERE h.tenant_id = ",
                        );
                        qb.push_bind(tenant.0);
                        if let Some(after) = after {
                            qb.push(" AND h.app_id > ");
                            qb.push_bind(after);
                        }
                        qb.push(" ORDER BY h.app_id");
                        qb
                    }
                };
                qb.push(" LIMIT 1 OFFSET ");
                qb.push_bind(keys.max(1) - 1);
                self.counter().inc();
                let key: Option<Uuid> = qb
                    .build_query_scalar()
                    .fetch_optional(self.conn())
                    .await?;
                Ok(key)
            }

            /// Queues the deliveries of the events of `fan_out` whose keys are after `after`
            /// and up to `through`, in one statement; how many.
            async fn insert_fan_out_deliveries(
                &mut self,
                tenant: TenantId,
                fan_out: $crate::tx::delivery::fan_outs::EventFanOut<'_>,
                time: time::OffsetDateTime,
                after: Option<Uuid>,
                through: Option<Uuid>,
            ) -> Result<u64, StoreError> {
                use $crate::tx::delivery::fan_outs::EventFanOut as F;
                use sextant_domain::delivery::{WebhookEvent, WebhookEventType as T};
                // The bodies are what `WebhookEvent::body` writes: a template with placeholder
                // ids (fresh random UUIDs, so they occur nowhere else in it) that SQL replaces
                // with each event's.
                let (p_event, p_app, p_runtime, p_api) =
                    (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
                let (event_type, template_app, template_runtime, template_api, varying, order) =
                    match fan_out {
                        F::ConfigurationChanged { runtime, .. } => (
                            T::ConfigurationChanged,
                            p_app,
                            runtime.into_untyped(),
                            None,
                            vec![(p_app, "app_id")],
                            "app_id",
                        ),
                        F::RuntimeSeesApplications { runtime, .. } => (
                            T::CredentialsRequested,
                            p_app,
                            runtime.into_untyped(),
                            Some(p_api),
                            vec![(p_app, "app_id"), (p_api, "api_id")],
                            "app_id, api_id",
                        ),
                        F::RuntimesSeeApplication { app, .. } => (
                            T::CredentialsRequested,
                            app.into_untyped(),
                            p_runtime,
                            Some(p_api),
                            vec![(p_runtime, "runtime_id"), (p_api, "api_id")],
                            "runtime_id, api_id",
                        ),
                    };
                let template = WebhookEvent {
                    id: sextant_domain::WebhookEventId::from_untyped(p_event),
                    event_type,
                    tenant,
                    application_id: sextant_domain::ApplicationId::from_untyped(template_app),
                    runtime_id: sextant_domain::RuntimeId::from_untyped(template_runtime),
                    api_definition_id: template_api
                        .map(sextant_domain::ApiDefinitionId::from_untyped),
                    time,
                }
                .body();

                let mut qb = sqlx::QueryBuilder::<$Db>::new("WITH c AS (");
                if !Self::push_fan_out_candidates(&mut qb, tenant, fan_out, after, through) {
                    return Ok(0);
                }
                // e: each event's id (as text), numbered within the statement.
                qb.push("), e AS (SELECT c.*, ");
                qb.push_bind($crate::tx::delivery::expansion::uuid_prefix());
                qb.push(format!(
                    " || {} AS event_text FROM c) INSERT INTO webhook_deliveries ({}) SELECT ",
                    Self::sql_hex8(&format!("row_number() OVER (ORDER BY {order})")),
                    $crate::tx::delivery::deliveries::DELIVERY_COLUMNS
                ));
                let (open, close) = Self::sql_uuid_of_text();
                qb.push(open);
                qb.push_bind($crate::tx::delivery::expansion::uuid_prefix());
                qb.push(format!(
                    " || {}{close}, {open}e.event_text{close}, ",
                    Self::sql_hex8("row_number() OVER (ORDER BY e.event_text, w.id)")
                ));
                qb.push_bind(tenant.0);
                qb.push(", w.id, ");
                match fan_out {
                    F::RuntimesSeeApplication { app, .. } => {
                        qb.push_bind(app.into_untyped());
                    }
                    _ => {
                        qb.push("e.app_id");
                    }
                }
                qb.push(", ");
                qb.push_bind(event_type.as_str());
                qb.push(", ");
                qb.push("replace(".repeat(varying.len() + 1));
                qb.push_bind(template);
                qb.push(", ");
                qb.push_bind(p_event.to_string());
                qb.push(", e.event_text)");
                for (placeholder, column) in &varying {
                    qb.push(", ");
                    qb.push_bind(placeholder.to_string());
                    qb.push(format!(", {})", Self::sql_uuid_text(&format!("e.{column}"))));
                }
                let now = to_micros(time);
                qb.push(", 'pending', 0, ");
                qb.push_bind(now);
                qb.push(", ");
                qb.push_bind(now);
                qb.push(", NULL, NULL, NULL FROM e JOIN webhooks w ON w.tenant_id = ");
                qb.push_bind(tenant.0);
                qb.push(" AND w.app_id = ");
                match fan_out {
                    F::RuntimesSeeApplication { app, .. } => {
                        qb.push_bind(app.into_untyped());
                    }
                    _ => {
                        qb.push("e.app_id");
                    }
                }
                self.counter().inc();
                let done = qb.build().execute(self.conn()).await?;
                if done.rows_affected() > 0 {
                    self.announced.note($crate::epochs::Announcement::Outbox);
                }
                Ok(done.rows_affected())
            }

            /// Expands the next `keys` keys of a locked pending fan-out (None: all that
            /// remain) and records the progress, or removes it when done; the deliveries
            /// queued and whether it is done.
            async fn expand_batch(
                &mut self,
                pending: &$crate::tx::delivery::fan_outs::PendingFanOut,
                keys: Option<i64>,
            ) -> Result<(u64, bool), StoreError> {
                let (queued, through) = match (pending.fan_out(), keys) {
                    (Some(fan_out), keys) => {
                        let through = match keys {
                            Some(keys) => {
                                self.fan_out_batch_end(
                                    pending.tenant,
                                    fan_out,
                                    pending.done_through,
                                    keys,
                                )
                                .await?
                            }
                            None => None,
                        };
                        let queued = self
                            .insert_fan_out_deliveries(
                                pending.tenant,
                                fan_out,
                                pending.time,
                                pending.done_through,
                                through,
                            )
                            .await?;
                        (queued, through)
                    }
                    // An incomplete row has nothing to expand.
                    (None, _) => (0, None),
                };
                self.counter().inc();
                match through {
                    Some(through) => {
                        sqlx::query("UPDATE webhook_fan_outs SET done_through = $2 WHERE seq = $1")
                            .bind(pending.seq)
                            .bind(through)
                            .execute(self.conn())
                            .await?;
                    }
                    None => {
                        sqlx::query("DELETE FROM webhook_fan_outs WHERE seq = $1")
                            .bind(pending.seq)
                            .execute(self.conn())
                            .await?;
                    }
                }
                Ok((queued, through.is_none()))
            }
        }
    };
}
