//! GOALS.md P2, P4, P5, P8: the agent swarm against a `sextant server` in a process of its own
//! (so that its CPU time and memory are its own), over loopback.
//!
//! - **P2**: paired runtimes (`--clients`, default 64), each on its own mTLS keep-alive
//!   connection, send `GET /runtime/configuration` with the current `If-None-Match` in a
//!   tight loop for `--duration` seconds; every answer must be a 304. Requests per second,
//!   latency, the server's CPU (from `/proc/<pid>/stat`) and SQL statements (the server's
//!   `sextant_db_statements_total` on `/metrics`) during the run, against an idle window of
//!   the same length.
//! - **P4**: `--agents` simulated agents (default 1,000), one runtime each, all in the
//!   scenario of one application; each follows its configuration exactly as
//!   `sextant_agent`'s `follow.rs` does (long poll `?wait=30` with `If-None-Match`, parse the
//!   document, fetch every spec not in its own cache from `/runtime/specs/{sha256}` and check
//!   its hash) but writes nothing to disk and reports no status. Then `--rounds` changes
//!   (`addAPIDefinition` with a new spec, as the administrator): for each agent, the time
//!   from the mutation's response (the commit) and from its sending to the moment the agent
//!   had applied the new document, and, while the agents re-fetch, the administrator's
//!   writes (`setRuntimeStatus` of another runtime, every 25 ms) and `/healthz`. The agents
//!   ask for gzip, as the agent does. Then one change that is in no document
//!   (`setRuntimeStatus` of another runtime, as every real agent sends once configured): the
//!   server CPU and statements it costs with every agent's long poll held.
//! - **P5**: the server's VmRSS before the agents connect and with all of them holding long
//!   polls; one real `sextant agent` process, VmRSS after it applied its configuration and
//!   idled.
//! - **P8**: the server killed and started again with every agent connected; how long until
//!   every agent is served again, and with what (`restart.rs`).
//!
//! The run fails on any HTTP or agent error, an unchanged request not answered 304, a
//! statement on the 304 path, an agent that does not apply a change within 60 s or applies
//! a wrong document, a new document after a change outside it, or the time limit.
//!
//! `ulimit -n` must allow about `agents + clients + 100` descriptors in this process, and
//! about `agents + clients + 600` in the server (the shell's limit is inherited): the server
//! keeps a quarter of its limit (at most 512) for the database and outbound calls, and is
//! started with `--mtls-max-connections` (and, since all connections come from 127.0.0.1,
//! `--max-connections-per-peer`) above `agents + clients`; its main listener gets the rest.
//!
//! ```sh
//! cargo build --release -p sextant-bench -p sextant
//! target/release/sextant-bench-swarm --backend sqlite --agents 1000
//! ```
mod admin;
mod agent;
mod propagation;
mod restart;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, ensure};
use clap::Parser;
use reqwest::StatusCode;
use reqwest::header::{ETAG, IF_NONE_MATCH};
use serde_json::json;
use sextant_bench::BackendArg;
use sextant_domain::runtime_config::{CONFIGURATION_PATH, RuntimeConfiguration};
use sextant_test_support::{Backend, TestDatabase};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

use sextant_bench::figures::{Figures, p50_p99_max, sorted};
use sextant_bench::host::{CpuMeter, free_port, mib, rss_bytes};
use sextant_bench::spawned::{Spawned, sextant_binary};

use admin::{Admin, pair_all, wait_ready};
use agent::{Report, SimAgent, collect_round};

#[derive(Parser)]
#[command(
    about = "The agent swarm: 304s per second, propagation, footprint, restart (GOALS.md P2, P4, P5, P8)"
)]
struct Args {
    #[arg(long, value_enum, default_value = "sqlite")]
    backend: BackendArg,
    /// Simulated agents following their configuration (P4, P5).
    #[arg(long, default_value_t = 1000)]
    agents: usize,
    /// Runtimes sending unchanged-configuration requests in a loop (P2).
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Seconds of the P2 measurement (and of the idle window before it).
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Changes to propagate (P4).
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// The long poll's `wait` (seconds), as the agent's default.
    #[arg(long, default_value_t = 30)]
    wait: u64,
    /// Seconds the real agent idles before its RSS is read (P5).
    #[arg(long, default_value_t = 5)]
    agent_idle: u64,
    /// Pairings through the Connector at once during the setup.
    #[arg(long, default_value_t = 16)]
    pairing_concurrency: usize,
    /// The `sextant` binary (default: next to this one).
    #[arg(long)]
    sextant_bin: Option<PathBuf>,
    /// The whole run must end within this many seconds.
    #[arg(long, default_value_t = 900)]
    time_limit: u64,
}

/// Agents waiting for their first document at once.
const START_CONCURRENCY: usize = 64;
/// The real agent answers quickly-returned 304s no faster than this (follow.rs).
const MIN_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// How long after a change every agent must have applied it.
const PROPAGATION_DEADLINE: Duration = Duration::from_secs(60);

fn spec_yaml(i: usize) -> String {
    format!("openapi: 3.0.0\ninfo:\n  title: Swarm {i}\n  version: 1.0.{i}\npaths: {{}}\n")
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(
        args.agents > 0 && args.clients > 0 && args.rounds > 0,
        "nothing to do"
    );
    sextant_bench::within_time_limit(args.time_limit, run(&args)).await
}

/// The phases in turn: the server, the setup, P2, P4 (the swarm, its rounds, the change
/// outside the documents), P5 (the server's memory, the real agent), then the closing table.
async fn run(args: &Args) -> Result<()> {
    sextant_bench::print_run_header("sextant-bench-swarm", args.backend);
    let db = TestDatabase::create(args.backend.backend()).await;
    let sextant = sextant_binary(args.sextant_bin.as_deref())?;
    let mut server = start_server(args, &db, &sextant).await?;
    let mut figures = Figures::default();
    let setup = setup(args, &server.admin).await?;
    let tenant = p2_unchanged(args, &server, setup.clients, &mut figures).await?;

    // ---- P5 (server): before the agents connect.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_before = rss_bytes(server.pid)?;

    let (mut swarm, rss_with) =
        start_swarm(args, &server, setup.agent_clients, &mut figures).await?;
    let probe_runtime = setup
        .client_ids
        .first()
        .ok_or_else(|| anyhow!("no client runtime"))?
        .clone();
    propagation::p4_rounds(
        args,
        &server,
        &setup.app,
        &probe_runtime,
        &mut swarm,
        &mut figures,
    )
    .await?;
    noop_change(&server, &setup.client_ids, &mut swarm, &mut figures).await?;
    let memory = Memory {
        fresh: server.rss_fresh,
        before_agents: rss_before,
        with_agents: rss_with,
    };
    p5_server_memory(args, &memory, &mut figures);
    restart::p8_restart(args, &mut server, &db, &sextant, &mut swarm, &mut figures).await?;
    swarm.stop().await;
    let real = RealAgent {
        ids: &setup.real_ids,
        token: &setup.real_token,
        tenant: &tenant,
    };
    p5_real_agent(args, &server, &sextant, &db, &real, &mut figures).await?;
    server.process.check_alive().context("the server")?;
    drop(server);
    drop(db);

    figures.print_table();
    Ok(())
}

/// The server in its process, and the administrator's way into it.
struct Server {
    process: Spawned,
    pid: u32,
    admin: Arc<Admin>,
    /// The main listener's port (the real agent pairs there).
    main_port: u16,
    mtls_port: u16,
    /// `https://localhost:<mTLS port>`: where the runtimes read their configuration.
    mtls_base: String,
    data_dir: PathBuf,
    /// Its log (a restarted server appends to it).
    log: PathBuf,
    /// The server's CPU time.
    cpu: CpuMeter,
    /// Its VmRSS a second after it was ready, with an empty store (P5).
    rss_fresh: u64,
}

/// The `sextant server` command line of this run.
fn server_command(
    args: &Args,
    db: &TestDatabase,
    sextant: &Path,
    data_dir: &Path,
    (main_port, mtls_port): (u16, u16),
) -> Command {
    let mut command = Command::new(sextant);
    command
        .arg("server")
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--listen")
        .arg(format!("127.0.0.1:{main_port}"))
        .arg("--mtls-listen")
        .arg(format!("127.0.0.1:{mtls_port}"))
        // No benchmark reaches beyond loopback, not even with a DNS lookup.
        .arg("--fetch-allow-hosts")
        .arg("localhost,127.0.0.1,::1")
        // Every simulated agent and client connects from 127.0.0.1, to the mTLS listener.
        .arg("--max-connections-per-peer")
        .arg((args.agents + args.clients + 64).to_string())
        .arg("--mtls-max-connections")
        .arg((args.agents + args.clients + 64).to_string());
    if let Backend::Postgres = args.backend.backend() {
        command.arg("--database-url").arg(&db.url);
    }
    command
}

/// Starts the server in a process of its own and waits until it is ready.
async fn start_server(args: &Args, db: &TestDatabase, sextant: &Path) -> Result<Server> {
    let data_dir = db.dir.join("data");
    let (main_port, mtls_port) = (free_port()?, free_port()?);
    let command = server_command(args, db, sextant, &data_dir, (main_port, mtls_port));
    let started = Instant::now();
    let log = db.dir.join("server.log");
    let mut process = Spawned::start(command, log.clone())?;
    let admin = Arc::new(wait_ready(&mut process, &data_dir, main_port).await?);
    let ready_in = started.elapsed();
    let pid = process.pid();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_fresh = rss_bytes(pid)?;
    println!("server pid {pid}, ready in {ready_in:.2?}");
    Ok(Server {
        process,
        pid,
        admin,
        main_port,
        mtls_port,
        mtls_base: format!("https://localhost:{mtls_port}"),
        data_dir,
        log,
        cpu: CpuMeter::of(pid),
        rss_fresh,
    })
}

/// What the setup made.
struct Setup {
    /// The application (in DEFAULT) every document holds.
    app: String,
    /// The P2 runtimes.
    client_ids: Vec<String>,
    /// The P2 runtimes' mTLS clients.
    clients: Vec<reqwest::Client>,
    /// The simulated agents' mTLS clients.
    agent_clients: Vec<reqwest::Client>,
    /// The real agent's runtime (one) and its one-time token.
    real_ids: Vec<String>,
    real_token: String,
}

/// Setup: one application with one API in DEFAULT, the runtimes, their certificates.
async fn setup(args: &Args, admin: &Arc<Admin>) -> Result<Setup> {
    let app = admin
        .director(
            "mutation { registerApplication(in: {name: \"swarm-app\", providerName: \"bench\", labels: {scenarios: [\"DEFAULT\"]}}) { id } }",
            json!({}),
        )
        .await?["registerApplication"]["id"]
        .as_str()
        .ok_or_else(|| anyhow!("no application id"))?
        .to_owned();
    admin.add_api(&app, "swarm-api-0", 0).await?;
    let setup = Instant::now();
    let client_ids = admin.register_runtimes("p2", args.clients).await?;
    let agent_ids = admin.register_runtimes("agent", args.agents).await?;
    let real_ids = admin.register_runtimes("real-agent", 1).await?;
    let client_tokens = admin.runtime_tokens(&client_ids).await?;
    let agent_tokens = admin.runtime_tokens(&agent_ids).await?;
    let real_token = admin
        .runtime_tokens(&real_ids)
        .await?
        .pop()
        .ok_or_else(|| anyhow!("no token"))?;
    let registered = setup.elapsed();
    let pairing = Instant::now();
    let clients = pair_all(admin, client_tokens, args.pairing_concurrency).await?;
    let agent_clients = pair_all(admin, agent_tokens, args.pairing_concurrency).await?;
    let paired = pairing.elapsed();
    println!(
        "setup: {} runtimes registered with tokens in {registered:.1?}, {} paired in {paired:.1?} ({:.0}/s)",
        args.clients + args.agents + 1,
        args.clients + args.agents,
        (args.clients + args.agents) as f64 / paired.as_secs_f64()
    );
    Ok(Setup {
        app,
        client_ids,
        clients,
        agent_clients,
        real_ids,
        real_token,
    })
}

/// What the server did with nobody asking: statements and CPU seconds over a window.
struct Idle {
    statements: u64,
    cpu: f64,
}

/// The P2 measurement: every request's latency (ms, sorted), and what it cost.
struct P2Run {
    latencies: Vec<f64>,
    /// Requests not answered 304.
    wrong: usize,
    /// Seconds.
    wall: f64,
    server_cpu: f64,
    client_cpu: f64,
    statements: u64,
}

/// P2: unchanged configuration in a tight loop: the first documents, an idle window, a
/// warm-up, the measurement, its figures and checks. Answers the runtimes' tenant.
async fn p2_unchanged(
    args: &Args,
    server: &Server,
    clients: Vec<reqwest::Client>,
    figures: &mut Figures,
) -> Result<String> {
    let config_url = format!("{}{CONFIGURATION_PATH}", server.mtls_base);
    let (etags, tenant) = first_documents(&clients, &config_url).await?;
    let duration = Duration::from_secs(args.duration);
    let idle = idle_window(server, duration).await?;
    // Warm-up, then the measurement.
    let mut warm = unchanged_loop(&clients, &etags, &config_url, Duration::from_secs(1));
    while let Some(done) = warm.join_next().await {
        done??;
    }
    let run = p2_measure(server, &clients, &etags, &config_url, duration).await?;
    p2_figures(args, &run, &idle, figures);
    p2_check(&run, &idle)?;
    drop(clients);
    Ok(tenant)
}

/// Every client's first document (a 200 naming the one application): their ETags, and the
/// tenant.
async fn first_documents(
    clients: &[reqwest::Client],
    config_url: &str,
) -> Result<(Vec<String>, String)> {
    let mut etags = Vec::with_capacity(clients.len());
    let mut tenant = None;
    for client in clients {
        let response = client.get(config_url).send().await?;
        ensure!(
            response.status() == StatusCode::OK,
            "first configuration: HTTP {}",
            response.status()
        );
        let etag = response
            .headers()
            .get(ETAG)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| anyhow!("no ETag"))?
            .to_owned();
        let document: RuntimeConfiguration = response.json().await?;
        ensure!(
            document.applications.len() == 1,
            "the document names {} applications, not 1",
            document.applications.len()
        );
        tenant = Some(document.tenant.to_string());
        etags.push(etag);
    }
    let tenant = tenant.ok_or_else(|| anyhow!("no tenant"))?;
    Ok((etags, tenant))
}

/// Idle window: what the server does (statements, CPU) with nobody asking.
async fn idle_window(server: &Server, duration: Duration) -> Result<Idle> {
    let statements = server.admin.statements().await?;
    let cpu = server.cpu.seconds()?;
    tokio::time::sleep(duration).await;
    let cpu = server.cpu.seconds()? - cpu;
    let statements = server.admin.statements().await? - statements;
    Ok(Idle { statements, cpu })
}

/// Each client asks for its unchanged configuration in a loop for `window`; each task
/// answers its latencies (ms) and how many answers were not 304.
fn unchanged_loop(
    clients: &[reqwest::Client],
    etags: &[String],
    config_url: &str,
    window: Duration,
) -> JoinSet<Result<(Vec<f64>, usize)>> {
    let mut tasks = JoinSet::new();
    for (client, etag) in clients.iter().zip(etags) {
        let (client, etag, url) = (client.clone(), etag.clone(), config_url.to_owned());
        tasks.spawn(async move {
            let end = Instant::now() + window;
            let mut latencies = Vec::new();
            let mut wrong = 0usize;
            while Instant::now() < end {
                let t = Instant::now();
                let response = client.get(&url).header(IF_NONE_MATCH, &etag).send().await?;
                let status = response.status();
                response.bytes().await?;
                latencies.push(t.elapsed().as_secs_f64() * 1e3);
                if status != StatusCode::NOT_MODIFIED {
                    wrong += 1;
                }
            }
            Ok::<_, anyhow::Error>((latencies, wrong))
        });
    }
    tasks
}

/// The measured loop, with the server's statements and both processes' CPU around it.
async fn p2_measure(
    server: &Server,
    clients: &[reqwest::Client],
    etags: &[String],
    config_url: &str,
    duration: Duration,
) -> Result<P2Run> {
    let me = CpuMeter::of(std::process::id());
    let statements_before = server.admin.statements().await?;
    let server_cpu = server.cpu.seconds()?;
    let client_cpu = me.seconds()?;
    let t0 = Instant::now();
    let mut measured = unchanged_loop(clients, etags, config_url, duration);
    let mut latencies = Vec::new();
    let mut wrong = 0;
    while let Some(done) = measured.join_next().await {
        let (l, w) = done??;
        latencies.extend(l);
        wrong += w;
    }
    let wall = t0.elapsed().as_secs_f64();
    let server_cpu = server.cpu.seconds()? - server_cpu;
    let client_cpu = me.seconds()? - client_cpu;
    let statements = server.admin.statements().await? - statements_before;
    Ok(P2Run {
        latencies: sorted(latencies),
        wrong,
        wall,
        server_cpu,
        client_cpu,
        statements,
    })
}

fn p2_figures(args: &Args, run: &P2Run, idle: &Idle, figures: &mut Figures) {
    let requests = run.latencies.len();
    let rate = requests as f64 / run.wall;
    let server_cores = run.server_cpu / run.wall;
    println!("P2: unchanged configuration, {} clients", args.clients);
    figures.add(
        format!(
            "P2 304s/s ({} mTLS keep-alive clients, {} s)",
            args.clients, args.duration
        ),
        format!("{rate:.0} ({requests} requests, {} not 304)", run.wrong),
    );
    figures.add(
        "P2 latency p50 / p99 / max ms",
        p50_p99_max(&run.latencies, 2),
    );
    figures.add(
        "P2 server CPU (cores busy) / client CPU (cores busy)",
        format!("{server_cores:.2} / {:.2}", run.client_cpu / run.wall),
    );
    figures.add(
        "P2 304s/s per core of server CPU",
        format!(
            "{:.0} ({:.1} µs of server CPU per request)",
            rate / server_cores,
            run.server_cpu / requests as f64 * 1e6
        ),
    );
    figures.add(
        "P2 SQL statements during the run / during an idle window as long",
        format!(
            "{} / {} (idle server CPU {:.2} s)",
            run.statements, idle.statements, idle.cpu
        ),
    );
}

fn p2_check(run: &P2Run, idle: &Idle) -> Result<()> {
    let (wrong, statements, idle_statements) = (run.wrong, run.statements, idle.statements);
    ensure!(!run.latencies.is_empty(), "no P2 request completed");
    ensure!(
        wrong == 0,
        "{wrong} unchanged requests were not answered 304"
    );
    // The counter counts the whole process, background pollers included (the idle window
    // shows their rate), and the batches that write what the 304s saw (the agents' last
    // sightings and the fetch counts, two statements per flush, none when idle); one
    // statement per request would add `requests`.
    let flushes = (run.wall / sextant_server::AGENT_FLUSH_INTERVAL.as_secs_f64()).ceil() as u64 + 1;
    ensure!(
        statements <= idle_statements + 2 + 2 * flushes,
        "{statements} SQL statements during the 304 loop of {} requests (idle: \
         {idle_statements}, {flushes} flushes of sightings)",
        run.latencies.len()
    );
    Ok(())
}

/// The simulated agents following their configuration, and what they report.
struct Swarm {
    tasks: JoinSet<()>,
    reports: mpsc::UnboundedReceiver<Report>,
    /// The API names every document holds now, sorted.
    expected: Vec<String>,
    /// Whether the agents check at once after a failed request ([`SimAgent::revalidate`]).
    revalidate: Arc<AtomicBool>,
}

impl Swarm {
    /// Stops every agent.
    async fn stop(mut self) {
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
    }
}

/// P4: the swarm. Starts every agent and waits until each applied its first document;
/// answers the swarm and the server's VmRSS with every agent's long poll held (P5).
async fn start_swarm(
    args: &Args,
    server: &Server,
    agent_clients: Vec<reqwest::Client>,
    figures: &mut Figures,
) -> Result<(Swarm, u64)> {
    println!("P4: starting {} agents", args.agents);
    let (report_tx, mut reports) = mpsc::unbounded_channel();
    let revalidate = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Semaphore::new(START_CONCURRENCY));
    let mut tasks = JoinSet::new();
    let swarm_start = Instant::now();
    for (index, client) in agent_clients.into_iter().enumerate() {
        let agent = SimAgent {
            index,
            client,
            base: server.mtls_base.clone(),
            wait: args.wait,
            etag: None,
            specs: HashSet::new(),
            revalidate: revalidate.clone(),
        };
        tasks.spawn(agent.run(start.clone(), report_tx.clone()));
    }
    drop(report_tx);
    let expected = vec!["swarm-api-0".to_owned()];
    collect_round(
        &mut reports,
        args.agents,
        &expected,
        Duration::from_secs(120),
    )
    .await
    .context("the agents' first configuration")?;
    let swarm_ready = swarm_start.elapsed();
    // Let every agent's long poll reach the server.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_with = rss_bytes(server.pid)?;
    figures.add(
        format!("P4 {} agents started (first document applied)", args.agents),
        format!("{swarm_ready:.2?}"),
    );
    let swarm = Swarm {
        tasks,
        reports,
        expected,
        revalidate,
    };
    Ok((swarm, rss_with))
}

/// A change that is in no agent's document: every held poll is woken, each document is
/// rebuilt and found unchanged (the real agent's READY report is such a change). Its server
/// CPU (above the quiet rate) and statements; no agent may receive a new document.
async fn noop_change(
    server: &Server,
    client_ids: &[String],
    swarm: &mut Swarm,
    figures: &mut Figures,
) -> Result<()> {
    tokio::time::sleep(Duration::from_secs(1)).await;
    let window = Duration::from_secs(3);
    let cpu = server.cpu.seconds()?;
    tokio::time::sleep(window).await;
    let quiet_cpu = server.cpu.seconds()? - cpu;
    let cpu = server.cpu.seconds()?;
    let statements = server.admin.statements().await?;
    server
        .admin
        .director(
            "mutation($id: ID!) { setRuntimeStatus(id: $id, condition: READY) { id } }",
            json!({"id": client_ids.first().ok_or_else(|| anyhow!("no client runtime"))?}),
        )
        .await?;
    let noop_started = Instant::now();
    let last = settle(&server.cpu, noop_started).await?;
    let noop_cpu =
        last - cpu - quiet_cpu * noop_started.elapsed().as_secs_f64() / window.as_secs_f64();
    let noop_statements = server.admin.statements().await? - statements;
    ensure!(
        swarm.reports.try_recv().is_err(),
        "an agent received a new document after a change outside it"
    );
    figures.add(
        "P4 a change outside the documents (setRuntimeStatus): server CPU s / SQL statements / settled in",
        format!(
            "{noop_cpu:.2} / {noop_statements} / {:.1?}",
            noop_started.elapsed()
        ),
    );
    Ok(())
}

/// Waits until the server is quiet again (less than 5% of a core over half a second) or
/// [`PROPAGATION_DEADLINE`] after `since`; answers its CPU seconds then.
async fn settle(cpu: &CpuMeter, since: Instant) -> Result<f64> {
    let mut last = cpu.seconds()?;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = cpu.seconds()?;
        let settled = now - last < 0.025;
        last = now;
        if settled || since.elapsed() > PROPAGATION_DEADLINE {
            return Ok(last);
        }
    }
}

/// The server's VmRSS (bytes) at the moments P5 reports.
struct Memory {
    fresh: u64,
    before_agents: u64,
    with_agents: u64,
}

/// P5: the server's memory, and per connected agent.
fn p5_server_memory(args: &Args, memory: &Memory, figures: &mut Figures) {
    let per_agent =
        memory.with_agents.saturating_sub(memory.before_agents) as f64 / args.agents as f64;
    figures.add(
        "P5 server VmRSS: fresh (empty store) / before agents / with agents MiB",
        format!(
            "{:.1} / {:.1} / {:.1}",
            mib(memory.fresh),
            mib(memory.before_agents),
            mib(memory.with_agents)
        ),
    );
    figures.add(
        "P5 server memory per connected agent KiB",
        format!("{:.1}", per_agent / 1024.0),
    );
}

/// The real agent's runtime (one), its one-time token and its tenant.
struct RealAgent<'a> {
    ids: &'a [String],
    token: &'a str,
    tenant: &'a str,
}

/// P5: one real agent process; how long it takes to pair and apply its configuration, then
/// its VmRSS and CPU after idling.
async fn p5_real_agent(
    args: &Args,
    server: &Server,
    sextant: &Path,
    db: &TestDatabase,
    real: &RealAgent<'_>,
    figures: &mut Figures,
) -> Result<()> {
    let state_dir = db.dir.join("real-agent-state");
    let command = real_agent_command(server, sextant, db, real, &state_dir)?;
    let agent_started = Instant::now();
    let mut agent = Spawned::start(command, db.dir.join("agent.log"))?;
    let applied_file = state_dir.join("applied-configuration.json");
    while !applied_file.exists() {
        agent.check_alive().context("the real agent")?;
        ensure!(
            agent_started.elapsed() < Duration::from_secs(60),
            "the real agent did not apply its configuration within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let agent_applied = agent_started.elapsed();
    let applied: RuntimeConfiguration = serde_json::from_slice(&std::fs::read(&applied_file)?)?;
    ensure!(
        applied.applications.len() == 1 && applied.applications[0].apis.len() == args.rounds + 1,
        "the real agent applied a wrong document"
    );
    tokio::time::sleep(Duration::from_secs(args.agent_idle)).await;
    agent.check_alive().context("the real agent")?;
    let agent_rss = rss_bytes(agent.pid())?;
    let agent_cpu = CpuMeter::of(agent.pid()).seconds()?;
    figures.add(
        "P5 real agent: paired and applied in / idle VmRSS MiB / CPU s",
        format!(
            "{agent_applied:.2?} / {:.1} / {agent_cpu:.2}",
            mib(agent_rss)
        ),
    );
    Ok(())
}

/// The real agent's configuration file (written) and command line.
fn real_agent_command(
    server: &Server,
    sextant: &Path,
    db: &TestDatabase,
    real: &RealAgent<'_>,
    state_dir: &Path,
) -> Result<Command> {
    let env_file = db.dir.join("real-agent.env");
    std::fs::write(
        &env_file,
        format!(
            "CONNECTOR_URL=https://localhost:{}/connector/graphql\nTOKEN={}\nRUNTIME_ID={}\nTENANT={}\nCA_CERT_FILE={}\n",
            server.main_port,
            real.token,
            real.ids.first().ok_or_else(|| anyhow!("no runtime"))?,
            real.tenant,
            server.data_dir.join("ca.crt").display()
        ),
    )?;
    let mut command = Command::new(sextant);
    command
        .arg("agent")
        .arg("--config-file")
        .arg(&env_file)
        .arg("--state-dir")
        .arg(state_dir)
        .arg("--gateway-listen")
        .arg(format!("127.0.0.1:{}", free_port()?))
        .arg("--gateway-allow-hosts")
        .arg("localhost,127.0.0.1,::1");
    Ok(command)
}
