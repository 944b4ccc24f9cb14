//! Measuring: a run of requests at a concurrency, its figures (rows) and the report.

use std::fmt::Write as _;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use serde_json::Value;
use tokio::task::JoinSet;

use sextant_bench::figures::nearest_rank;
use sextant_bench::host::cpu_ticks;

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
    /// Per-request statement counts (exact only at concurrency 1).
    pub(crate) statements_range: Option<Spread>,
    pub(crate) cpu: Option<Duration>,
}

/// The statements of each request of a measurement at concurrency 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Spread {
    pub(crate) least: u64,
    pub(crate) most: u64,
    /// The count most requests cost.
    pub(crate) usual: u64,
    /// Requests that cost another count.
    pub(crate) unusual: usize,
}

impl Spread {
    fn of(counts: &[u64]) -> Option<Spread> {
        let mut tally = std::collections::BTreeMap::<u64, usize>::new();
        for count in counts {
            *tally.entry(*count).or_default() += 1;
        }
        let (&usual, &times) = tally.iter().max_by_key(|(_, times)| **times)?;
        Some(Spread {
            least: *tally.keys().next()?,
            most: *tally.keys().next_back()?,
            usual,
            unusual: counts.len() - times,
        })
    }

    /// Whether the count depends on something other than the query: some requests cost
    /// fewer statements than usual, or more than a few of them cost more. (A DataLoader
    /// dispatches a batch 1 ms after its first key; when the process loses the CPU in that
    /// window, as it does to PostgreSQL's backends on two cores, a level is loaded in two
    /// statements. That costs a rare request one or two statements more, never fewer.)
    pub(crate) fn varies(&self, requests: usize) -> bool {
        self.least < self.usual || self.unusual * 100 > requests
    }
}

impl Row {
    pub(crate) fn count(&self) -> usize {
        self.latencies.len()
    }
    pub(crate) fn rate(&self) -> f64 {
        self.count() as f64 / self.wall.as_secs_f64()
    }
    /// Nearest rank; zero for a row without requests (there is none: [`measure`] fails).
    pub(crate) fn percentile(&self, p: f64) -> Duration {
        nearest_rank(&self.latencies, p).unwrap_or_default()
    }
    pub(crate) fn statements_cell(&self) -> String {
        match self.statements_range {
            Some(spread) if spread.least == spread.most => format!("{}", spread.least),
            Some(spread) => format!("{}-{}", spread.least, spread.most),
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
    let ticks = cpu_ticks(std::process::id()).ok()?;
    // USER_HZ is 100 on every mainstream Linux.
    Some(Duration::from_millis(ticks * 10))
}

/// The process's CPU time since `before` (a [`process_cpu`]); None where unavailable.
pub(crate) fn cpu_since(before: Option<Duration>) -> Option<Duration> {
    match (before, process_cpu()) {
        (Some(before), Some(after)) => Some(after.saturating_sub(before)),
        _ => None,
    }
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
            let mut counts = Vec::new();
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
                    counts.push(statements() - s0);
                }
            }
            anyhow::Ok((latencies, counts))
        });
    }
    let mut latencies = Vec::new();
    let mut counts = Vec::new();
    while let Some(joined) = workers.join_next().await {
        let (mut own, mut own_counts) = joined
            .context("a load task failed")?
            .with_context(|| phase.clone())?;
        latencies.append(&mut own);
        counts.append(&mut own_counts);
    }
    let statements_range = Spread::of(&counts);
    let wall = start.elapsed();
    let cpu = cpu_since(cpu_before);
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

/// Records what a list (`name`) costs in statements for a small and a large page (each
/// `(size, statements)`) in `costs`, and a failure when the large one costs more.
pub(crate) fn same_cost(
    report: &mut Report,
    costs: &mut Vec<String>,
    name: &str,
    small: (&str, u64),
    large: (&str, u64),
) {
    costs.push(format!(
        "{name}: {} -> {}, {} -> {}",
        small.0, small.1, large.0, large.1
    ));
    if small.1 != large.1 {
        report.failures.push(format!(
            "{name}: a page of {} costs {} statements, a page of {} costs {}",
            large.0, large.1, small.0, small.1
        ));
    }
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

/// Measures one GraphQL read (warm-up first) at concurrency 1 and at `--concurrency`; see
/// [`requests`].
pub(crate) async fn reads(
    report: &mut Report,
    config: &Config,
    gql: &Gql,
    statements: &Counter,
    read: Read<'_>,
    vars: impl Fn(usize) -> Value + Send + Sync + Clone + 'static,
) -> Result<()> {
    let Read { name, query, limit } = read;
    let gql = gql.clone();
    requests(report, config, statements, name, limit, move |i| {
        let (g, vars) = (gql.clone(), vars(i));
        async move { g.call(query, vars).await.map(drop) }
    })
    .await
}

/// Measures one request (`request(i)`) at concurrency 1 and at `--concurrency`, each after a
/// warm-up at `--concurrency` (which opens that many connections): a row each, a failure
/// when its statements per request vary.
pub(crate) async fn requests<F, Fut>(
    report: &mut Report,
    config: &Config,
    statements: &Counter,
    name: &str,
    limit: Limit,
    request: F,
) -> Result<()>
where
    F: Fn(usize) -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = Result<()>> + Send + 'static,
{
    let warm = match limit {
        Limit::Count(count) => (config.concurrency * 4).min(count),
        Limit::For(_) => config.concurrency * 4,
    };
    for concurrency in [1, config.concurrency] {
        measure(
            "warm-up",
            config.concurrency,
            Limit::Count(warm),
            statements,
            request.clone(),
        )
        .await?;
        let row = measure(name, concurrency, limit, statements, request.clone()).await?;
        if let Some(spread) = row.statements_range {
            let Spread {
                least,
                most,
                usual,
                unusual,
            } = spread;
            if spread.varies(row.count()) {
                report.failures.push(format!(
                    "{name}: statements per request vary from {least} to {most} for the same \
                     request ({usual} in all but {unusual} of {} requests)",
                    row.count()
                ));
            } else if unusual > 0 {
                report.notes.push(format!(
                    "{name}: {usual} statements per request, {most} at most in {unusual} of {} \
                     (a DataLoader batch split by its 1 ms timer)",
                    row.count()
                ));
            }
        }
        report.rows.push(row);
        if config.concurrency == 1 {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Spread;

    #[test]
    fn a_rare_split_batch_is_not_variance_but_fewer_statements_or_many_more_are() {
        let mut counts = vec![11; 990];
        counts.extend([12, 13, 12]);
        let spread = Spread::of(&counts).unwrap();
        assert_eq!((spread.least, spread.most, spread.usual), (11, 13, 11));
        assert_eq!(spread.unusual, 3);
        assert!(!spread.varies(counts.len()));
        // Some requests cheaper than most: the count depends on something.
        counts.push(10);
        assert!(Spread::of(&counts).unwrap().varies(counts.len()));
        // More than 1% costlier: not a rare split.
        let mut counts = vec![11; 90];
        counts.extend([12; 10]);
        assert!(Spread::of(&counts).unwrap().varies(counts.len()));
        assert!(Spread::of(&[]).is_none());
    }
}
