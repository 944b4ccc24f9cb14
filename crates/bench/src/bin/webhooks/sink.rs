//! The webhook sink: checks every request's signature and records, per event id, when it
//! first arrived and how often.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, ensure};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;

/// An event as the sink saw it.
pub(crate) struct Seen {
    pub(crate) app: String,
    pub(crate) runtime: String,
    pub(crate) first: Instant,
    /// First arrival (wall clock) − the event's `time`, ms.
    pub(crate) from_event_time_ms: f64,
    pub(crate) arrivals: u32,
}

#[derive(Default)]
pub(crate) struct SinkState {
    pub(crate) events: HashMap<String, Seen>,
    pub(crate) requests: u64,
    pub(crate) bad: Vec<String>,
}

pub(crate) struct Sink {
    /// Application id → its webhook's secret.
    pub(crate) secrets: Mutex<HashMap<String, String>>,
    pub(crate) state: Mutex<SinkState>,
    pub(crate) delay: Duration,
}

pub(crate) fn hmac_hex(secret: &str, message: &str) -> String {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes());
    aws_lc_rs::hmac::sign(&key, message.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Sink {
    pub(crate) fn lock_state(&self) -> std::sync::MutexGuard<'_, SinkState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Checks a request; answers the event's (id, application, runtime, time) or why not.
    pub(crate) fn check(
        &self,
        headers: &HeaderMap,
        body: &str,
    ) -> Result<(String, String, String, String)> {
        let header = |name: &str| -> Result<String> {
            Ok(headers
                .get(name)
                .ok_or_else(|| anyhow!("no {name}"))?
                .to_str()?
                .to_owned())
        };
        let event: Value = serde_json::from_str(body)?;
        let field = |name: &str| -> Result<String> {
            Ok(event[name]
                .as_str()
                .ok_or_else(|| anyhow!("no {name} in {body}"))?
                .to_owned())
        };
        let (id, app, runtime, time) = (
            field("id")?,
            field("applicationID")?,
            field("runtimeID")?,
            field("time")?,
        );
        let secret = self
            .secrets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&app)
            .cloned()
            .ok_or_else(|| anyhow!("an event for unknown application {app}"))?;
        let timestamp = header("sextant-timestamp")?;
        let expected = format!("v1={}", hmac_hex(&secret, &format!("{timestamp}.{body}")));
        ensure!(
            header("sextant-signature")? == expected,
            "bad signature on event {id}"
        );
        ensure!(header("sextant-event-id")? == id, "event id header differs");
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        ensure!(
            (now - timestamp.parse::<i64>()?).abs() <= 300,
            "timestamp {timestamp} too far from now"
        );
        Ok((id, app, runtime, time))
    }

    pub(crate) fn record(&self, headers: &HeaderMap, body: &str) -> StatusCode {
        let arrived = Instant::now();
        let wall = time::OffsetDateTime::now_utc();
        match self.check(headers, body) {
            Ok((id, app, runtime, event_time)) => {
                let from_event_time_ms = time::OffsetDateTime::parse(
                    &event_time,
                    &time::format_description::well_known::Rfc3339,
                )
                .map_or(f64::NAN, |t| (wall - t).as_seconds_f64() * 1e3);
                let mut state = self.lock_state();
                state.requests += 1;
                state
                    .events
                    .entry(id)
                    .and_modify(|s| s.arrivals += 1)
                    .or_insert(Seen {
                        app,
                        runtime,
                        first: arrived,
                        from_event_time_ms,
                        arrivals: 1,
                    });
                StatusCode::NO_CONTENT
            }
            Err(e) => {
                let mut state = self.lock_state();
                state.requests += 1;
                state.bad.push(format!("{e:#}"));
                StatusCode::UNAUTHORIZED
            }
        }
    }

    /// Distinct events seen whose runtime is in `runtimes`.
    pub(crate) fn seen_of(&self, runtimes: &HashSet<String>) -> usize {
        self.lock_state()
            .events
            .values()
            .filter(|s| runtimes.contains(&s.runtime))
            .count()
    }
}

pub(crate) async fn hook(
    State(sink): State<Arc<Sink>>,
    headers: HeaderMap,
    body: String,
) -> StatusCode {
    if !sink.delay.is_zero() {
        tokio::time::sleep(sink.delay).await;
    }
    sink.record(&headers, &body)
}

pub(crate) async fn start_sink(delay: Duration) -> Result<(Arc<Sink>, String)> {
    let sink = Arc::new(Sink {
        secrets: Mutex::default(),
        state: Mutex::default(),
        delay,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state(sink.clone());
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("the sink stopped: {e}");
        }
    });
    Ok((sink, url))
}
