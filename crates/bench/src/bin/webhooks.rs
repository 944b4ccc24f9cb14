//! GOALS.md P7: webhooks. A `sextant server` in a process of its own, a local webhook sink
//! (axum on 127.0.0.1, HTTP/1.1) that checks every request's HMAC signature against the
//! secret `addWebhook` showed and records, per event id, when it first arrived and how often.
//!
//! Events are produced the way real ones are: `--apps` applications in scenario DEFAULT,
//! each with one webhook to the sink; every runtime registered in DEFAULT queues one
//! `CONFIGURATION_CHANGED` per application (R registrations × A applications = events).
//!
//! - **Paced**: `--paced` registrations, one per request at `--paced-rate` per second: for
//!   each event, enqueue (the mutation's response) → first attempt at the sink, and the
//!   event's own `time` (taken in the server's transaction) → first attempt.
//! - **Burst**: `--burst-events` events queued as fast as the server takes them (25
//!   registrations per request, `--concurrency` requests in flight): deliveries per second
//!   from the first to the last first-arrival, the server's CPU (`/proc/<pid>/stat`) over that
//!   window, and the same latencies (now mostly queueing).
//! - **Check**: every expected (runtime, application) pair arrived with exactly one event id;
//!   ids seen more than once (duplicates) and pairs never seen (losses) are counted; the outbox
//!   rows (`webhook_deliveries`, read from the database) are counted by state and compared.
//! - **Kill** (`--kill`): `--kill-events` more events are queued; once a fifth of them
//!   arrived the server gets SIGKILL, is restarted on the same data directory, database and
//!   ports, and every acknowledged event must still arrive (duplicates allowed, counted).
//!
//! The run fails on a bad signature, a loss, a GraphQL or HTTP error, or the time limit.
//!
//! ```sh
//! cargo build --release -p sextant-bench -p sextant
//! target/release/sextant-bench-webhooks --backend sqlite --kill
//! ```

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use clap::Parser;
use reqwest::StatusCode as HttpStatus;
use serde_json::{Value, json};
use sextant_test_support::{Backend, TestDatabase};
use tokio::task::JoinSet;

#[derive(Clone, Copy, clap::ValueEnum)]
enum BackendArg {
    Sqlite,
    Postgres,
}

#[derive(Parser)]
#[command(
    about = "Webhook delivery: enqueue → first attempt, deliveries per second, loss after kill -9 (GOALS.md P7)"
)]
struct Args {
    #[arg(long, value_enum, default_value = "sqlite")]
    backend: BackendArg,
    /// Applications in DEFAULT, each with a webhook to the sink (events per registration).
    #[arg(long, default_value_t = 20)]
    apps: usize,
    /// Registrations of the paced phase (one per request).
    #[arg(long, default_value_t = 100)]
    paced: usize,
    /// Registrations per second in the paced phase (events/s = this × apps).
    #[arg(long, default_value_t = 5.0)]
    paced_rate: f64,
    /// Events of the burst (rounded up to whole registrations).
    #[arg(long, default_value_t = 20_000)]
    burst_events: usize,
    /// Registration requests (25 runtimes each) in flight during the burst.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Run the kill -9 phase.
    #[arg(long)]
    kill: bool,
    /// Events of the kill phase.
    #[arg(long, default_value_t = 5_000)]
    kill_events: usize,
    /// The server's --webhook-lease (how long a killed server's attempts wait to be retried).
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    lease: Duration,
    /// The sink holds every request this many milliseconds before answering.
    #[arg(long, default_value_t = 0)]
    sink_delay_ms: u64,
    /// The `sextant` binary (default: next to this one).
    #[arg(long)]
    sextant_bin: Option<PathBuf>,
    /// The whole run must end within this many seconds.
    #[arg(long, default_value_t = 600)]
    time_limit: u64,
}

/// Runtimes per registration request in the burst.
const PER_REQUEST: usize = 25;
/// How long a phase may go without a new arrival before its missing events count as lost.
const STALL: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------
// /proc, ports, processes

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

/// User + system CPU seconds of a process.
fn cpu_seconds(pid: u32, ticks: f64) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| anyhow!("bad /proc/{pid}/stat"))?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the command name: state is field 3, utime 14, stime 15.
    let utime: f64 = fields.get(11).ok_or_else(|| anyhow!("no utime"))?.parse()?;
    let stime: f64 = fields.get(12).ok_or_else(|| anyhow!("no stime"))?.parse()?;
    Ok((utime + stime) / ticks)
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A child process killed (SIGKILL) when dropped.
struct Spawned {
    child: Child,
    log: PathBuf,
}

impl Spawned {
    fn start(mut command: Command, log: PathBuf) -> Result<Spawned> {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)?;
        let err = out.try_clone()?;
        let child = command
            .env("SEXTANT_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("starting {command:?}"))?;
        Ok(Spawned { child, log })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Fails if the process has exited, with the end of its log.
    fn check_alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            let tail = lines[lines.len().saturating_sub(20)..].join("\n");
            bail!("process exited ({status}); log:\n{tail}");
        }
        Ok(())
    }

    /// SIGKILL and reap.
    fn kill9(&mut self) -> Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How to start the server, again and again on the same data and ports.
struct ServerSpec {
    sextant: PathBuf,
    data_dir: PathBuf,
    database_url: Option<String>,
    main_port: u16,
    mtls_port: u16,
    lease: Duration,
    log: PathBuf,
}

impl ServerSpec {
    /// Starts the server and waits until it is ready; retries while the ports of a killed
    /// predecessor are not free yet.
    async fn start(&self) -> Result<(Spawned, Admin)> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut command = Command::new(&self.sextant);
            command
                .arg("server")
                .arg("--fetch-allow-private")
                // No benchmark reaches beyond loopback, not even with a DNS lookup.
                .arg("--fetch-allow-hosts")
                .arg("localhost,127.0.0.1,::1")
                .arg("--webhook-lease")
                .arg(format!("{}ms", self.lease.as_millis()))
                .arg("--data-dir")
                .arg(&self.data_dir)
                .arg("--listen")
                .arg(format!("127.0.0.1:{}", self.main_port))
                .arg("--mtls-listen")
                .arg(format!("127.0.0.1:{}", self.mtls_port));
            if let Some(url) = &self.database_url {
                command.arg("--database-url").arg(url);
            }
            let mut server = Spawned::start(command, self.log.clone())?;
            match wait_ready(&mut server, &self.data_dir, self.main_port).await {
                Ok(admin) => return Ok((server, admin)),
                Err(e) if Instant::now() < deadline => {
                    println!("  the server did not start ({e:#}); again");
                    drop(server);
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Waits for the server: its admin token and CA, then `/readyz`.
async fn wait_ready(server: &mut Spawned, data_dir: &Path, port: u16) -> Result<Admin> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        server.check_alive().context("the server")?;
        ensure!(Instant::now() < deadline, "the server is not ready in 30 s");
        let (Ok(ca), Ok(token)) = (
            std::fs::read(data_dir.join("ca.crt")),
            std::fs::read_to_string(data_dir.join("admin-token")),
        ) else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        let http = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&ca)?])
            .timeout(Duration::from_secs(60))
            .build()?;
        let base = format!("https://localhost:{port}");
        let ready = http
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == HttpStatus::OK);
        if ready && !token.trim().is_empty() {
            return Ok(Admin {
                http,
                base,
                token: token.trim().to_owned(),
            });
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---------------------------------------------------------------------------------------
// The administrator's side

#[derive(Clone)]
struct Admin {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Admin {
    async fn director(&self, query: &str, vars: Value) -> Result<Value> {
        let response = self
            .http
            .post(format!("{}/director/graphql", self.base))
            .bearer_auth(&self.token)
            .json(&json!({"query": query, "variables": vars}))
            .send()
            .await?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .with_context(|| format!("director: HTTP {status}"))?;
        if let Some(errors) = body.get("errors") {
            bail!("director: {errors}");
        }
        Ok(body["data"].clone())
    }

    /// Registers runtimes `prefix-start..prefix-end` in DEFAULT in one request; answers their
    /// ids and the moment the response arrived (the events' enqueue time).
    async fn register_runtimes(
        &self,
        prefix: &str,
        start: usize,
        end: usize,
    ) -> Result<(Vec<String>, Instant)> {
        let mut query = String::from("mutation {");
        for i in start..end {
            query.push_str(&format!(
                " r{i}: registerRuntime(in: {{name: \"{prefix}-{i}\", labels: {{scenarios: [\"DEFAULT\"]}}}}) {{ id }}"
            ));
        }
        query.push_str(" }");
        let data = self.director(&query, json!({})).await?;
        let at = Instant::now();
        let mut ids = Vec::with_capacity(end - start);
        for i in start..end {
            ids.push(
                data[format!("r{i}")]["id"]
                    .as_str()
                    .ok_or_else(|| anyhow!("no runtime id"))?
                    .to_owned(),
            );
        }
        Ok((ids, at))
    }
}

// ---------------------------------------------------------------------------------------
// The sink

/// An event as the sink saw it.
struct Seen {
    app: String,
    runtime: String,
    first: Instant,
    /// First arrival (wall clock) − the event's `time`, ms.
    from_event_time_ms: f64,
    arrivals: u32,
}

#[derive(Default)]
struct SinkState {
    events: HashMap<String, Seen>,
    requests: u64,
    bad: Vec<String>,
}

struct Sink {
    /// Application id → its webhook's secret.
    secrets: Mutex<HashMap<String, String>>,
    state: Mutex<SinkState>,
    delay: Duration,
}

fn hmac_hex(secret: &str, message: &str) -> String {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes());
    aws_lc_rs::hmac::sign(&key, message.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Sink {
    fn lock_state(&self) -> std::sync::MutexGuard<'_, SinkState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Checks a request; answers the event's (id, application, runtime, time) or why not.
    fn check(&self, headers: &HeaderMap, body: &str) -> Result<(String, String, String, String)> {
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

    fn record(&self, headers: &HeaderMap, body: &str) -> StatusCode {
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
    fn seen_of(&self, runtimes: &HashSet<String>) -> usize {
        self.lock_state()
            .events
            .values()
            .filter(|s| runtimes.contains(&s.runtime))
            .count()
    }
}

async fn hook(State(sink): State<Arc<Sink>>, headers: HeaderMap, body: String) -> StatusCode {
    if !sink.delay.is_zero() {
        tokio::time::sleep(sink.delay).await;
    }
    sink.record(&headers, &body)
}

async fn start_sink(delay: Duration) -> Result<(Arc<Sink>, String)> {
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

// ---------------------------------------------------------------------------------------
// Phases

/// A phase's events: (runtime id, application id) → enqueue time.
struct Expected {
    enqueued: HashMap<String, Instant>,
    apps: Vec<String>,
}

impl Expected {
    fn count(&self) -> usize {
        self.enqueued.len() * self.apps.len()
    }
    fn runtimes(&self) -> HashSet<String> {
        self.enqueued.keys().cloned().collect()
    }
}

/// Waits until every expected event arrived, or nothing new arrived for [`STALL`].
async fn wait_all(sink: &Sink, expected: &Expected, within: Duration) -> Result<usize> {
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
struct Outcome {
    expected: usize,
    arrived: usize,
    lost: usize,
    duplicates: usize,
    extra_arrivals: u64,
    pairs_with_two_ids: usize,
    from_enqueue: Vec<f64>,
    from_event_time: Vec<f64>,
    first: Option<Instant>,
    last: Option<Instant>,
}

fn outcome(sink: &Sink, expected: &Expected) -> Outcome {
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
async fn burst(
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
async fn outbox(backend: Backend, data_dir: &Path, url: &str) -> Result<Vec<(String, i64, i64)>> {
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

// ---------------------------------------------------------------------------------------
// Figures

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

/// `a - b` in milliseconds, negative when `a` is earlier.
fn ms_between(a: Instant, b: Instant) -> f64 {
    if a >= b {
        a.duration_since(b).as_secs_f64() * 1e3
    } else {
        -(b.duration_since(a).as_secs_f64() * 1e3)
    }
}

fn stats(v: &[f64]) -> String {
    format!(
        "{:.0} / {:.0} / {:.0}",
        percentile(v, 50.0),
        percentile(v, 99.0),
        v.last().copied().unwrap_or(f64::NAN)
    )
}

struct Figures {
    rows: Vec<(String, String)>,
}

impl Figures {
    fn add(&mut self, what: impl Into<String>, value: impl Into<String>) {
        let (what, value) = (what.into(), value.into());
        println!("  {what}: {value}");
        self.rows.push((what, value));
    }

    /// The arrival figures every phase has.
    fn arrivals(&mut self, phase: &str, o: &Outcome) {
        self.add(
            format!("{phase}: events expected / arrived (distinct) / lost"),
            format!("{} / {} / {}", o.expected, o.arrived, o.lost),
        );
        self.add(
            format!(
                "{phase}: duplicates (ids seen twice or more) / extra arrivals / pairs with two ids"
            ),
            format!(
                "{} / {} / {}",
                o.duplicates, o.extra_arrivals, o.pairs_with_two_ids
            ),
        );
        self.add(
            format!("{phase}: enqueue (mutation response) → first attempt, p50 / p99 / max ms"),
            stats(&o.from_enqueue),
        );
        self.add(
            format!(
                "{phase}: event `time` (in the transaction) → first attempt, p50 / p99 / max ms"
            ),
            stats(&o.from_event_time),
        );
    }
}

fn host_description() -> String {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|k| k.trim().to_owned())
        .unwrap_or_default();
    format!("{cpus} CPUs ({model}), Linux {kernel}")
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(
        args.apps > 0 && args.paced > 0 && args.burst_events > 0 && args.paced_rate > 0.0,
        "nothing to do"
    );
    let limit = Duration::from_secs(args.time_limit);
    match tokio::time::timeout(limit, run(&args)).await {
        Ok(result) => result,
        Err(_) => bail!("time limit of {} s reached", args.time_limit),
    }
}

async fn run(args: &Args) -> Result<()> {
    let backend = match args.backend {
        BackendArg::Sqlite => Backend::Sqlite,
        BackendArg::Postgres => Backend::Postgres,
    };
    println!(
        "sextant-bench-webhooks {}",
        std::env::args().skip(1).collect::<Vec<_>>().join(" ")
    );
    println!(
        "{}; {} build; backend {}",
        host_description(),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        match backend {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    );
    let ticks = clock_ticks();
    let db = TestDatabase::create(backend).await;
    let sextant = match &args.sextant_bin {
        Some(path) => path.clone(),
        None => std::env::current_exe()?
            .parent()
            .ok_or_else(|| anyhow!("no directory of this binary"))?
            .join("sextant"),
    };
    ensure!(
        sextant.exists(),
        "{} not found: build it (cargo build --release -p sextant) or pass --sextant-bin",
        sextant.display()
    );
    let spec = ServerSpec {
        sextant,
        data_dir: db.dir.join("data"),
        database_url: match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(db.url.clone()),
        },
        main_port: free_port()?,
        mtls_port: free_port()?,
        lease: args.lease,
        log: db.dir.join("server.log"),
    };
    let (sink, sink_url) = start_sink(Duration::from_millis(args.sink_delay_ms)).await?;
    let (mut server, admin) = spec.start().await?;
    println!(
        "server pid {}, sink {sink_url}, lease {:?}",
        server.pid(),
        args.lease
    );
    let mut figures = Figures { rows: Vec::new() };

    // Setup: the applications and their webhooks.
    let mut apps = Vec::with_capacity(args.apps);
    for i in 0..args.apps {
        let app = admin
            .director(
                "mutation($in: ApplicationRegisterInput!) { registerApplication(in: $in) { id } }",
                json!({"in": {"name": format!("hooked-{i}"), "providerName": "bench", "labels": {"scenarios": ["DEFAULT"]}}}),
            )
            .await?["registerApplication"]["id"]
            .as_str()
            .ok_or_else(|| anyhow!("no application id"))?
            .to_owned();
        let hook = admin
            .director(
                "mutation($app: ID!, $in: WebhookInput!) { addWebhook(applicationID: $app, in: $in) { id secret } }",
                json!({"app": app, "in": {"type": "CONFIGURATION_CHANGED", "url": sink_url}}),
            )
            .await?;
        let secret = hook["addWebhook"]["secret"]
            .as_str()
            .ok_or_else(|| anyhow!("addWebhook showed no secret"))?
            .to_owned();
        sink.secrets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(app.clone(), secret);
        apps.push(app);
    }

    // Warm-up: one registration, every application hears of it.
    let (ids, at) = admin.register_runtimes("warm", 0, 1).await?;
    let warm = Expected {
        enqueued: ids.into_iter().map(|id| (id, at)).collect(),
        apps: apps.clone(),
    };
    let got = wait_all(&sink, &warm, Duration::from_secs(30)).await?;
    ensure!(
        got == warm.count(),
        "warm-up: {got} of {} events",
        warm.count()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;

    // ---- Paced.
    println!(
        "paced: {} registrations at {}/s × {} applications",
        args.paced, args.paced_rate, args.apps
    );
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / args.paced_rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut enqueued = HashMap::new();
    let mut mutation_ms = Vec::new();
    for i in 0..args.paced {
        ticker.tick().await;
        let sent = Instant::now();
        let (ids, at) = admin.register_runtimes("paced", i, i + 1).await?;
        mutation_ms.push(ms_between(at, sent));
        enqueued.extend(ids.into_iter().map(|id| (id, at)));
    }
    let paced = Expected {
        enqueued,
        apps: apps.clone(),
    };
    wait_all(&sink, &paced, Duration::from_secs(120)).await?;
    let o = outcome(&sink, &paced);
    figures.add(
        format!(
            "paced: {} registrations × {} apps at {:.0} events/s; registerRuntime round trip p50 / p99 ms",
            args.paced,
            args.apps,
            args.paced_rate * args.apps as f64
        ),
        {
            let m = sorted(mutation_ms);
            format!("{:.1} / {:.1}", percentile(&m, 50.0), percentile(&m, 99.0))
        },
    );
    figures.arrivals("paced", &o);
    let mut lost_total = o.lost;
    tokio::time::sleep(Duration::from_secs(1)).await;

    // ---- Burst.
    let registrations = args.burst_events.div_ceil(args.apps);
    println!(
        "burst: {registrations} registrations × {} applications = {} events",
        args.apps,
        registrations * args.apps
    );
    let cpu0 = cpu_seconds(server.pid(), ticks)?;
    let t0 = Instant::now();
    let enqueued = burst(&admin, "burst", registrations, args.concurrency).await?;
    let produced = t0.elapsed();
    let burst_set = Expected {
        enqueued,
        apps: apps.clone(),
    };
    wait_all(&sink, &burst_set, Duration::from_secs(300)).await?;
    let o = outcome(&sink, &burst_set);
    let done_at = o.last.unwrap_or(t0);
    let cpu = cpu_seconds(server.pid(), ticks)? - cpu0;
    let window = o
        .first
        .zip(o.last)
        .map_or(f64::NAN, |(f, l)| ms_between(l, f) / 1e3);
    let whole = ms_between(done_at, t0) / 1e3;
    figures.add(
        "burst: events queued in / rate (registerRuntime × 25 per request)",
        format!(
            "{:.2} s / {:.0} events/s",
            produced.as_secs_f64(),
            burst_set.count() as f64 / produced.as_secs_f64()
        ),
    );
    figures.add(
        "burst: deliveries/s, first → last first-attempt (window s)",
        format!("{:.0} ({window:.2} s)", o.arrived as f64 / window),
    );
    figures.add(
        "burst: deliveries/s, first mutation sent → last arrival (s)",
        format!("{:.0} ({whole:.2} s)", o.arrived as f64 / whole),
    );
    figures.add(
        "burst: server CPU, cores busy / ms per delivery (enqueue included)",
        format!(
            "{:.2} / {:.3}",
            cpu / whole,
            cpu * 1e3 / o.arrived.max(1) as f64
        ),
    );
    figures.arrivals("burst", &o);
    lost_total += o.lost;

    // ---- Check against the outbox.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rows = outbox(backend, &spec.data_dir, &db.url).await?;
    let warm_paced_burst = warm.count() + paced.count() + burst_set.count();
    let total_rows: i64 = rows.iter().map(|(_, n, _)| n).sum();
    figures.add(
        "outbox rows by state (rows / attempts) vs events queued",
        format!(
            "{} vs {warm_paced_burst}",
            rows.iter()
                .map(|(s, n, a)| format!("{s} {n} / {a}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    ensure!(
        total_rows == warm_paced_burst as i64,
        "{total_rows} outbox rows for {warm_paced_burst} events"
    );

    // ---- Kill -9.
    if args.kill {
        let registrations = args.kill_events.div_ceil(args.apps);
        println!(
            "kill: {registrations} registrations × {} applications = {} events",
            args.apps,
            registrations * args.apps
        );
        let enqueued = burst(&admin, "kill", registrations, args.concurrency).await?;
        let kill_set = Expected {
            enqueued,
            apps: apps.clone(),
        };
        let runtimes = kill_set.runtimes();
        let threshold = kill_set.count() / 5;
        let deadline = Instant::now() + Duration::from_secs(60);
        while sink.seen_of(&runtimes) < threshold {
            ensure!(
                Instant::now() < deadline,
                "the kill phase's events do not arrive"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let requests_before = sink.lock_state().requests;
        server.kill9()?;
        let killed_at = Instant::now();
        let seen_at_kill = sink.seen_of(&runtimes);
        // Requests in flight when the server died may still be answered by the sink.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let seen_after_kill = sink.seen_of(&runtimes);
        let in_flight = sink.lock_state().requests - requests_before;
        let (restarted, _admin) = spec.start().await?;
        server = restarted;
        let restart_in = killed_at.elapsed();
        println!(
            "  killed with {seen_at_kill} of {} arrived; restarted in {restart_in:.2?}",
            kill_set.count()
        );
        wait_all(&sink, &kill_set, Duration::from_secs(120) + args.lease).await?;
        let o = outcome(&sink, &kill_set);
        figures.add(
            "kill: arrived before SIGKILL / + in flight / of",
            format!(
                "{seen_at_kill} / {seen_after_kill} ({in_flight} requests in the 200 ms after) / {}",
                kill_set.count()
            ),
        );
        figures.add(
            "kill: restart ready in / last event arrived after the kill",
            format!(
                "{restart_in:.2?} / {:.1} s",
                o.last.map_or(f64::NAN, |l| ms_between(l, killed_at) / 1e3)
            ),
        );
        figures.add(
            "kill: events expected / arrived / lost",
            format!("{} / {} / {}", o.expected, o.arrived, o.lost),
        );
        figures.add(
            "kill: duplicates (ids seen twice or more) / extra arrivals",
            format!("{} / {}", o.duplicates, o.extra_arrivals),
        );
        lost_total += o.lost;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let rows = outbox(backend, &spec.data_dir, &db.url).await?;
        figures.add(
            "kill: outbox rows by state (rows / attempts)",
            rows.iter()
                .map(|(s, n, a)| format!("{s} {n} / {a}"))
                .collect::<Vec<_>>()
                .join(", "),
        );
    }

    let (bad, requests) = {
        let state = sink.lock_state();
        (state.bad.clone(), state.requests)
    };
    figures.add(
        "sink: requests / bad signatures",
        format!("{requests} / {}", bad.len()),
    );
    server.check_alive().context("the server")?;
    drop(server);

    println!();
    println!("| figure | value |");
    println!("|---|---:|");
    for (what, value) in &figures.rows {
        println!("| {what} | {value} |");
    }
    ensure!(
        bad.is_empty(),
        "bad requests at the sink: {:?}",
        &bad[..bad.len().min(5)]
    );
    ensure!(lost_total == 0, "{lost_total} events lost");
    drop(db);
    Ok(())
}
