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
mod console;
mod filtered;
mod gql;
mod inputs;
mod lists;
mod measure;
mod p3;
mod run;
mod writes;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail, ensure};
use clap::{Parser, ValueEnum};
use sextant_bench::BackendArg;
use sextant_test_support::{Backend, TestDatabase};

use gql::Gql;
use measure::{Counter, Report, ms};
use run::bench;
use writes::writes;

/// What runs after the registrations (which every phase starts with: they are P6's figure and
/// the store's seed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum PhaseArg {
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
    /// The runtime and application lists, unfiltered and filtered by a label and by a
    /// scenario, over --list-runtimes runtimes (GOALS.md P9). Not part of `all`: it seeds
    /// 100,000 runtimes of its own.
    Filtered,
}

/// Benchmarks the Director: application registrations and application reads over HTTPS.
#[derive(Parser, Debug)]
#[command(name = "sextant-bench")]
pub(crate) struct Args {
    /// The store: SQLite in a fresh temporary directory, or a fresh PostgreSQL database
    /// on the server named by SEXTANT_TEST_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres).
    #[arg(long, value_enum, default_value = "sqlite")]
    pub(crate) backend: BackendArg,
    /// What to run after registering the applications.
    #[arg(long, value_enum, default_value = "all")]
    pub(crate) phase: PhaseArg,
    /// Applications to register, each with 10 APIs and 10 events [default: 10000; 500 with --quick].
    #[arg(long)]
    pub(crate) apps: Option<usize>,
    /// Runtimes in the store for P3, the target runtime included [default: 10000; 500 with --quick].
    #[arg(long)]
    pub(crate) runtimes: Option<usize>,
    /// Runtimes registered per request when seeding them (aliased `registerRuntime` fields).
    #[arg(long, default_value_t = 25)]
    pub(crate) batch: usize,
    /// Seconds per P3 measurement (at concurrency 1, then at --concurrency) [default: 15; 3 with --quick].
    #[arg(long)]
    pub(crate) duration: Option<u64>,
    /// In-flight requests of the concurrent phases.
    #[arg(long, default_value_t = 16)]
    pub(crate) concurrency: usize,
    /// Requests per read measurement [default: 2000; 200 with --quick].
    #[arg(long)]
    pub(crate) reads: Option<usize>,
    /// Every n-th application gets the label env="prod" (the filtered query's matches).
    #[arg(long, default_value_t = 10)]
    pub(crate) prod_every: usize,
    /// Applications in the write phase's scenario, every second one with a webhook [default: 10000; 500 with --quick].
    #[arg(long)]
    pub(crate) write_apps: Option<usize>,
    /// Requests per write measurement (single registrations; moves are twice as many) [default: 20; 10 with --quick].
    #[arg(long)]
    pub(crate) write_samples: Option<usize>,
    /// Requests of 25 aliased registrations in the write phase [default: 3; 2 with --quick].
    #[arg(long)]
    pub(crate) write_batches: Option<usize>,
    /// Runtimes the filtered phase seeds (env one of five values, scenarios) [default: 100000; 2000 with --quick].
    #[arg(long)]
    pub(crate) list_runtimes: Option<usize>,
    /// A smoke run: 500 applications, 500 runtimes, 200 reads per list measurement, 3 s per P3 one.
    #[arg(long)]
    pub(crate) quick: bool,
    /// Give up (exit non-zero) when the measurements take longer than this many seconds.
    #[arg(long, default_value_t = 1200)]
    pub(crate) time_limit: u64,
}

/// Every client request gives up after this long.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Page size of every read (the Director's maximum).
pub(crate) const PAGE: usize = 100;

pub(crate) const REGISTER: &str =
    "mutation($in: ApplicationRegisterInput!) { registerApplication(in: $in) { id } }";
pub(crate) const APPLICATIONS: &str = "query($first: Int, $after: PageCursor, $filter: [LabelFilter!]) { \
    applications(first: $first, after: $after, filter: $filter) { \
    data { id name providerName description labels status { condition } } \
    totalCount pageInfo { hasNextPage endCursor } } }";
pub(crate) const TYPENAME: &str = "{ __typename }";
/// A registration that answers what it created (the P3 applications: their API ids).
pub(crate) const REGISTER_CATALOG: &str = "mutation($in: ApplicationRegisterInput!) { \
    registerApplication(in: $in) { id \
    apiDefinitions(first: 100) { totalCount data { id } } eventDefinitions(first: 100) { totalCount } } }";
/// The first applications with their catalog's counts (checks the registrations' payload).
pub(crate) const CATALOG_COUNTS: &str = "query($first: Int) { applications(first: $first) { \
    data { id apiDefinitions(first: 100) { totalCount data { defaultAuth { credential { \
    ... on BasicCredentialData { username } } } } } eventDefinitions(first: 100) { totalCount } } } }";
pub(crate) const SCENARIOS_DEFINITION: &str =
    "query { labelDefinition(key: \"scenarios\") { key schema } }";
pub(crate) const CREATE_LABEL_DEFINITION: &str =
    "mutation($in: LabelDefinitionInput!) { createLabelDefinition(in: $in) { key } }";
pub(crate) const UPDATE_LABEL_DEFINITION: &str =
    "mutation($in: LabelDefinitionInput!) { updateLabelDefinition(in: $in) { key } }";
pub(crate) const REGISTER_RUNTIME: &str =
    "mutation($in: RuntimeInput!) { registerRuntime(in: $in) { id } }";
pub(crate) const RUNTIME_COUNT: &str = "{ runtimes(first: 1) { totalCount } }";
pub(crate) const SET_API_AUTH: &str = "mutation($api: ID!, $rt: ID!, $in: AuthInput!) { \
    setAPIAuth(apiID: $api, runtimeID: $rt, in: $in) { runtimeID } }";
/// What a runtime's agent asks for (GOALS.md P3). The page sizes are variables so the
/// statement-count check can ask for pages of one; the measurement uses the defaults (100).
pub(crate) const APPS_FOR_RUNTIME: &str = "query($rt: ID!, $apps: Int, $items: Int) { \
    applicationsForRuntime(runtimeID: $rt, first: $apps) { totalCount data { id name labels \
    apiDefinitions(first: $items) { data { id name targetURL spec { data format type } \
    auth(runtimeID: $rt) { auth { credential { ... on BasicCredentialData { username password } } } } } } \
    eventDefinitions(first: $items) { data { id name spec { data format type } } } } } }";

/// [`APPS_FOR_RUNTIME`] with the applications' status, which configuration changes do not
/// cover: the answer is computed every time (the unchanged one is kept and answered from
/// memory).
pub(crate) const APPS_FOR_RUNTIME_AFRESH: &str = "query($rt: ID!, $apps: Int, $items: Int) { \
    applicationsForRuntime(runtimeID: $rt, first: $apps) { totalCount data { id name labels \
    status { condition } \
    apiDefinitions(first: $items) { data { id name targetURL spec { data format type } \
    auth(runtimeID: $rt) { auth { credential { ... on BasicCredentialData { username password } } } } } } \
    eventDefinitions(first: $items) { data { id name spec { data format type } } } } } }";

/// API and event definitions of every registered application.
pub(crate) const APIS_PER_APP: usize = 10;
pub(crate) const EVENTS_PER_APP: usize = 10;
/// The applications the P3 target runtime sees, in the scenario only it and they have.
pub(crate) const P3_APPS: usize = 5;
pub(crate) const P3_SCENARIO: &str = "BENCH";
/// Page sizes of the P3 query: Compass's defaults, as an agent sends it.
pub(crate) const P3_APPS_PAGE: usize = 100;
pub(crate) const P3_ITEMS_PAGE: usize = 100;
/// The enum of the `scenarios` label definition the bench sets up before registering.
pub(crate) const SCENARIOS: [&str; 8] = [
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
pub(crate) const SCENARIO_PATTERN: &str = r"^[A-Za-z0-9]([-_A-Za-z0-9\s]*[A-Za-z0-9])$";
/// The goals (GOALS.md) the summary compares with.
pub(crate) const P6_GOAL_PER_S: f64 = 300.0;
pub(crate) const P3_GOAL_PER_CORE: f64 = 3_000.0;
pub(crate) const P3_GOAL_P99: Duration = Duration::from_millis(20);
/// The P3 target runtime's credentials for every API it sees (the decoy's differ).
pub(crate) const TARGET_USER: &str = "bench-target";
pub(crate) const TARGET_PASSWORD: &str = "target-secret";

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let mut config = Config::from_args(&args)?;
    let command = std::env::args().collect::<Vec<_>>().join(" ");

    // The database first (dropped last: it outlives the server).
    let backend = args.backend.backend();
    let db = TestDatabase::create(backend).await;
    if backend == Backend::Postgres {
        config.postgres_url = Some(db.url.clone());
    }
    let data_dir = db.dir.join("data");
    config.data_dir = data_dir.clone();
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
pub(crate) struct Config {
    /// The PostgreSQL database the server uses (`None` on SQLite): phases that seed many
    /// rows analyse it afterwards, as autovacuum does in a server that has been running.
    pub(crate) postgres_url: Option<String>,
    /// The server's data directory (its CA; its SQLite database).
    pub(crate) data_dir: std::path::PathBuf,
    pub(crate) phase: PhaseArg,
    pub(crate) apps: usize,
    pub(crate) reads: usize,
    pub(crate) concurrency: usize,
    pub(crate) prod_every: usize,
    /// Applications registered one at a time after the reads (unloaded write latency).
    pub(crate) serial_apps: usize,
    /// Runtimes in the store for P3, the target and the decoy runtime included.
    pub(crate) runtimes: usize,
    /// Runtimes per seeding request.
    pub(crate) batch: usize,
    /// Length of each P3 measurement.
    pub(crate) duration: Duration,
    /// The write phase: applications in its scenario, requests per measurement, batches.
    pub(crate) write_apps: usize,
    pub(crate) write_samples: usize,
    pub(crate) write_batches: usize,
    /// The filtered phase's runtimes.
    pub(crate) list_runtimes: usize,
}

impl Config {
    pub(crate) fn from_args(args: &Args) -> Result<Config> {
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
        let list_runtimes = args
            .list_runtimes
            .unwrap_or(if args.quick { 2_000 } else { 100_000 });
        ensure!(list_runtimes >= 1, "--list-runtimes must be at least 1");
        Ok(Config {
            postgres_url: None,
            data_dir: std::path::PathBuf::new(),
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
            list_runtimes,
        })
    }

    pub(crate) fn prod_count(&self) -> usize {
        self.apps.div_ceil(self.prod_every)
    }

    /// Whether `phase` runs.
    pub(crate) fn runs(&self, phase: PhaseArg) -> bool {
        self.phase == PhaseArg::All || self.phase == phase
    }
}

/// The P6 and P3 figures against their goals.
pub(crate) fn summarize(report: &mut Report, config: &Config) {
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
    for phase in [
        "applicationsForRuntime (unchanged: the kept answer)",
        "applicationsForRuntime with status (computed every time)",
    ] {
        let Some(one) = report.row(phase, 1) else {
            continue;
        };
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
    summary.extend(filtered::summary(report, config));
    report.summary = summary;
}

pub(crate) fn machine_facts(args: &Args, config: &Config, command: &str) -> Vec<String> {
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

pub(crate) async fn postgres_facts(url: &str) -> Result<String> {
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
