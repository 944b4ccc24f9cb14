//! `sextant-bench`: registers applications through the Director and reads them back, against
//! a Sextant server started in this process on loopback, over HTTPS with keep-alive.
//!
//! It is a command, not a test: it reports figures (throughput, latency median/p99/max, SQL
//! statements per request, process CPU per request), is bounded in count and time, and exits
//! non-zero on any GraphQL error, on a wrong answer, or when a read's statement count is not
//! constant (an N+1). See `docs/benchmarks.md`.
#![forbid(unsafe_code)]

use std::collections::HashSet;
use std::fmt::Write as _;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};
use clap::{Parser, ValueEnum};
use serde_json::{Value, json};
use sextant_test_support::{Backend, TestDatabase};
use tokio::task::JoinSet;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum BackendArg {
    Sqlite,
    Postgres,
}

/// Benchmarks the Director: application registrations and application reads over HTTPS.
#[derive(Parser, Debug)]
#[command(name = "sextant-bench")]
struct Args {
    /// The store: SQLite in a fresh temporary directory, or a fresh PostgreSQL database
    /// on the server named by SEXTANT_TEST_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres).
    #[arg(long, value_enum, default_value = "sqlite")]
    backend: BackendArg,
    /// Applications to register [default: 10000; 500 with --quick].
    #[arg(long)]
    apps: Option<usize>,
    /// In-flight requests of the concurrent phases.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Requests per read measurement [default: 2000; 200 with --quick].
    #[arg(long)]
    reads: Option<usize>,
    /// Every n-th application gets the label env="prod" (the filtered query's matches).
    #[arg(long, default_value_t = 10)]
    prod_every: usize,
    /// A smoke run: 500 applications, 200 reads per measurement.
    #[arg(long)]
    quick: bool,
    /// Give up (exit non-zero) when the measurements take longer than this many seconds.
    #[arg(long, default_value_t = 1200)]
    time_limit: u64,
}

/// Every client request gives up after this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Page size of every read (the Director's maximum).
const PAGE: usize = 100;

const REGISTER: &str =
    "mutation($in: ApplicationRegisterInput!) { registerApplication(in: $in) { id } }";
const APPLICATIONS: &str = "query($first: Int, $after: PageCursor, $filter: [LabelFilter!]) { \
    applications(first: $first, after: $after, filter: $filter) { \
    data { id name providerName description labels status { condition } } \
    totalCount pageInfo { hasNextPage endCursor } } }";
const TYPENAME: &str = "{ __typename }";

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let config = Config::from_args(&args)?;
    let command = std::env::args().collect::<Vec<_>>().join(" ");

    // The database first (dropped last: it outlives the server).
    let backend = match args.backend {
        BackendArg::Sqlite => Backend::Sqlite,
        BackendArg::Postgres => Backend::Postgres,
    };
    let db = TestDatabase::create(backend).await;
    let data_dir = db.dir.join("data");
    let server = sextant_server::start(sextant_server::ServerConfig {
        data_dir: data_dir.clone(),
        database_url: match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(db.url.clone()),
        },
        listen: "127.0.0.1:0".parse()?,
        mtls_listen: "127.0.0.1:0".parse()?,
        public_url: None,
        fetch_allow_private: true,
    })
    .await
    .context("starting the server")?;

    let store = server.store.clone();
    let statements: Counter = Arc::new(move || store.statements().get());
    let outcome = async {
        let gql = Gql::new(&server, &data_dir)?;
        let mut facts = machine_facts(&args, &config, &command);
        facts.push(format!("http: {}", gql.probe().await?));
        facts.push(match backend {
            Backend::Sqlite => format!(
                "store: SQLite (WAL) in {}",
                data_dir.join("sextant.db").display()
            ),
            Backend::Postgres => format!("store: {}", postgres_facts(&db.url).await?),
        });
        tokio::time::timeout(
            Duration::from_secs(args.time_limit),
            bench(&config, &gql, &statements),
        )
        .await
        .map_err(|_| anyhow!("gave up after --time-limit {} s", args.time_limit))?
        .map(|report| (facts, report))
    }
    .await;
    server.stop().await;
    drop(db);

    let (facts, report) = outcome?;
    println!();
    for fact in &facts {
        println!("{fact}");
    }
    println!();
    print!("{}", report.render());
    if !report.failures.is_empty() {
        for failure in &report.failures {
            eprintln!("FAILED: {failure}");
        }
        bail!("{} check(s) failed", report.failures.len());
    }
    Ok(())
}

/// The run's parameters, with `--quick` applied.
struct Config {
    apps: usize,
    reads: usize,
    concurrency: usize,
    prod_every: usize,
    /// Applications registered one at a time after the reads (unloaded write latency).
    serial_apps: usize,
}

impl Config {
    fn from_args(args: &Args) -> Result<Config> {
        let apps = args.apps.unwrap_or(if args.quick { 500 } else { 10_000 });
        let reads = args.reads.unwrap_or(if args.quick { 200 } else { 2_000 });
        ensure!(apps >= 1, "--apps must be at least 1");
        ensure!(reads >= 1, "--reads must be at least 1");
        ensure!(args.concurrency >= 1, "--concurrency must be at least 1");
        ensure!(args.prod_every >= 1, "--prod-every must be at least 1");
        Ok(Config {
            apps,
            reads,
            concurrency: args.concurrency,
            prod_every: args.prod_every,
            serial_apps: (apps / 10).clamp(1, 200),
        })
    }

    fn prod_count(&self) -> usize {
        self.apps.div_ceil(self.prod_every)
    }
}

/// A GraphQL client for the Director as the administrator.
#[derive(Clone)]
struct Gql {
    client: reqwest::Client,
    url: Arc<str>,
    token: Arc<str>,
}

impl Gql {
    fn new(server: &sextant_server::RunningServer, data_dir: &std::path::Path) -> Result<Gql> {
        let ca_path = data_dir.join("ca.crt");
        let ca =
            std::fs::read(&ca_path).with_context(|| format!("reading {}", ca_path.display()))?;
        let client = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&ca)?])
            .timeout(REQUEST_TIMEOUT)
            .pool_idle_timeout(Duration::from_secs(600))
            .build()?;
        let token = std::fs::read_to_string(&server.admin_token_path)
            .with_context(|| format!("reading {}", server.admin_token_path.display()))?;
        Ok(Gql {
            client,
            url: format!(
                "https://localhost:{}/director/graphql",
                server.main_addr.port()
            )
            .into(),
            token: token.trim().into(),
        })
    }

    /// Runs one request; any GraphQL or HTTP error is an error. Returns `data`.
    async fn call(&self, query: &str, variables: Value) -> Result<Value> {
        let response = self
            .client
            .post(&*self.url)
            .bearer_auth(&*self.token)
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await
            .context("sending a GraphQL request")?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .with_context(|| format!("reading a GraphQL response (HTTP {status})"))?;
        if let Some(errors) = body.get("errors") {
            bail!("GraphQL error (HTTP {status}): {errors}");
        }
        ensure!(status.is_success(), "HTTP {status}: {body}");
        match body {
            Value::Object(mut map) => map
                .remove("data")
                .ok_or_else(|| anyhow!("GraphQL response without data")),
            other => bail!("GraphQL response is not an object: {other}"),
        }
    }

    /// The HTTP version the client and server agreed on.
    async fn probe(&self) -> Result<String> {
        let response = self
            .client
            .post(&*self.url)
            .bearer_auth(&*self.token)
            .json(&json!({"query": TYPENAME}))
            .send()
            .await?;
        ensure!(
            response.status().is_success(),
            "probe: HTTP {}",
            response.status()
        );
        Ok(format!("{:?} over TLS, keep-alive", response.version()))
    }
}

type Counter = Arc<dyn Fn() -> u64 + Send + Sync>;

/// One measured row of the report.
struct Row {
    phase: String,
    concurrency: usize,
    /// Sorted.
    latencies: Vec<Duration>,
    wall: Duration,
    statements: u64,
    /// Per-request statement deltas, smallest and largest (exact only at concurrency 1).
    statements_range: Option<(u64, u64)>,
    cpu: Option<Duration>,
}

impl Row {
    fn count(&self) -> usize {
        self.latencies.len()
    }
    fn rate(&self) -> f64 {
        self.count() as f64 / self.wall.as_secs_f64()
    }
    fn percentile(&self, p: f64) -> Duration {
        // Nearest rank.
        let n = self.latencies.len();
        let rank = ((p / 100.0) * n as f64).ceil() as usize;
        self.latencies[rank.clamp(1, n) - 1]
    }
    fn statements_cell(&self) -> String {
        match self.statements_range {
            Some((lo, hi)) if lo == hi => format!("{lo}"),
            Some((lo, hi)) => format!("{lo}-{hi}"),
            None => format!("{:.2}", self.statements as f64 / self.count() as f64),
        }
    }
    fn cpu_cell(&self) -> String {
        match self.cpu {
            Some(cpu) => format!("{:.2}", cpu.as_secs_f64() * 1e3 / self.count() as f64),
            None => "?".into(),
        }
    }
}

/// What the run found.
#[derive(Default)]
struct Report {
    rows: Vec<Row>,
    notes: Vec<String>,
    failures: Vec<String>,
}

impl Report {
    fn render(&self) -> String {
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
        out
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

/// The process's CPU time (user + system, all threads) from /proc; None where unavailable.
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // USER_HZ is 100 on every mainstream Linux.
    Some(Duration::from_millis((utime + stime) * 10))
}

/// Runs `count` requests (`f(0)`, `f(1)`, ...) with `concurrency` in flight, and measures
/// latencies, wall time, SQL statements and process CPU. The first error stops the run.
async fn measure<F, Fut>(
    phase: impl Into<String>,
    concurrency: usize,
    count: usize,
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
    for _ in 0..concurrency.min(count) {
        let f = f.clone();
        let next = next.clone();
        let statements = statements.clone();
        workers.spawn(async move {
            let mut latencies = Vec::new();
            let mut range: Option<(u64, u64)> = None;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
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
    let mut latencies = Vec::with_capacity(count);
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

fn app_input(i: usize, prefix: &str, prod_every: usize) -> Value {
    let env = if i.is_multiple_of(prod_every) {
        "prod"
    } else if i.is_multiple_of(2) {
        "dev"
    } else {
        "staging"
    };
    json!({"in": {
        "name": format!("{prefix}-{i:06}"),
        "providerName": "acme",
        "description": format!("Benchmark application {i}, registered by sextant-bench"),
        "labels": {"scenarios": ["DEFAULT"], "env": env, "team": (i % 97) as u64},
    }})
}

fn applications_vars(first: usize, after: Option<&str>, filter: Option<&Value>) -> Value {
    json!({"first": first, "after": after, "filter": filter})
}

/// The page's items, whether there is a next page, and its end cursor.
fn page_of(data: &Value) -> Result<(&Vec<Value>, i64, bool, Option<String>)> {
    let page = &data["applications"];
    let items = page["data"]
        .as_array()
        .ok_or_else(|| anyhow!("applications.data is not a list: {page}"))?;
    let total = page["totalCount"]
        .as_i64()
        .ok_or_else(|| anyhow!("applications.totalCount missing: {page}"))?;
    let has_next = page["pageInfo"]["hasNextPage"].as_bool().unwrap_or(false);
    let cursor = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    Ok((items, total, has_next, cursor))
}

/// The statements one request costs (measured alone).
async fn statements_of(gql: &Gql, statements: &Counter, vars: Value) -> Result<u64> {
    let before = statements();
    gql.call(APPLICATIONS, vars).await?;
    Ok(statements() - before)
}

/// A read measurement at concurrency 1 and at `c`, after a warm-up that opens `c` connections.
async fn reads(
    report: &mut Report,
    config: &Config,
    gql: &Gql,
    statements: &Counter,
    name: &str,
    query: &'static str,
    vars: impl Fn(usize) -> Value + Send + Sync + Clone + 'static,
) -> Result<()> {
    let warm = (config.concurrency * 4).min(config.reads);
    for concurrency in [1, config.concurrency] {
        let (g, v) = (gql.clone(), vars.clone());
        measure("warm-up", config.concurrency, warm, statements, move |i| {
            let (g, vars) = (g.clone(), v(i));
            async move { g.call(query, vars).await.map(drop) }
        })
        .await?;
        let (g, v) = (gql.clone(), vars.clone());
        let row = measure(name, concurrency, config.reads, statements, move |i| {
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

async fn bench(config: &Config, gql: &Gql, statements: &Counter) -> Result<Report> {
    let mut report = Report::default();
    let c = config.concurrency;

    // --- registration ---
    eprintln!(
        "registering {} applications with {c} in flight ...",
        config.apps
    );
    let (g, prod_every) = (gql.clone(), config.prod_every);
    let row = measure(
        "registerApplication",
        c,
        config.apps,
        statements,
        move |i| {
            let g = g.clone();
            async move {
                let data = g
                    .call(REGISTER, app_input(i, "bench-app", prod_every))
                    .await?;
                ensure!(
                    data["registerApplication"]["id"].is_string(),
                    "registerApplication returned no id: {data}"
                );
                Ok(())
            }
        },
    )
    .await?;
    report.notes.push(format!(
        "registration: {} applications (3 labels + description each) in {:.1} s = {:.0}/s overall, {:.2} SQL statements per registration",
        row.count(),
        row.wall.as_secs_f64(),
        row.rate(),
        row.statements as f64 / row.count() as f64,
    ));
    report.rows.push(row);

    // --- correctness of what the reads will see ---
    eprintln!("checking the stored applications ...");
    let mut seen = HashSet::new();
    let mut cursors = Vec::new();
    let mut after: Option<String> = None;
    let walk_statements = statements();
    let walk_cpu = process_cpu();
    let walk_start = Instant::now();
    let mut walk_latencies = Vec::new();
    loop {
        let t0 = Instant::now();
        let data = gql
            .call(
                APPLICATIONS,
                applications_vars(PAGE, after.as_deref(), None),
            )
            .await?;
        walk_latencies.push(t0.elapsed());
        let (items, total, has_next, cursor) = page_of(&data)?;
        ensure!(
            total as usize == config.apps,
            "totalCount is {total}, {} applications were registered",
            config.apps
        );
        for item in items {
            let id = item["id"]
                .as_str()
                .ok_or_else(|| anyhow!("no id: {item}"))?;
            ensure!(
                seen.insert(id.to_owned()),
                "application {id} appears twice in the walk"
            );
        }
        if !has_next {
            break;
        }
        ensure!(
            walk_latencies.len() <= config.apps / PAGE + 1,
            "the walk does not end"
        );
        let cursor = cursor.ok_or_else(|| anyhow!("hasNextPage without endCursor"))?;
        cursors.push(cursor.clone());
        after = Some(cursor);
    }
    ensure!(
        seen.len() == config.apps,
        "walking every page found {} applications of {}",
        seen.len(),
        config.apps
    );
    walk_latencies.sort_unstable();
    let walk_wall = walk_start.elapsed();
    report.rows.push(Row {
        phase: "walk all pages (after)".into(),
        concurrency: 1,
        statements: statements() - walk_statements,
        statements_range: None,
        cpu: match (walk_cpu, process_cpu()) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a)),
            _ => None,
        },
        latencies: walk_latencies,
        wall: walk_wall,
    });

    let filter = json!([{"key": "env", "query": "\"prod\""}]);
    let data = gql
        .call(APPLICATIONS, applications_vars(PAGE, None, Some(&filter)))
        .await?;
    let (items, total, _, _) = page_of(&data)?;
    ensure!(
        total as usize == config.prod_count(),
        "the env=prod filter counts {total}, expected {}",
        config.prod_count()
    );
    ensure!(
        items.len() == config.prod_count().min(PAGE)
            && items.iter().all(|item| item["labels"]["env"] == "prod"),
        "the env=prod filter returned other applications"
    );

    // --- statements do not grow with the page size (no N+1) ---
    let mut n_plus_one = Vec::new();
    for (name, filter) in [("list", None), ("filtered", Some(&filter))] {
        let one = statements_of(gql, statements, applications_vars(1, None, filter)).await?;
        let full = statements_of(gql, statements, applications_vars(PAGE, None, filter)).await?;
        n_plus_one.push(format!("{name}: first:1 -> {one}, first:{PAGE} -> {full}"));
        if full != one {
            report.failures.push(format!(
                "{name}: a page of {PAGE} costs {full} statements, a page of 1 costs {one}"
            ));
        }
    }
    report.notes.push(format!(
        "SQL statements per read by page size: {}",
        n_plus_one.join("; ")
    ));

    // --- reads ---
    eprintln!("reads: {} requests per measurement ...", config.reads);
    reads(
        &mut report,
        config,
        gql,
        statements,
        "{ __typename } (baseline)",
        TYPENAME,
        |_| json!({}),
    )
    .await?;
    reads(
        &mut report,
        config,
        gql,
        statements,
        "applications(first:100)",
        APPLICATIONS,
        |_| applications_vars(PAGE, None, None),
    )
    .await?;
    let f = filter.clone();
    reads(
        &mut report,
        config,
        gql,
        statements,
        "applications env=prod",
        APPLICATIONS,
        move |_| applications_vars(PAGE, None, Some(&f)),
    )
    .await?;
    // The last tenth of the list's pages (at least one), starting deep in the list.
    let deep: Arc<Vec<String>> = Arc::new(
        cursors
            .iter()
            .skip(cursors.len() - (cursors.len() / 10).max(1).min(cursors.len()))
            .cloned()
            .collect(),
    );
    if deep.is_empty() {
        report
            .notes
            .push("deep pages: skipped, the list has a single page".into());
    } else {
        let first_deep = config.apps.div_ceil(PAGE) - deep.len();
        report.notes.push(format!(
            "deep pages: `after` cursors of pages {first_deep}..{} of {} (0-based), in turn",
            first_deep + deep.len() - 1,
            config.apps.div_ceil(PAGE)
        ));
        reads(
            &mut report,
            config,
            gql,
            statements,
            "applications deep page",
            APPLICATIONS,
            move |i| applications_vars(PAGE, Some(&deep[i % deep.len()]), None),
        )
        .await?;
    }

    // --- unloaded write latency ---
    eprintln!(
        "registering {} more applications one at a time ...",
        config.serial_apps
    );
    let (g, prod_every) = (gql.clone(), config.prod_every);
    let row = measure(
        "registerApplication",
        1,
        config.serial_apps,
        statements,
        move |i| {
            let g = g.clone();
            async move {
                g.call(REGISTER, app_input(i, "bench-serial", prod_every))
                    .await
                    .map(drop)
            }
        },
    )
    .await?;
    report.rows.push(row);
    report.notes.push(
        "stmt/req: exact per-request range at conc 1, average otherwise (BEGIN/COMMIT not counted); \
         cpu ms/req: this whole process (client and server), not PostgreSQL's"
            .into(),
    );
    Ok(report)
}

fn machine_facts(args: &Args, config: &Config, command: &str) -> Vec<String> {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get().to_string())
        .unwrap_or_else(|_| "?".into());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "?".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|k| k.trim().to_owned())
        .unwrap_or_else(|_| "?".into());
    let profile = if cfg!(debug_assertions) {
        "debug (figures are meaningless; use --release)"
    } else {
        "release"
    };
    vec![
        format!("command: {command}"),
        format!("machine: {cpus} CPUs ({model}), Linux {kernel}, build profile {profile}"),
        format!(
            "run: backend {:?}, {} apps (every {}th env=prod), {} reads per measurement, concurrency {}, client and server in one process on loopback",
            args.backend, config.apps, config.prod_every, config.reads, config.concurrency
        ),
    ]
}

async fn postgres_facts(url: &str) -> Result<String> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await?;
    let mut settings = Vec::new();
    for setting in [
        "server_version",
        "fsync",
        "synchronous_commit",
        "shared_buffers",
    ] {
        let value: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SHOW {setting}")))
            .fetch_one(&mut conn)
            .await?;
        settings.push(format!("{setting}={value}"));
    }
    conn.close().await?;
    Ok(format!("PostgreSQL on loopback, {}", settings.join(" ")))
}
