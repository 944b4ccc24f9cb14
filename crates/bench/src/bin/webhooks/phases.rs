//! Phases: the events a phase expects, waiting for them, what arrived, and its figures.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;
use sextant_test_support::Backend;
use tokio::task::JoinSet;

use sextant_bench::figures::{Figures, ms_between, p50_p99_max, sorted};

use crate::server::Admin;
use crate::sink::{Seen, Sink};
use crate::{PER_REQUEST, STALL};

/// A phase's events: (runtime id, application id) → enqueue time.
pub(crate) struct Expected {
    pub(crate) enqueued: HashMap<String, Instant>,
    pub(crate) apps: Vec<String>,
}

impl Expected {
    pub(crate) fn count(&self) -> usize {
        self.enqueued.len() * self.apps.len()
    }
    pub(crate) fn runtimes(&self) -> HashSet<String> {
        self.enqueued.keys().cloned().collect()
    }
}

/// Waits until every expected event arrived, or nothing new arrived for [`STALL`].
pub(crate) async fn wait_all(sink: &Sink, expected: &Expected, within: Duration) -> Result<usize> {
    let runtimes = expected.runtimes();
    let total = expected.count();
    let deadline = Instant::now() + within;
    let (mut last_count, mut last_change) = (usize::MAX, Instant::now());
    loop {
        let seen = sink.seen_of(&runtimes);
        if seen >= total {
            return Ok(seen);
        }
        if seen != last_count {
            (last_count, last_change) = (seen, Instant::now());
        }
        if last_change.elapsed() > STALL || Instant::now() > deadline {
            println!("  waiting stopped: {seen} of {total} events arrived");
            return Ok(seen);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// What a phase's arrivals say.
pub(crate) struct Outcome {
    pub(crate) expected: usize,
    pub(crate) arrived: usize,
    pub(crate) lost: usize,
    pub(crate) duplicates: usize,
    pub(crate) extra_arrivals: u64,
    pub(crate) pairs_with_two_ids: usize,
    pub(crate) from_enqueue: Vec<f64>,
    pub(crate) from_event_time: Vec<f64>,
    pub(crate) first: Option<Instant>,
    pub(crate) last: Option<Instant>,
}

pub(crate) fn outcome(sink: &Sink, expected: &Expected) -> Outcome {
    let state = sink.lock_state();
    let mut per_pair: HashMap<(&str, &str), Vec<&Seen>> = HashMap::new();
    for seen in state.events.values() {
        if expected.enqueued.contains_key(&seen.runtime) {
            per_pair
                .entry((seen.runtime.as_str(), seen.app.as_str()))
                .or_default()
                .push(seen);
        }
    }
    let mut out = Outcome {
        expected: expected.count(),
        arrived: 0,
        lost: 0,
        duplicates: 0,
        extra_arrivals: 0,
        pairs_with_two_ids: 0,
        from_enqueue: Vec::new(),
        from_event_time: Vec::new(),
        first: None,
        last: None,
    };
    for (runtime, enqueued) in &expected.enqueued {
        for app in &expected.apps {
            let Some(seen) = per_pair.get(&(runtime.as_str(), app.as_str())) else {
                out.lost += 1;
                continue;
            };
            if seen.len() > 1 {
                out.pairs_with_two_ids += 1;
            }
            for s in seen {
                out.arrived += 1;
                if s.arrivals > 1 {
                    out.duplicates += 1;
                    out.extra_arrivals += u64::from(s.arrivals - 1);
                }
                out.from_enqueue.push(ms_between(s.first, *enqueued));
                out.from_event_time.push(s.from_event_time_ms);
                out.first = Some(out.first.map_or(s.first, |f| f.min(s.first)));
                out.last = Some(out.last.map_or(s.first, |l| l.max(s.first)));
            }
        }
    }
    out.from_enqueue = sorted(std::mem::take(&mut out.from_enqueue));
    out.from_event_time = sorted(std::mem::take(&mut out.from_event_time));
    out
}

/// Queues `registrations` runtimes' events as fast as the server takes them.
pub(crate) async fn burst(
    admin: &Admin,
    prefix: &str,
    registrations: usize,
    concurrency: usize,
) -> Result<HashMap<String, Instant>> {
    let mut tasks = JoinSet::new();
    let mut enqueued = HashMap::new();
    let mut start = 0;
    while start < registrations || !tasks.is_empty() {
        while start < registrations && tasks.len() < concurrency.max(1) {
            let end = (start + PER_REQUEST).min(registrations);
            let (admin, prefix) = (admin.clone(), prefix.to_owned());
            tasks.spawn(async move { admin.register_runtimes(&prefix, start, end).await });
            start = end;
        }
        if let Some(done) = tasks.join_next().await {
            let (ids, at) = done??;
            enqueued.extend(ids.into_iter().map(|id| (id, at)));
        }
    }
    Ok(enqueued)
}

/// Outbox rows by state: state → (rows, attempts).
pub(crate) async fn outbox(
    backend: Backend,
    data_dir: &Path,
    url: &str,
) -> Result<Vec<(String, i64, i64)>> {
    use sqlx::Connection;
    const QUERY: &str = "SELECT state, COUNT(*), CAST(COALESCE(SUM(attempts), 0) AS BIGINT) FROM webhook_deliveries GROUP BY state ORDER BY state";
    Ok(match backend {
        Backend::Sqlite => {
            let url = format!("sqlite://{}?mode=ro", data_dir.join("sextant.db").display());
            let mut conn = sqlx::SqliteConnection::connect(&url).await?;
            sqlx::query_as::<_, (String, i64, i64)>(QUERY)
                .fetch_all(&mut conn)
                .await?
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(url).await?;
            sqlx::query_as::<_, (String, i64, i64)>(QUERY)
                .fetch_all(&mut conn)
                .await?
        }
    })
}

/// The outbox's rows as a figure: `state rows / attempts`, by state.
pub(crate) fn outbox_cell(rows: &[(String, i64, i64)]) -> String {
    rows.iter()
        .map(|(s, n, a)| format!("{s} {n} / {a}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The arrival figures every phase has.
pub(crate) fn arrivals(figures: &mut Figures, phase: &str, o: &Outcome) {
    figures.add(
        format!("{phase}: events expected / arrived (distinct) / lost"),
        format!("{} / {} / {}", o.expected, o.arrived, o.lost),
    );
    figures.add(
        format!(
            "{phase}: duplicates (ids seen twice or more) / extra arrivals / pairs with two ids"
        ),
        format!(
            "{} / {} / {}",
            o.duplicates, o.extra_arrivals, o.pairs_with_two_ids
        ),
    );
    figures.add(
        format!("{phase}: enqueue (mutation response) → first attempt, p50 / p99 / max ms"),
        p50_p99_max(&o.from_enqueue, 0),
    );
    figures.add(
        format!("{phase}: event `time` (in the transaction) → first attempt, p50 / p99 / max ms"),
        p50_p99_max(&o.from_event_time, 0),
    );
}
