//! `sextant-bench`: registers applications (each with 10 API and 10 event definitions) through
//! the Director and reads them back, as lists (`applications`) and as a runtime's agent would
//! (`applicationsForRuntime` with specs and per-runtime credentials, GOALS.md P3), against a
//! Sextant server started in this process on loopback, over HTTPS with keep-alive.
//!
//! It is a command, not a test: it reports figures (throughput, latency median/p99/max, SQL
//! statements per request, process CPU per request), is bounded in count and time, and exits
//! non-zero on any GraphQL error, on a wrong answer, or when a read's statement count is not
//! constant (an N+1). See `docs/benchmarks.md`.
#![forbid(unsafe_code)]

mod writes;

use std::collections::HashSet;
use std::fmt::Write as _;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
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

/// What runs after the registrations (which every phase starts with: they are P6's figure and
/// the store's seed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum PhaseArg {
    /// Everything below, in this order: lists, p3, then the one-at-a-time registrations.
    All,
    /// Registrations only: concurrent, then one at a time (GOALS.md P6).
    P6,
    /// The runtimes' seed and `applicationsForRuntime` (GOALS.md P3).
    P3,
    /// The application list reads (`applications`: all pages, filtered, deep pages).
    Lists,
    /// Mutations whose webhook events concern many applications (`registerRuntime`,
    /// `setRuntimeLabel` into a scenario of applications with webhooks).
    Writes,
}

/// Benchmarks the Director: application registrations and application reads over HTTPS.
#[derive(Parser, Debug)]
#[command(name = "sextant-bench")]
struct Args {
    /// The store: SQLite in a fresh temporary directory, or a fresh PostgreSQL database
    /// on the server named by SEXTANT_TEST_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres).
    #[arg(long, value_enum, default_value = "sqlite")]
    backend: BackendArg,
    /// What to run after registering the applications.
    #[arg(long, value_enum, default_value = "all")]
    phase: PhaseArg,
    /// Applications to register, each with 10 APIs and 10 events [default: 10000; 500 with --quick].
    #[arg(long)]
    apps: Option<usize>,
    /// Runtimes in the store for P3, the target runtime included [default: 10000; 500 with --quick].
    #[arg(long)]
    runtimes: Option<usize>,
    /// Runtimes registered per request when seeding them (aliased `registerRuntime` fields).
    #[arg(long, default_value_t = 25)]
    batch: usize,
    /// Seconds per P3 measurement (at concurrency 1, then at --concurrency) [default: 15; 3 with --quick].
    #[arg(long)]
    duration: Option<u64>,
    /// In-flight requests of the concurrent phases.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Requests per read measurement [default: 2000; 200 with --quick].
    #[arg(long)]
    reads: Option<usize>,
    /// Every n-th application gets the label env="prod" (the filtered query's matches).
    #[arg(long, default_value_t = 10)]
    prod_every: usize,
    /// Applications in the write phase's scenario, every second one with a webhook [default: 10000; 500 with --quick].
    #[arg(long)]
    write_apps: Option<usize>,
    /// Requests per write measurement (single registrations; moves are twice as many) [default: 20; 10 with --quick].
    #[arg(long)]
    write_samples: Option<usize>,
    /// Requests of 25 aliased registrations in the write phase [default: 3; 2 with --quick].
    #[arg(long)]
    write_batches: Option<usize>,
    /// A smoke run: 500 applications, 500 runtimes, 200 reads per list measurement, 3 s per P3 one.
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
/// A registration that answers what it created (the P3 applications: their API ids).
const REGISTER_CATALOG: &str = "mutation($in: ApplicationRegisterInput!) { \
    registerApplication(in: $in) { id \
    apiDefinitions(first: 100) { totalCount data { id } } eventDefinitions(first: 100) { totalCount } } }";
/// The first applications with their catalog's counts (checks the registrations' payload).
const CATALOG_COUNTS: &str = "query($first: Int) { applications(first: $first) { \
    data { id apiDefinitions(first: 100) { totalCount data { defaultAuth { credential { \
    ... on BasicCredentialData { username } } } } } eventDefinitions(first: 100) { totalCount } } } }";
const SCENARIOS_DEFINITION: &str = "query { labelDefinition(key: \"scenarios\") { key schema } }";
const CREATE_LABEL_DEFINITION: &str =
    "mutation($in: LabelDefinitionInput!) { createLabelDefinition(in: $in) { key } }";
const UPDATE_LABEL_DEFINITION: &str =
    "mutation($in: LabelDefinitionInput!) { updateLabelDefinition(in: $in) { key } }";
const REGISTER_RUNTIME: &str = "mutation($in: RuntimeInput!) { registerRuntime(in: $in) { id } }";
const RUNTIME_COUNT: &str = "{ runtimes(first: 1) { totalCount } }";
const SET_API_AUTH: &str = "mutation($api: ID!, $rt: ID!, $in: AuthInput!) { \
    setAPIAuth(apiID: $api, runtimeID: $rt, in: $in) { runtimeID } }";
/// What a runtime's agent asks for (GOALS.md P3). The page sizes are variables so the
/// statement-count check can ask for pages of one; the measurement uses the defaults (100).
const APPS_FOR_RUNTIME: &str = "query($rt: ID!, $apps: Int, $items: Int) { \
    applicationsForRuntime(runtimeID: $rt, first: $apps) { totalCount data { id name labels \
    apiDefinitions(first: $items) { data { id name targetURL spec { data format type } \
    auth(runtimeID: $rt) { auth { credential { ... on BasicCredentialData { username password } } } } } } \
    eventDefinitions(first: $items) { data { id name spec { data format type } } } } } }";

/// API and event definitions of every registered application.
const APIS_PER_APP: usize = 10;
const EVENTS_PER_APP: usize = 10;
/// The applications the P3 target runtime sees, in the scenario only it and they have.
const P3_APPS: usize = 5;
const P3_SCENARIO: &str = "BENCH";
/// Page sizes of the P3 query: Compass's defaults, as an agent sends it.
const P3_APPS_PAGE: usize = 100;
const P3_ITEMS_PAGE: usize = 100;
/// The enum of the `scenarios` label definition the bench sets up before registering.
const SCENARIOS: [&str; 8] = [
    "DEFAULT",
    P3_SCENARIO,
    "ALPHA",
    "BETA",
    "GAMMA",
    "DELTA",
    writes::WRITES_SCENARIO,
    writes::SPARE_SCENARIO,
];
/// The pattern of the default `scenarios` schema (the meta-schema demands this one).
const SCENARIO_PATTERN: &str = r"^[A-Za-z0-9]([-_A-Za-z0-9\s]*[A-Za-z0-9])$";
/// The goals (GOALS.md) the summary compares with.
const P6_GOAL_PER_S: f64 = 300.0;
const P3_GOAL_PER_CORE: f64 = 3_000.0;
const P3_GOAL_P99: Duration = Duration::from_millis(20);
/// The P3 target runtime's credentials for every API it sees (the decoy's differ).
const TARGET_USER: &str = "bench-target";
const TARGET_PASSWORD: &str = "target-secret";

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
        // No test or benchmark reaches beyond loopback, not even with a DNS lookup.
        fetch_allow_hosts: Some(sextant_server::HostAllowList::loopback()),
        token_lifetimes: sextant_server::TokenLifetimes::default(),
        certificate_validity: sextant_server::DEFAULT_CERTIFICATE_VALIDITY,
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
    phase: PhaseArg,
    apps: usize,
    reads: usize,
    concurrency: usize,
    prod_every: usize,
    /// Applications registered one at a time after the reads (unloaded write latency).
    serial_apps: usize,
    /// Runtimes in the store for P3, the target and the decoy runtime included.
    runtimes: usize,
    /// Runtimes per seeding request.
    batch: usize,
    /// Length of each P3 measurement.
    duration: Duration,
    /// The write phase: applications in its scenario, requests per measurement, batches.
    write_apps: usize,
    write_samples: usize,
    write_batches: usize,
}

impl Config {
    fn from_args(args: &Args) -> Result<Config> {
        let apps = args.apps.unwrap_or(if args.quick { 500 } else { 10_000 });
        let reads = args.reads.unwrap_or(if args.quick { 200 } else { 2_000 });
        let runtimes = args
            .runtimes
            .unwrap_or(if args.quick { 500 } else { 10_000 });
        let duration = args.duration.unwrap_or(if args.quick { 3 } else { 15 });
        ensure!(apps >= 1, "--apps must be at least 1");
        ensure!(reads >= 1, "--reads must be at least 1");
        ensure!(args.concurrency >= 1, "--concurrency must be at least 1");
        ensure!(args.prod_every >= 1, "--prod-every must be at least 1");
        ensure!(
            runtimes >= 2,
            "--runtimes must be at least 2 (the target and a decoy)"
        );
        ensure!(
            (1..=200).contains(&args.batch),
            "--batch must be between 1 and 200"
        );
        ensure!(duration >= 1, "--duration must be at least 1 second");
        let write_apps = args
            .write_apps
            .unwrap_or(if args.quick { 500 } else { 10_000 });
        let write_samples = args
            .write_samples
            .unwrap_or(if args.quick { 10 } else { 20 });
        let write_batches = args.write_batches.unwrap_or(if args.quick { 2 } else { 3 });
        ensure!(
            write_apps >= 1 && write_samples >= 1 && write_batches >= 1,
            "--write-apps, --write-samples and --write-batches must be at least 1"
        );
        Ok(Config {
            phase: args.phase,
            apps,
            reads,
            concurrency: args.concurrency,
            prod_every: args.prod_every,
            serial_apps: (apps / 10).clamp(1, 200),
            runtimes,
            batch: args.batch,
            duration: Duration::from_secs(duration),
            write_apps,
            write_samples,
            write_batches,
        })
    }

    fn prod_count(&self) -> usize {
        self.apps.div_ceil(self.prod_every)
    }

    /// Whether `phase` runs.
    fn runs(&self, phase: PhaseArg) -> bool {
        self.phase == PhaseArg::All || self.phase == phase
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
        self.call_within(query, variables, REQUEST_TIMEOUT).await
    }

    /// [`Gql::call`] giving up after `timeout`.
    async fn call_within(&self, query: &str, variables: Value, timeout: Duration) -> Result<Value> {
        let response = self
            .client
            .post(&*self.url)
            .timeout(timeout)
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
    /// Figures against the goals, printed last.
    summary: Vec<String>,
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
        if !self.summary.is_empty() {
            out.push_str("\nsummary against GOALS.md (one run; see the machine line above):\n");
            for line in &self.summary {
                let _ = writeln!(out, "  {line}");
            }
        }
        out
    }

    /// The first row of `phase` at `concurrency`.
    fn row(&self, phase: &str, concurrency: usize) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| r.phase == phase && r.concurrency == concurrency)
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

/// How long a measurement runs.
#[derive(Clone, Copy, Debug)]
enum Limit {
    /// This many requests.
    Count(usize),
    /// Requests are started until this long has passed.
    For(Duration),
}

/// Runs requests (`f(0)`, `f(1)`, ...) with `concurrency` in flight until `limit`, and measures
/// latencies, wall time, SQL statements and process CPU. The first error stops the run.
async fn measure<F, Fut>(
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

/// The OpenAPI 3.0 specs (YAML, about 1.2 KB each) of the `APIS_PER_APP` APIs of an application.
static OPENAPI_SPECS: LazyLock<Vec<String>> =
    LazyLock::new(|| (0..APIS_PER_APP).map(openapi_spec).collect());
/// The AsyncAPI 2.0 specs (YAML) of the `EVENTS_PER_APP` events of an application.
static ASYNCAPI_SPECS: LazyLock<Vec<String>> =
    LazyLock::new(|| (0..EVENTS_PER_APP).map(asyncapi_spec).collect());

fn openapi_spec(j: usize) -> String {
    let mut spec = format!(
        "openapi: \"3.0.0\"\n\
         info:\n  title: Bench API {j}\n  version: \"1.{j}.0\"\n  \
         description: An API registered by sextant-bench.\n\
         servers:\n  - url: https://api-{j}.bench.example.com/v1\n\
         paths:\n"
    );
    for resource in ["orders", "customers"] {
        let _ = write!(
            spec,
            "  /{resource}:\n    get:\n      operationId: list-{resource}-{j}\n      \
             summary: Lists {resource}\n      parameters:\n        - name: limit\n          \
             in: query\n          schema:\n            type: integer\n      responses:\n        \
             \"200\":\n          description: A page of {resource}\n  \
             /{resource}/{{id}}:\n    get:\n      operationId: get-{resource}-{j}\n      \
             parameters:\n        - name: id\n          in: path\n          required: true\n          \
             schema:\n            type: string\n      responses:\n        \"200\":\n          \
             description: One of the {resource}\n"
        );
    }
    spec
}

fn asyncapi_spec(j: usize) -> String {
    format!(
        "asyncapi: \"2.0.0\"\n\
         info:\n  title: Bench events {j}\n  version: \"1.0.0\"\n\
         channels:\n  bench/order-{j}/v1:\n    subscribe:\n      message:\n        \
         name: order-{j}\n        payload:\n          type: object\n          properties:\n            \
         id:\n              type: string\n            amount:\n              type: number\n"
    )
}

/// The scenarios of the `i`-th registered application: never the P3 scenario.
fn app_scenarios(i: usize) -> Value {
    match i % 4 {
        0 => json!(["DEFAULT"]),
        1 => json!(["ALPHA"]),
        2 => json!(["BETA"]),
        _ => json!(["DEFAULT", "GAMMA"]),
    }
}

/// A registration: a description, three labels, `APIS_PER_APP` APIs (OpenAPI YAML, the first
/// with basic `defaultAuth`) and `EVENTS_PER_APP` events (AsyncAPI YAML).
fn app_input(i: usize, prefix: &str, prod_every: usize, scenarios: Value) -> Value {
    let env = if i.is_multiple_of(prod_every) {
        "prod"
    } else if i.is_multiple_of(2) {
        "dev"
    } else {
        "staging"
    };
    let apis: Vec<Value> = OPENAPI_SPECS
        .iter()
        .enumerate()
        .map(|(j, spec)| {
            let mut api = json!({
                "name": format!("api-{j}"),
                "description": format!("API {j} of {prefix}-{i:06}"),
                "targetURL": format!("https://{prefix}-{i:06}.bench.example.com/api/{j}"),
                "spec": {"data": spec, "type": "OPEN_API", "format": "YAML"},
            });
            if j == 0 {
                api["defaultAuth"] =
                    json!({"credential": {"basic": {"username": "default", "password": "default-secret"}}});
            }
            api
        })
        .collect();
    let events: Vec<Value> = ASYNCAPI_SPECS
        .iter()
        .enumerate()
        .map(|(j, spec)| {
            json!({
                "name": format!("event-{j}"),
                "spec": {"data": spec, "type": "ASYNC_API", "format": "YAML"},
            })
        })
        .collect();
    json!({"in": {
        "name": format!("{prefix}-{i:06}"),
        "providerName": "acme",
        "description": format!("Benchmark application {i}, registered by sextant-bench"),
        "labels": {"scenarios": scenarios, "env": env, "team": (i % 97) as u64},
        "apiDefinitions": apis,
        "eventDefinitions": events,
    }})
}

/// The scenarios of the `k`-th seeded runtime: never the P3 scenario.
fn runtime_input(k: usize) -> Value {
    let scenarios = match k % 4 {
        0 => json!(["DEFAULT"]),
        1 => json!(["ALPHA"]),
        2 => json!(["BETA", "GAMMA"]),
        _ => json!(["DELTA"]),
    };
    let region = ["eu", "us", "ap"][k % 3];
    json!({
        "name": format!("bench-rt-{k:06}"),
        "description": format!("Benchmark runtime {k}"),
        "labels": {"scenarios": scenarios, "region": region},
    })
}

/// One request registering runtimes `from..to` (aliased mutation fields, run in turn, each
/// in its own transaction).
fn runtime_batch(from: usize, to: usize) -> (String, Value) {
    let mut params = Vec::new();
    let mut fields = String::new();
    let mut vars = serde_json::Map::new();
    for k in from..to {
        params.push(format!("$r{k}: RuntimeInput!"));
        let _ = write!(fields, " r{k}: registerRuntime(in: $r{k}) {{ id }}");
        vars.insert(format!("r{k}"), runtime_input(k));
    }
    (
        format!("mutation({}) {{{fields} }}", params.join(", ")),
        Value::Object(vars),
    )
}

fn basic_auth(username: &str, password: &str) -> Value {
    json!({"credential": {"basic": {"username": username, "password": password}}})
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
async fn statements_of(gql: &Gql, statements: &Counter, query: &str, vars: Value) -> Result<u64> {
    let before = statements();
    gql.call(query, vars).await?;
    Ok(statements() - before)
}

/// One read measurement: its name in the report, its query, and how long it runs.
struct Read<'a> {
    name: &'a str,
    query: &'static str,
    limit: Limit,
}

/// A read measurement at concurrency 1 and at `c`, after a warm-up that opens `c` connections.
async fn reads(
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

async fn bench(config: &Config, gql: &Gql, statements: &Counter) -> Result<Report> {
    let mut report = Report::default();
    let c = config.concurrency;

    // --- the scenarios the registrations and runtimes use ---
    define_scenarios(gql).await?;

    // --- registration (P6; also the store's seed for the other phases) ---
    eprintln!(
        "registering {} applications ({APIS_PER_APP} APIs + {EVENTS_PER_APP} events each) with {c} in flight ...",
        config.apps
    );
    let (g, prod_every) = (gql.clone(), config.prod_every);
    let row = measure(
        "registerApplication",
        c,
        Limit::Count(config.apps),
        statements,
        move |i| {
            let g = g.clone();
            async move {
                let data = g
                    .call(
                        REGISTER,
                        app_input(i, "bench-app", prod_every, app_scenarios(i)),
                    )
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
    let request_bytes = app_input(0, "bench-app", prod_every, app_scenarios(0))
        .to_string()
        .len();
    report.notes.push(format!(
        "registration: {} applications ({APIS_PER_APP} APIs with a {} B OpenAPI YAML spec each, one with basic defaultAuth; \
         {EVENTS_PER_APP} events with a {} B AsyncAPI YAML spec each; 3 labels + description; {:.1} KB of JSON variables per request) \
         in {:.1} s = {:.0}/s overall, {:.2} SQL statements per registration",
        row.count(),
        OPENAPI_SPECS[0].len(),
        ASYNCAPI_SPECS[0].len(),
        request_bytes as f64 / 1024.0,
        row.wall.as_secs_f64(),
        row.rate(),
        row.statements as f64 / row.count() as f64,
    ));
    report.rows.push(row);
    check_catalog(gql, config.apps).await?;

    if config.runs(PhaseArg::Lists) {
        lists(&mut report, config, gql, statements).await?;
    }
    if config.runs(PhaseArg::P3) {
        p3(&mut report, config, gql, statements).await?;
    }

    // --- unloaded write latency ---
    if config.runs(PhaseArg::P6) {
        eprintln!(
            "registering {} more applications one at a time ...",
            config.serial_apps
        );
        let (g, prod_every) = (gql.clone(), config.prod_every);
        let row = measure(
            "registerApplication",
            1,
            Limit::Count(config.serial_apps),
            statements,
            move |i| {
                let g = g.clone();
                async move {
                    g.call(
                        REGISTER,
                        app_input(i, "bench-serial", prod_every, app_scenarios(i)),
                    )
                    .await
                    .map(drop)
                }
            },
        )
        .await?;
        report.rows.push(row);
    }
    // Last: its webhooks keep the notifier delivering in the background.
    if config.runs(PhaseArg::Writes) {
        writes::writes(&mut report, config, gql, statements).await?;
    }
    report.notes.push(
        "stmt/req: exact per-request range at conc 1, average otherwise (BEGIN/COMMIT not counted); \
         cpu ms/req: this whole process (client and server), not PostgreSQL's"
            .into(),
    );
    summarize(&mut report, config);
    Ok(report)
}

/// Sets the `scenarios` label definition's enum to [`SCENARIOS`] (creating it if the tenant
/// has none yet).
async fn define_scenarios(gql: &Gql) -> Result<()> {
    let schema = json!({
        "type": "array",
        "minItems": 1,
        "uniqueItems": true,
        "items": {
            "type": "string",
            "pattern": SCENARIO_PATTERN,
            "enum": SCENARIOS,
            "maxLength": 128
        }
    })
    .to_string();
    let existing = gql.call(SCENARIOS_DEFINITION, json!({})).await?;
    let mutation = if existing["labelDefinition"].is_null() {
        CREATE_LABEL_DEFINITION
    } else {
        UPDATE_LABEL_DEFINITION
    };
    gql.call(
        mutation,
        json!({"in": {"key": "scenarios", "schema": schema}}),
    )
    .await
    .context("defining the scenarios")?;
    Ok(())
}

/// Checks that the first registered applications have their APIs and events.
async fn check_catalog(gql: &Gql, apps: usize) -> Result<()> {
    let first = apps.min(5);
    let data = gql.call(CATALOG_COUNTS, json!({"first": first})).await?;
    let items = data["applications"]["data"]
        .as_array()
        .ok_or_else(|| anyhow!("applications.data is not a list: {data}"))?;
    ensure!(
        items.len() == first,
        "expected {first} applications: {data}"
    );
    for app in items {
        let apis = &app["apiDefinitions"];
        ensure!(
            apis["totalCount"] == APIS_PER_APP
                && app["eventDefinitions"]["totalCount"] == EVENTS_PER_APP,
            "application {} has {} APIs and {} events, expected {APIS_PER_APP} and {EVENTS_PER_APP}",
            app["id"],
            apis["totalCount"],
            app["eventDefinitions"]["totalCount"]
        );
        let with_default_auth = apis["data"].as_array().map_or(0, |l| {
            l.iter()
                .filter(|a| a["defaultAuth"]["credential"]["username"] == "default")
                .count()
        });
        ensure!(
            with_default_auth == 1,
            "application {} has {with_default_auth} APIs with the basic defaultAuth, expected 1",
            app["id"]
        );
    }
    Ok(())
}

/// The application list reads: a walk of every page (a check and a figure), the `env=prod`
/// filter, the page-size statement check, and the read measurements.
async fn lists(
    report: &mut Report,
    config: &Config,
    gql: &Gql,
    statements: &Counter,
) -> Result<()> {
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
        let one = statements_of(
            gql,
            statements,
            APPLICATIONS,
            applications_vars(1, None, filter),
        )
        .await?;
        let full = statements_of(
            gql,
            statements,
            APPLICATIONS,
            applications_vars(PAGE, None, filter),
        )
        .await?;
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
        report,
        config,
        gql,
        statements,
        Read {
            name: "{ __typename } (baseline)",
            query: TYPENAME,
            limit: Limit::Count(config.reads),
        },
        |_| json!({}),
    )
    .await?;
    reads(
        report,
        config,
        gql,
        statements,
        Read {
            name: "applications(first:100)",
            query: APPLICATIONS,
            limit: Limit::Count(config.reads),
        },
        |_| applications_vars(PAGE, None, None),
    )
    .await?;
    let f = filter.clone();
    reads(
        report,
        config,
        gql,
        statements,
        Read {
            name: "applications env=prod",
            query: APPLICATIONS,
            limit: Limit::Count(config.reads),
        },
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
            report,
            config,
            gql,
            statements,
            Read {
                name: "applications deep page",
                query: APPLICATIONS,
                limit: Limit::Count(config.reads),
            },
            move |i| applications_vars(PAGE, Some(&deep[i % deep.len()]), None),
        )
        .await?;
    }

    Ok(())
}

/// Registers one runtime; answers its id.
async fn register_runtime(gql: &Gql, name: &str, labels: Value) -> Result<String> {
    let data = gql
        .call(
            REGISTER_RUNTIME,
            json!({"in": {"name": name, "labels": labels}}),
        )
        .await?;
    data["registerRuntime"]["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("registerRuntime returned no id: {data}"))
}

fn p3_vars(runtime: &str, apps: usize, items: usize) -> Value {
    json!({"rt": runtime, "apps": apps, "items": items})
}

/// GOALS.md P3: seeds the runtimes, the target runtime's applications and its credentials,
/// checks what the target runtime sees, then measures `applicationsForRuntime`.
async fn p3(report: &mut Report, config: &Config, gql: &Gql, statements: &Counter) -> Result<()> {
    let c = config.concurrency;

    // --- runtimes: the target (alone in its scenario), a decoy, and the rest ---
    eprintln!(
        "P3: seeding {} runtimes ({} per request, {c} in flight) ...",
        config.runtimes, config.batch
    );
    let target = register_runtime(
        gql,
        "bench-target",
        json!({"scenarios": [P3_SCENARIO], "region": "eu"}),
    )
    .await?;
    let decoy = register_runtime(
        gql,
        "bench-decoy",
        json!({"scenarios": ["DEFAULT"], "region": "eu"}),
    )
    .await?;
    let others = config.runtimes - 2;
    if others > 0 {
        let (g, batch) = (gql.clone(), config.batch);
        let row = measure(
            format!("seed: registerRuntime x{batch}"),
            c,
            Limit::Count(others.div_ceil(batch)),
            statements,
            move |b| {
                let g = g.clone();
                async move {
                    let (from, to) = (b * batch, ((b + 1) * batch).min(others));
                    let (document, vars) = runtime_batch(from, to);
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
        .await?;
        report.notes.push(format!(
            "P3 seed: {} runtimes in {:.1} s = {:.0} runtimes/s ({} per request, {c} requests in flight; \
             scenarios DEFAULT, ALPHA, BETA+GAMMA or DELTA), plus the target (BENCH) and a decoy (DEFAULT)",
            others,
            row.wall.as_secs_f64(),
            others as f64 / row.wall.as_secs_f64(),
            config.batch
        ));
        report.rows.push(row);
    }
    let data = gql.call(RUNTIME_COUNT, json!({})).await?;
    ensure!(
        data["runtimes"]["totalCount"] == config.runtimes,
        "the store holds {} runtimes, expected {}",
        data["runtimes"]["totalCount"],
        config.runtimes
    );

    // --- the target's applications, and credentials for the target and the decoy ---
    let mut app_ids = HashSet::new();
    let mut api_ids = Vec::new();
    for k in 0..P3_APPS {
        let data = gql
            .call(
                REGISTER_CATALOG,
                app_input(k, "bench-p3", config.prod_every, json!([P3_SCENARIO])),
            )
            .await?;
        let app = &data["registerApplication"];
        let apis = app["apiDefinitions"]["data"]
            .as_array()
            .ok_or_else(|| anyhow!("registerApplication answered no APIs: {data}"))?;
        ensure!(
            apis.len() == APIS_PER_APP && app["eventDefinitions"]["totalCount"] == EVENTS_PER_APP,
            "registerApplication made {} APIs and {} events",
            apis.len(),
            app["eventDefinitions"]["totalCount"]
        );
        app_ids.insert(
            app["id"]
                .as_str()
                .ok_or_else(|| anyhow!("no id: {app}"))?
                .to_owned(),
        );
        for api in apis {
            api_ids.push(
                api["id"]
                    .as_str()
                    .ok_or_else(|| anyhow!("no API id: {api}"))?
                    .to_owned(),
            );
        }
    }
    let api_ids = Arc::new(api_ids);
    let (g, ids, t, d) = (gql.clone(), api_ids.clone(), target.clone(), decoy.clone());
    let row = measure(
        "seed: setAPIAuth",
        c,
        Limit::Count(2 * api_ids.len()),
        statements,
        move |i| {
            let g = g.clone();
            let api = ids[i / 2].clone();
            let (runtime, auth) = if i.is_multiple_of(2) {
                (t.clone(), basic_auth(TARGET_USER, TARGET_PASSWORD))
            } else {
                (d.clone(), basic_auth("bench-decoy", "decoy-secret"))
            };
            async move {
                g.call(SET_API_AUTH, json!({"api": api, "rt": runtime, "in": auth}))
                    .await
                    .map(drop)
            }
        },
    )
    .await?;
    report.rows.push(row);

    // --- what the target sees, and what it costs ---
    let full = p3_vars(&target, P3_APPS_PAGE, P3_ITEMS_PAGE);
    let before = statements();
    let data = gql.call(APPS_FOR_RUNTIME, full.clone()).await?;
    let per_request = statements() - before;
    check_p3(&data, &app_ids, &api_ids)?;
    let response_bytes = json!({ "data": data }).to_string().len();
    let minimal = statements_of(gql, statements, APPS_FOR_RUNTIME, p3_vars(&target, 1, 1)).await?;
    if minimal != per_request {
        report.failures.push(format!(
            "applicationsForRuntime: {per_request} statements for the full answer, {minimal} for 1 application with 1 API and 1 event (N+1)"
        ));
    }
    report.notes.push(format!(
        "P3: the target runtime (scenarios [\"{P3_SCENARIO}\"]) sees {P3_APPS} applications x ({APIS_PER_APP} APIs with its own basic credentials + \
         {EVENTS_PER_APP} events), {:.1} KB of JSON per response, among {} applications and {} runtimes; page sizes apps:{P3_APPS_PAGE} items:{P3_ITEMS_PAGE}; \
         SQL statements per request: {per_request} (apps:1 items:1 -> {minimal})",
        response_bytes as f64 / 1024.0,
        config.apps + P3_APPS,
        config.runtimes,
    ));
    eprintln!(
        "P3: applicationsForRuntime, {} s per measurement ...",
        config.duration.as_secs()
    );
    reads(
        report,
        config,
        gql,
        statements,
        Read {
            name: "applicationsForRuntime",
            query: APPS_FOR_RUNTIME,
            limit: Limit::For(config.duration),
        },
        move |_| full.clone(),
    )
    .await?;
    Ok(())
}

/// Fails unless the answer holds exactly the target's applications, each with its APIs (with
/// specs and the target's own credentials) and its events.
fn check_p3(data: &Value, app_ids: &HashSet<String>, api_ids: &[String]) -> Result<()> {
    let page = &data["applicationsForRuntime"];
    let apps = page["data"]
        .as_array()
        .ok_or_else(|| anyhow!("applicationsForRuntime.data is not a list: {page}"))?;
    ensure!(
        page["totalCount"] == P3_APPS && apps.len() == P3_APPS,
        "the target runtime sees {} applications (totalCount {}), expected {P3_APPS}",
        apps.len(),
        page["totalCount"]
    );
    let api_ids: HashSet<&str> = api_ids.iter().map(String::as_str).collect();
    let mut seen_apis = 0;
    for app in apps {
        let id = app["id"].as_str().unwrap_or_default();
        ensure!(
            app_ids.contains(id),
            "the target runtime sees application {id}, not one of its own"
        );
        ensure!(
            app["labels"]["scenarios"] == json!([P3_SCENARIO]),
            "application {id} has scenarios {}",
            app["labels"]["scenarios"]
        );
        let apis = app["apiDefinitions"]["data"].as_array();
        let events = app["eventDefinitions"]["data"].as_array();
        ensure!(
            apis.map(Vec::len) == Some(APIS_PER_APP)
                && events.map(Vec::len) == Some(EVENTS_PER_APP),
            "application {id}: {} APIs and {} events, expected {APIS_PER_APP} and {EVENTS_PER_APP}",
            apis.map_or(0, Vec::len),
            events.map_or(0, Vec::len)
        );
        for api in apis.into_iter().flatten() {
            let credential = &api["auth"]["auth"]["credential"];
            ensure!(
                api_ids.contains(api["id"].as_str().unwrap_or_default())
                    && credential["username"] == TARGET_USER
                    && credential["password"] == TARGET_PASSWORD,
                "API {} of application {id} answers credentials {credential}, not the target runtime's",
                api["id"]
            );
            ensure!(
                api["targetURL"].is_string()
                    && api["spec"]["type"] == "OPEN_API"
                    && api["spec"]["format"] == "YAML"
                    && api["spec"]["data"]
                        .as_str()
                        .is_some_and(|d| d.starts_with("openapi:")),
                "API {} of application {id} lacks its target URL or spec: {api}",
                api["id"]
            );
            seen_apis += 1;
        }
        for event in events.into_iter().flatten() {
            ensure!(
                event["spec"]["type"] == "ASYNC_API"
                    && event["spec"]["data"]
                        .as_str()
                        .is_some_and(|d| d.starts_with("asyncapi:")),
                "event {} of application {id} lacks its spec: {event}",
                event["id"]
            );
        }
    }
    ensure!(
        seen_apis == api_ids.len(),
        "the target runtime sees {seen_apis} APIs, expected {}",
        api_ids.len()
    );
    Ok(())
}

/// The P6 and P3 figures against their goals.
fn summarize(report: &mut Report, config: &Config) {
    let c = config.concurrency;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    let mut summary = Vec::new();
    if let Some(row) = report.row("registerApplication", c) {
        summary.push(format!(
            "P6 registerApplication ({APIS_PER_APP} APIs + {EVENTS_PER_APP} events + 3 labels), c={c}: {:.0}/s, p50 {} ms, p99 {} ms \
             [goal >= {P6_GOAL_PER_S:.0}/s: {}]",
            row.rate(),
            ms(row.percentile(50.0)),
            ms(row.percentile(99.0)),
            verdict(row.rate() >= P6_GOAL_PER_S),
        ));
    }
    let phase = "applicationsForRuntime";
    if let Some(one) = report.row(phase, 1) {
        let stmts = one.statements_cell();
        summary.push(format!(
            "P3 {phase} ({P3_APPS} apps x {APIS_PER_APP} APIs + {EVENTS_PER_APP} events; {} apps, {} runtimes), c=1: {:.0} req/s, p50 {} ms, p99 {} ms \
             [p99 <= {} ms: {}]; {stmts} SQL statements/request",
            config.apps + P3_APPS,
            config.runtimes,
            one.rate(),
            ms(one.percentile(50.0)),
            ms(one.percentile(99.0)),
            P3_GOAL_P99.as_millis(),
            verdict(one.percentile(99.0) <= P3_GOAL_P99),
        ));
        if let Some(many) = report.row(phase, c).filter(|_| c > 1) {
            let per_core = many.rate() / cores as f64;
            summary.push(format!(
                "P3 {phase}, c={c}: {:.0} req/s = {per_core:.0} per core ({cores} cores, client included), p50 {} ms, p99 {} ms \
                 [>= {P3_GOAL_PER_CORE:.0} req/s per core: {}; p99 <= {} ms: {}]",
                many.rate(),
                ms(many.percentile(50.0)),
                ms(many.percentile(99.0)),
                verdict(per_core >= P3_GOAL_PER_CORE),
                P3_GOAL_P99.as_millis(),
                verdict(many.percentile(99.0) <= P3_GOAL_P99),
            ));
        }
    }
    summary.extend(writes::summary(report));
    report.summary = summary;
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
            "run: backend {:?}, phase {:?}, {} apps (every {}th env=prod), {} runtimes for P3, {} reads per list measurement, {} s per P3 measurement, concurrency {}, client and server in one process on loopback",
            args.backend,
            config.phase,
            config.apps,
            config.prod_every,
            config.runtimes,
            config.reads,
            config.duration.as_secs(),
            config.concurrency
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
