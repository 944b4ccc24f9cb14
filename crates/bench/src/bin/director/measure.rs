//! Measuring: a run of requests at a concurrency, its figures (rows) and the report.

use std::fmt::Write as _;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use serde_json::Value;
use tokio::task::JoinSet;

use crate::Config;
use crate::gql::Gql;

pub(crate) type Counter = Arc<dyn Fn() -> u64 + Send + Sync>;

/// One measured row of the report.
pub(crate) struct Row {
    pub(crate) phase: String,
    pub(crate) concurrency: usize,
    /// Sorted.
    pub(crate) latencies: Vec<Duration>,
    pub(crate) wall: Duration,
    pub(crate) statements: u64,
    /// Per-request statement deltas, smallest and largest (exact only at concurrency 1).
    pub(crate) statements_range: Option<(u64, u64)>,
    pub(crate) cpu: Option<Duration>,
}

impl Row {
    pub(crate) fn count(&self) -> usize {
        self.latencies.len()
    }
    pub(crate) fn rate(&self) -> f64 {
        self.count() as f64 / self.wall.as_secs_f64()
    }
    pub(crate) fn percentile(&self, p: f64) -> Duration {
        // Nearest rank.
        let n = self.latencies.len();
        let rank = ((p / 100.0) * n as f64).ceil() as usize;
        self.latencies[rank.clamp(1, n) - 1]
    }
    pub(crate) fn statements_cell(&self) -> String {
        match self.statements_range {
            Some((lo, hi)) if lo == hi => format!("{lo}"),
            Some((lo, hi)) => format!("{lo}-{hi}"),
            None => format!("{:.2}", self.statements as f64 / self.count() as f64),
        }
    }
    pub(crate) fn cpu_cell(&self) -> String {
        match self.cpu {
            Some(cpu) => format!("{:.2}", cpu.as_secs_f64() * 1e3 / self.count() as f64),
            None => "?".into(),
        }
    }
}

/// What the run found.
#[derive(Default)]
pub(crate) struct Report {
    pub(crate) rows: Vec<Row>,
    pub(crate) notes: Vec<String>,
    /// Figures against the goals, printed last.
    pub(crate) summary: Vec<String>,
    pub(crate) failures: Vec<String>,
}

impl Report {
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        let header = [
            "phase",
            "conc",
            "requests",
            "req/s",
            "p50 ms",
            "p99 ms",
            "max ms",
            "stmt/req",
            "cpu ms/req",
        ];
        let mut cells: Vec<[String; 9]> = vec![header.map(str::to_owned)];
        for row in &self.rows {
            cells.push([
                row.phase.clone(),
                row.concurrency.to_string(),
                row.count().to_string(),
                format!("{:.0}", row.rate()),
                ms(row.percentile(50.0)),
                ms(row.percentile(99.0)),
                ms(row.latencies.last().copied().unwrap_or_default()),
                row.statements_cell(),
                row.cpu_cell(),
            ]);
        }
        let mut widths = [0usize; 9];
        for line in &cells {
            for (w, cell) in widths.iter_mut().zip(line) {
                *w = (*w).max(cell.len());
            }
        }
        for (i, line) in cells.iter().enumerate() {
            for (j, (cell, w)) in line.iter().zip(widths).enumerate() {
                if j == 0 {
                    let _ = write!(out, "{cell:<w$}");
                } else {
                    let _ = write!(out, "  {cell:>w$}");
                }
            }
            out.push('\n');
            if i == 0 {
                let total = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
                out.push_str(&"-".repeat(total));
                out.push('\n');
            }
        }
        out.push('\n');
        for note in &self.notes {
            let _ = writeln!(out, "{note}");
        }
        if !self.summary.is_empty() {
            out.push_str("\nsummary against GOALS.md (one run; see the machine line above):\n");
            for line in &self.summary {
                let _ = writeln!(out, "  {line}");
            }
        }
        out
    }

    /// The first row of `phase` at `concurrency`.
    pub(crate) fn row(&self, phase: &str, concurrency: usize) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| r.phase == phase && r.concurrency == concurrency)
    }
}

pub(crate) fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

/// The process's CPU time (user + system, all threads) from /proc; None where unavailable.
pub(crate) fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // USER_HZ is 100 on every mainstream Linux.
    Some(Duration::from_millis((utime + stime) * 10))
}

/// How long a measurement runs.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Limit {
    /// This many requests.
    Count(usize),
    /// Requests are started until this long has passed.
    For(Duration),
}

/// Runs requests (`f(0)`, `f(1)`, ...) with `concurrency` in flight until `limit`, and measures
/// latencies, wall time, SQL statements and process CPU. The first error stops the run.
pub(crate) async fn measure<F, Fut>(
    phase: impl Into<String>,
    concurrency: usize,
    limit: Limit,
    statements: &Counter,
    f: F,
) -> Result<Row>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<()>> + Send + 'static,
{
    let phase = phase.into();
    let f = Arc::new(f);
    let next = Arc::new(AtomicUsize::new(0));
    let exact = concurrency == 1;
    let statements_before = statements();
    let cpu_before = process_cpu();
    let start = Instant::now();
    let mut workers = JoinSet::new();
    let workers_count = match limit {
        Limit::Count(count) => concurrency.min(count),
        Limit::For(_) => concurrency,
    };
    for _ in 0..workers_count {
        let f = f.clone();
        let next = next.clone();
        let statements = statements.clone();
        workers.spawn(async move {
            let mut latencies = Vec::new();
            let mut range: Option<(u64, u64)> = None;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let done = match limit {
                    Limit::Count(count) => i >= count,
                    Limit::For(duration) => start.elapsed() >= duration,
                };
                if done {
                    break;
                }
                let s0 = if exact { statements() } else { 0 };
                let t0 = Instant::now();
                f(i).await.with_context(|| format!("request {i}"))?;
                latencies.push(t0.elapsed());
                if exact {
                    let delta = statements() - s0;
                    range = Some(match range {
                        None => (delta, delta),
                        Some((lo, hi)) => (lo.min(delta), hi.max(delta)),
                    });
                }
            }
            anyhow::Ok((latencies, range))
        });
    }
    let mut latencies = Vec::new();
    let mut statements_range = None;
    while let Some(joined) = workers.join_next().await {
        let (mut own, range) = joined
            .context("a load task failed")?
            .with_context(|| phase.clone())?;
        latencies.append(&mut own);
        statements_range = range.or(statements_range);
    }
    let wall = start.elapsed();
    let cpu = match (cpu_before, process_cpu()) {
        (Some(before), Some(after)) => Some(after.saturating_sub(before)),
        _ => None,
    };
    ensure!(!latencies.is_empty(), "{phase}: no request completed");
    latencies.sort_unstable();
    let row = Row {
        phase,
        concurrency,
        latencies,
        wall,
        statements: statements() - statements_before,
        statements_range,
        cpu,
    };
    eprintln!(
        "  {:<28} c={:<3} {:>6} req  {:>8.0} req/s  p50 {} ms  p99 {} ms",
        row.phase,
        row.concurrency,
        row.count(),
        row.rate(),
        ms(row.percentile(50.0)),
        ms(row.percentile(99.0)),
    );
    Ok(row)
}

/// The statements one request costs (measured alone).
/// Registers `count` runtimes, `batch` per request (aliased `registerRuntime` fields built by
/// `documents(from, to)`), `concurrency` requests in flight; checks every one was registered.
pub(crate) async fn seed_runtimes(
    gql: &Gql,
    concurrency: usize,
    batch: usize,
    count: usize,
    statements: &Counter,
    documents: fn(usize, usize) -> (String, Value),
) -> Result<Row> {
    let g = gql.clone();
    measure(
        format!("seed: registerRuntime x{batch}"),
        concurrency,
        Limit::Count(count.div_ceil(batch)),
        statements,
        move |b| {
            let g = g.clone();
            async move {
                let (from, to) = (b * batch, ((b + 1) * batch).min(count));
                let (document, vars) = documents(from, to);
                let data = g.call(&document, vars).await?;
                let registered = data
                    .as_object()
                    .map_or(0, |m| m.values().filter(|r| r["id"].is_string()).count());
                ensure!(
                    registered == to - from,
                    "registered {registered} runtimes of {}",
                    to - from
                );
                Ok(())
            }
        },
    )
    .await
}

pub(crate) async fn statements_of(
    gql: &Gql,
    statements: &Counter,
    query: &str,
    vars: Value,
) -> Result<u64> {
    let before = statements();
    gql.call(query, vars).await?;
    Ok(statements() - before)
}

/// One read measurement: its name in the report, its query, and how long it runs.
pub(crate) struct Read<'a> {
    pub(crate) name: &'a str,
    pub(crate) query: &'static str,
    pub(crate) limit: Limit,
}

/// A read measurement at concurrency 1 and at `c`, after a warm-up that opens `c` connections.
pub(crate) async fn reads(
    report: &mut Report,
    config: &Config,
    gql: &Gql,
    statements: &Counter,
    read: Read<'_>,
    vars: impl Fn(usize) -> Value + Send + Sync + Clone + 'static,
) -> Result<()> {
    let Read { name, query, limit } = read;
    let warm = match limit {
        Limit::Count(count) => (config.concurrency * 4).min(count),
        Limit::For(_) => config.concurrency * 4,
    };
    for concurrency in [1, config.concurrency] {
        let (g, v) = (gql.clone(), vars.clone());
        measure(
            "warm-up",
            config.concurrency,
            Limit::Count(warm),
            statements,
            move |i| {
                let (g, vars) = (g.clone(), v(i));
                async move { g.call(query, vars).await.map(drop) }
            },
        )
        .await?;
        let (g, v) = (gql.clone(), vars.clone());
        let row = measure(name, concurrency, limit, statements, move |i| {
            let (g, vars) = (g.clone(), v(i));
            async move { g.call(query, vars).await.map(drop) }
        })
        .await?;
        if let Some((lo, hi)) = row.statements_range
            && lo != hi
        {
            report.failures.push(format!(
                "{name}: statements per request vary from {lo} to {hi} for the same query"
            ));
        }
        report.rows.push(row);
        if config.concurrency == 1 {
            break;
        }
    }
    Ok(())
}
