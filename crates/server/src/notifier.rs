//! The notifier: delivers the webhook outbox (decided by the Director in the transaction of
//! each change, see `sextant_director`'s `notify`) at least once.
//!
//! A change records each set of events it causes as one fan-out row (whatever the number of
//! applications concerned); the notifier expands them into deliveries, the events of
//! [`NotifierSettings::fan_out_batch`] applications or runtimes per transaction, at once
//! when this process recorded one and otherwise every [`POLL`] (each fan-out to one server).
//!
//! When a transaction of this process queued deliveries, and otherwise every [`POLL`] (for
//! retries and for what other servers queued), it looks for due deliveries (one indexed
//! read), leases a batch (one
//! statement; each delivery goes to one server of any number sharing the database) and
//! attempts each in a task of its own, at most [`NotifierSettings::concurrency`] at once, so a
//! slow endpoint never holds up the others; while deliveries are due it goes on claiming as
//! attempts end, without waiting for the next poll. An attempt POSTs the event's JSON body to the
//! webhook's URL with its `auth` (basic, OAuth2 client credentials, CSRF token, extra headers
//! and query parameters, through `sextant-fetch`) and the headers `Sextant-Event-Id`,
//! `Sextant-Event-Type`, `Sextant-Delivery-Id`, `Sextant-Timestamp` (Unix seconds) and
//! `Sextant-Signature: v1=<hex HMAC-SHA256 of "<timestamp>.<body>" keyed with the webhook's
//! secret>`. A 2xx answer delivers it; anything else (another status, a timeout, a refused
//! connection) is retried after `retry_base · 2^(attempts − 1)`, at most `retry_max`, with
//! jitter (50–100 % of that), until `give_up_after` from the event has passed: then the
//! delivery fails and its webhook is marked failing (until a later delivery succeeds). Each
//! attempt's start, duration, HTTP status (if the webhook answered) and error go to the
//! delivery's attempt log in the transaction that records its outcome. An attempt whose
//! server dies keeps its lease until it runs out; then any server retries it.

use std::sync::Arc;
use std::time::Duration;

use sextant_background::{BackgroundTask, Progress, Schedule, TaskError};
use sextant_domain::delivery::Delivery;
use sextant_store::{AttemptMeasure, AttemptOutcome, Store, StoreError};
use time::OffsetDateTime;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// How often the queue is looked at.
pub const POLL: Duration = Duration::from_millis(200);

/// The notifier's schedule.
#[derive(Clone, Debug)]
pub struct NotifierSettings {
    /// The first retry's delay (default 1 s); each next one doubles it.
    pub retry_base: Duration,
    /// The longest delay between attempts (default 5 min).
    pub retry_max: Duration,
    /// How long after the event attempts stop (default 24 h).
    pub give_up_after: Duration,
    /// Attempts in flight at once (default 32).
    pub concurrency: usize,
    /// How long a claimed delivery stays with this server (default 30 s; longer than an
    /// attempt's deadline of 10 s).
    pub lease: Duration,
    /// Applications (or runtimes) whose events one transaction expands from a recorded
    /// fan-out (default 16: a few milliseconds of the writer's time).
    pub fan_out_batch: i64,
}

impl Default for NotifierSettings {
    fn default() -> Self {
        NotifierSettings {
            retry_base: Duration::from_secs(1),
            retry_max: Duration::from_secs(5 * 60),
            give_up_after: Duration::from_secs(24 * 60 * 60),
            concurrency: 32,
            lease: Duration::from_secs(30),
            fan_out_batch: 16,
        }
    }
}

fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.nanosecond() / 1_000 * 1_000)
        .unwrap_or(now)
}

/// The signature header's value for a body sent at `timestamp` (Unix seconds).
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes());
    let tag = aws_lc_rs::hmac::sign(&key, format!("{timestamp}.{body}").as_bytes());
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("v1={hex}")
}

/// The delay before attempt `attempts + 1`, with jitter.
fn backoff(settings: &NotifierSettings, attempts: u32) -> Duration {
    let exponent = attempts.saturating_sub(1).min(30);
    let full = settings
        .retry_base
        .saturating_mul(1u32 << exponent)
        .min(settings.retry_max);
    // 50–100 % of the delay, from the operating system's generator.
    let fraction = (Uuid::new_v4().as_u128() % 1000) as f64 / 1000.0;
    full.mul_f64(0.5 + fraction / 2.0)
}

/// Runs until `shutdown`: expands recorded fan-outs into deliveries, and delivers (two
/// tasks on the shared driver, each every [`POLL`] and when this process queued work).
pub async fn run(
    store: Arc<dyn Store>,
    fetcher: sextant_fetch::Fetcher,
    settings: NotifierSettings,
    shutdown: CancellationToken,
) {
    let expansion = Expansion {
        store: store.clone(),
        batch: settings.fan_out_batch,
        shutdown: shutdown.clone(),
    };
    let delivery = Deliveries::new(store, fetcher, settings);
    tokio::join!(
        sextant_background::run(expansion, schedule(), shutdown.clone()),
        sextant_background::run(delivery, schedule(), shutdown),
    );
}

/// Every [`POLL`]; after a failure, again after a poll, doubling up to 5 s.
fn schedule() -> Schedule {
    Schedule::every(POLL).backing_off(POLL, Duration::from_secs(5))
}

/// Expands the fan-outs changes recorded (see `sextant_director`'s `notify`) into
/// deliveries, one batch per transaction so that a fan-out over thousands of applications
/// never holds the writer for long, until none waits.
struct Expansion {
    store: Arc<dyn Store>,
    batch: i64,
    shutdown: CancellationToken,
}

impl BackgroundTask for Expansion {
    fn name(&self) -> &'static str {
        "webhook fan-out expansion"
    }

    async fn activate(&mut self) -> Result<Progress, TaskError> {
        expand_pending(&self.store, self.batch, &self.shutdown).await?;
        Ok(Progress::Idle)
    }

    async fn woken(&mut self) {
        self.store.config_epochs().fan_outs_recorded().await;
    }
}

async fn expand_pending(
    store: &Arc<dyn Store>,
    batch: i64,
    shutdown: &CancellationToken,
) -> Result<(), StoreError> {
    while !shutdown.is_cancelled() {
        if !store.read().await?.has_pending_fan_outs().await? {
            return Ok(());
        }
        let mut tx = store.write().await?;
        let queued = tx.expand_next_fan_out(batch).await?;
        tx.commit().await?;
        match queued {
            // Every waiting fan-out is being expanded by another server.
            None => return Ok(()),
            Some(n) => metrics::counter!("sextant_webhook_fan_out_deliveries_total").increment(n),
        }
        // Let a waiting writer have the database between batches.
        tokio::task::yield_now().await;
    }
    Ok(())
}

/// Claims due deliveries and attempts them.
struct Deliveries {
    store: Arc<dyn Store>,
    fetcher: sextant_fetch::Fetcher,
    settings: NotifierSettings,
    /// This server, as the holder of delivery leases.
    owner: Uuid,
    /// Attempts in flight.
    slots: Arc<Semaphore>,
    /// When the queue depth was last measured.
    depth_at: tokio::time::Instant,
}

impl Deliveries {
    fn new(
        store: Arc<dyn Store>,
        fetcher: sextant_fetch::Fetcher,
        settings: NotifierSettings,
    ) -> Deliveries {
        Deliveries {
            slots: Arc::new(Semaphore::new(settings.concurrency.max(1))),
            store,
            fetcher,
            settings,
            owner: Uuid::new_v4(),
            depth_at: tokio::time::Instant::now(),
        }
    }

    /// Every 5 s, the queue's depth as a gauge.
    async fn measure_depth(&mut self) {
        if self.depth_at.elapsed() < Duration::from_secs(5) {
            return;
        }
        self.depth_at = tokio::time::Instant::now();
        if let Ok(mut tx) = self.store.read().await
            && let Ok(depth) = tx.pending_deliveries().await
        {
            metrics::gauge!("sextant_webhook_queue_depth").set(depth as f64);
        }
    }
}

impl BackgroundTask for Deliveries {
    fn name(&self) -> &'static str {
        "webhook delivery"
    }

    /// One round; more work when it ended with deliveries still due.
    async fn activate(&mut self) -> Result<Progress, TaskError> {
        let busy = round(
            &self.store,
            &self.fetcher,
            &self.settings,
            self.owner,
            &self.slots,
        )
        .await;
        self.measure_depth().await;
        Ok(if busy? {
            Progress::More
        } else {
            Progress::Idle
        })
    }

    async fn woken(&mut self) {
        self.store.config_epochs().outbox_filled().await;
    }
}

/// How long one round keeps claiming before the loop looks after the rest (the queue depth,
/// shutdown).
const ROUND: Duration = Duration::from_secs(1);

async fn round(
    store: &Arc<dyn Store>,
    fetcher: &sextant_fetch::Fetcher,
    settings: &NotifierSettings,
    owner: Uuid,
    slots: &Arc<Semaphore>,
) -> Result<bool, StoreError> {
    // While deliveries are due, claim as slots free up (not once per poll): the rate is then
    // bounded by the attempts' own time, not by `concurrency / POLL`.
    let started = tokio::time::Instant::now();
    loop {
        if started.elapsed() >= ROUND {
            return Ok(true);
        }
        if slots.available_permits() == 0 {
            // Until an attempt ends.
            drop(slots.acquire().await);
            continue;
        }
        let free = slots.available_permits();
        let now = now();
        if !store.read().await?.has_due_deliveries(now).await? {
            return Ok(false);
        }
        let claimed = {
            let mut tx = store.write().await?;
            let claimed = tx
                .claim_deliveries(owner, now, now + settings.lease, free as i64)
                .await?;
            tx.commit().await?;
            claimed
        };
        if claimed.is_empty() {
            return Ok(false);
        }
        for delivery in claimed {
            let Ok(permit) = slots.clone().acquire_owned().await else {
                return Ok(false);
            };
            let (store, fetcher, settings) = (store.clone(), fetcher.clone(), settings.clone());
            tokio::spawn(async move {
                let id = delivery.id;
                if let Err(e) = attempt(&store, &fetcher, &settings, owner, delivery).await {
                    tracing::warn!(delivery = %id, error = %sextant_domain::ErrorChain(&e), "a webhook attempt could not be recorded; it is retried once its lease runs out");
                }
                drop(permit);
            });
        }
    }
}

async fn attempt(
    store: &Arc<dyn Store>,
    fetcher: &sextant_fetch::Fetcher,
    settings: &NotifierSettings,
    owner: Uuid,
    delivery: Delivery,
) -> Result<(), StoreError> {
    let webhook = store
        .read()
        .await?
        .webhook(delivery.tenant, delivery.webhook_id)
        .await?;
    let started = now();
    let clock = tokio::time::Instant::now();
    let sent = match &webhook {
        None => Sent::failed("the webhook was deleted"),
        // Within four fifths of the lease, so no other server retries it while it runs.
        Some(webhook) => match tokio::time::timeout(
            settings.lease.mul_f64(0.8),
            send(fetcher, webhook, &delivery),
        )
        .await
        {
            Ok(sent) => sent,
            Err(_) => Sent::failed("the webhook did not answer in time"),
        },
    };
    let took = clock.elapsed();
    let at = now();
    let measure = AttemptMeasure {
        started_at: started,
        duration_ms: u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
        http_status: sent.status,
    };
    let outcome = match sent.result {
        Ok(()) => AttemptOutcome::Delivered { at },
        Err(error) if webhook.is_none() => AttemptOutcome::GaveUp { at, error },
        Err(error) => {
            let next = at + backoff(settings, delivery.attempts + 1);
            if next - delivery.created_at >= settings.give_up_after {
                AttemptOutcome::GaveUp { at, error }
            } else {
                AttemptOutcome::Retry { at, error, next }
            }
        }
    };
    let label = match &outcome {
        AttemptOutcome::Delivered { .. } => "delivered",
        AttemptOutcome::Retry { .. } => "retry",
        AttemptOutcome::GaveUp { .. } => "failed",
    };
    metrics::counter!("sextant_webhook_attempts_total", "outcome" => label).increment(1);
    metrics::histogram!("sextant_webhook_attempt_seconds").record(took.as_secs_f64());
    let mut tx = store.write().await?;
    if !tx
        .finish_attempt(delivery.id, owner, &outcome, &measure)
        .await?
    {
        // The lease ran out during the attempt and another server took the delivery.
        return Ok(());
    }
    match (&outcome, &webhook) {
        (AttemptOutcome::Delivered { .. }, Some(w)) => {
            metrics::histogram!("sextant_webhook_delivery_seconds")
                .record((at - delivery.created_at).as_seconds_f64());
            if w.failing_since.is_some() {
                tx.set_webhook_failing(delivery.tenant, w.id, None).await?;
            }
        }
        (AttemptOutcome::GaveUp { .. }, Some(w)) if w.failing_since.is_none() => {
            tx.set_webhook_failing(delivery.tenant, w.id, Some(at))
                .await?;
        }
        _ => {}
    }
    tx.commit().await
}

/// How a call to a webhook went: its HTTP status if it answered, and whether that delivered.
struct Sent {
    status: Option<u16>,
    result: Result<(), String>,
}

impl Sent {
    fn failed(error: impl Into<String>) -> Sent {
        Sent {
            status: None,
            result: Err(error.into()),
        }
    }
}

async fn send(
    fetcher: &sextant_fetch::Fetcher,
    webhook: &sextant_domain::Webhook,
    delivery: &Delivery,
) -> Sent {
    use axum::http::{HeaderValue, Method, header};
    let timestamp = OffsetDateTime::now_utc().unix_timestamp();
    let secret = webhook.secret.as_deref().unwrap_or_default();
    let mut request = sextant_fetch::OutboundRequest::new(Method::POST, webhook.url.clone())
        .with_body(delivery.body.clone().into_bytes());
    let headers = [
        (header::CONTENT_TYPE.as_str(), "application/json".to_owned()),
        ("sextant-event-id", delivery.event_id.to_string()),
        (
            "sextant-event-type",
            delivery.event_type.as_str().to_owned(),
        ),
        ("sextant-delivery-id", delivery.id.to_string()),
        ("sextant-timestamp", timestamp.to_string()),
        (
            "sextant-signature",
            signature(secret, timestamp, &delivery.body),
        ),
    ];
    for (name, value) in headers {
        let value = match HeaderValue::from_str(&value) {
            Ok(value) => value,
            Err(e) => return Sent::failed(e.to_string()),
        };
        request
            .headers
            .insert(header::HeaderName::from_static(name), value);
    }
    match fetcher.send(request, webhook.auth.as_ref()).await {
        Ok(response) => Sent {
            status: Some(response.status),
            result: if (200..300).contains(&response.status) {
                Ok(())
            } else {
                Err(format!("the webhook answered HTTP {}", response.status))
            },
        },
        Err(e) => Sent::failed(format!("the webhook could not be called: {e}")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Computed independently (Python's hmac module).
        let sig = signature("secret", 1_700_000_000, "{}");
        assert_eq!(
            sig,
            "v1=b8569b78799ff9e3cbff0fc2d63a33a2b57f3282abd07c37ae5e8e7d79a5f163"
        );
        assert_ne!(sig, signature("secret", 1_700_000_001, "{}"));
        assert_ne!(sig, signature("other", 1_700_000_000, "{}"));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter() {
        let settings = NotifierSettings::default();
        for attempts in 1..40 {
            let full = Duration::from_secs(1)
                .saturating_mul(1u32 << (attempts - 1).min(30))
                .min(settings.retry_max);
            let d = backoff(&settings, attempts);
            assert!(
                d >= full / 2 && d <= full,
                "attempt {attempts}: {d:?} of {full:?}"
            );
        }
    }
}
