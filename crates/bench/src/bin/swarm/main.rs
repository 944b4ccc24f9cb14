//! GOALS.md P2, P4, P5: the agent swarm against a `sextant server` in a process of its own
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
//!   had applied the new document. Then one change that is in no document
//!   (`setRuntimeStatus` of another runtime, as every real agent sends once configured): the
//!   server CPU and statements it costs with every agent's long poll held.
//! - **P5**: the server's VmRSS before the agents connect and with all of them holding long
//!   polls; one real `sextant agent` process, VmRSS after it applied its configuration and
//!   idled.
//!
//! The run fails on any HTTP or agent error, an unchanged request not answered 304, a
//! statement on the 304 path, an agent that does not apply a change within 60 s or applies
//! a wrong document, a new document after a change outside it, or the time limit.
//!
//! `ulimit -n` must allow about `agents + clients + 100` descriptors in this process, and
//! about `2 × (agents + clients) + 600` in the server (the shell's limit is inherited): the
//! server keeps a quarter of its limit (at most 512) for the database and outbound calls and
//! gives each listener half of the rest. All connections come from 127.0.0.1, so the server
//! is started with `--max-connections-per-peer` above `agents + clients`.
//!
//! ```sh
//! cargo build --release -p sextant-bench -p sextant
//! target/release/sextant-bench-swarm --backend sqlite --agents 1000
//! ```
mod admin;
mod agent;

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
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

use sextant_bench::figures::{Figures, ms_between, percentile, sorted};
use sextant_bench::host::{clock_ticks, cpu_seconds, free_port, mib, rss_bytes};
use sextant_bench::spawned::Spawned;

use admin::{pair_all, wait_ready};
use agent::{SimAgent, collect_round};

#[derive(Parser)]
#[command(about = "The agent swarm: 304s per second, propagation, footprint (GOALS.md P2, P4, P5)")]
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

async fn run(args: &Args) -> Result<()> {
    let backend = args.backend.backend();
    sextant_bench::print_run_header("sextant-bench-swarm", args.backend);
    let ticks = clock_ticks();
    let me = std::process::id();
    let db = TestDatabase::create(backend).await;
    let data_dir = db.dir.join("data");
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

    // The server, in a process of its own.
    let (main_port, mtls_port) = (free_port()?, free_port()?);
    let mut command = Command::new(&sextant);
    command
        .arg("server")
        .arg("--data-dir")
        .arg(&data_dir)
        .arg("--listen")
        .arg(format!("127.0.0.1:{main_port}"))
        .arg("--mtls-listen")
        .arg(format!("127.0.0.1:{mtls_port}"))
        // No benchmark reaches beyond loopback, not even with a DNS lookup.
        .arg("--fetch-allow-hosts")
        .arg("localhost,127.0.0.1,::1")
        // Every simulated agent and client connects from 127.0.0.1.
        .arg("--max-connections-per-peer")
        .arg((args.agents + args.clients + 64).to_string());
    if let Backend::Postgres = backend {
        command.arg("--database-url").arg(&db.url);
    }
    let started = Instant::now();
    let mut server = Spawned::start(command, db.dir.join("server.log"))?;
    let admin = Arc::new(wait_ready(&mut server, &data_dir, main_port).await?);
    let ready_in = started.elapsed();
    let mtls_base = format!("https://localhost:{mtls_port}");
    let server_pid = server.pid();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_fresh = rss_bytes(server_pid)?;
    let mut figures = Figures::default();
    println!("server pid {server_pid}, ready in {ready_in:.2?}");

    // Setup: one application with one API in DEFAULT, the runtimes, their certificates.
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
    let clients = pair_all(&admin, client_tokens, args.pairing_concurrency).await?;
    let agent_clients = pair_all(&admin, agent_tokens, args.pairing_concurrency).await?;
    let paired = pairing.elapsed();
    println!(
        "setup: {} runtimes registered with tokens in {registered:.1?}, {} paired in {paired:.1?} ({:.0}/s)",
        args.clients + args.agents + 1,
        args.clients + args.agents,
        (args.clients + args.agents) as f64 / paired.as_secs_f64()
    );

    // ---- P2: unchanged configuration, tight loop.
    let config_url = format!("{mtls_base}{CONFIGURATION_PATH}");
    let mut etags = Vec::with_capacity(clients.len());
    let mut tenant = None;
    for client in &clients {
        let response = client.get(&config_url).send().await?;
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
        tenant = Some(document.tenant);
        etags.push(etag);
    }
    let tenant = tenant.ok_or_else(|| anyhow!("no tenant"))?;
    let duration = Duration::from_secs(args.duration);
    // Idle window: what the server does (statements, CPU) with nobody asking.
    let idle_statements = admin.statements().await?;
    let idle_cpu = cpu_seconds(server_pid, ticks)?;
    tokio::time::sleep(duration).await;
    let idle_cpu = cpu_seconds(server_pid, ticks)? - idle_cpu;
    let idle_statements = admin.statements().await? - idle_statements;
    // Warm-up, then the measurement.
    let p2 = |window: Duration| {
        let mut tasks = JoinSet::new();
        for (client, etag) in clients.iter().zip(&etags) {
            let (client, etag, url) = (client.clone(), etag.clone(), config_url.clone());
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
    };
    let mut warm = p2(Duration::from_secs(1));
    while let Some(done) = warm.join_next().await {
        done??;
    }
    let statements_before = admin.statements().await?;
    let server_cpu = cpu_seconds(server_pid, ticks)?;
    let client_cpu = cpu_seconds(me, ticks)?;
    let t0 = Instant::now();
    let mut measured = p2(duration);
    let mut latencies = Vec::new();
    let mut wrong = 0;
    while let Some(done) = measured.join_next().await {
        let (l, w) = done??;
        latencies.extend(l);
        wrong += w;
    }
    let wall = t0.elapsed().as_secs_f64();
    let server_cpu = cpu_seconds(server_pid, ticks)? - server_cpu;
    let client_cpu = cpu_seconds(me, ticks)? - client_cpu;
    let statements = admin.statements().await? - statements_before;
    let requests = latencies.len();
    let latencies = sorted(latencies);
    let rate = requests as f64 / wall;
    let server_cores = server_cpu / wall;
    println!("P2: unchanged configuration, {} clients", args.clients);
    figures.add(
        format!(
            "P2 304s/s ({} mTLS keep-alive clients, {} s)",
            args.clients, args.duration
        ),
        format!("{rate:.0} ({requests} requests, {wrong} not 304)"),
    );
    figures.add(
        "P2 latency p50 / p99 / max ms",
        format!(
            "{:.2} / {:.2} / {:.2}",
            percentile(&latencies, 50.0),
            percentile(&latencies, 99.0),
            latencies.last().copied().unwrap_or(f64::NAN)
        ),
    );
    figures.add(
        "P2 server CPU (cores busy) / client CPU (cores busy)",
        format!("{server_cores:.2} / {:.2}", client_cpu / wall),
    );
    figures.add(
        "P2 304s/s per core of server CPU",
        format!(
            "{:.0} ({:.1} µs of server CPU per request)",
            rate / server_cores,
            server_cpu / requests as f64 * 1e6
        ),
    );
    figures.add(
        "P2 SQL statements during the run / during an idle window as long",
        format!("{statements} / {idle_statements} (idle server CPU {idle_cpu:.2} s)"),
    );
    ensure!(requests > 0, "no P2 request completed");
    ensure!(
        wrong == 0,
        "{wrong} unchanged requests were not answered 304"
    );
    // The counter counts the whole process, background pollers included (the idle window
    // shows their rate); one statement per request would add `requests`.
    ensure!(
        statements <= idle_statements + 2,
        "{statements} SQL statements during the 304 loop (idle: {idle_statements})"
    );
    drop(clients);

    // ---- P5 (server): before the agents connect.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_before = rss_bytes(server_pid)?;

    // ---- P4: the swarm.
    println!("P4: starting {} agents", args.agents);
    let (report_tx, mut reports) = mpsc::unbounded_channel();
    let start = Arc::new(Semaphore::new(START_CONCURRENCY));
    let mut swarm = JoinSet::new();
    let swarm_start = Instant::now();
    for (index, client) in agent_clients.into_iter().enumerate() {
        let agent = SimAgent {
            index,
            client,
            base: mtls_base.clone(),
            wait: args.wait,
            etag: None,
            specs: HashSet::new(),
        };
        swarm.spawn(agent.run(start.clone(), report_tx.clone()));
    }
    drop(report_tx);
    let mut expected = vec!["swarm-api-0".to_owned()];
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
    let rss_with = rss_bytes(server_pid)?;
    figures.add(
        format!("P4 {} agents started (first document applied)", args.agents),
        format!("{swarm_ready:.2?}"),
    );

    let mut from_commit = Vec::new();
    let mut from_send = Vec::new();
    let mut received_from_commit = Vec::new();
    let mut last_per_round = Vec::new();
    let mut commit_ms = Vec::new();
    let mut cpu_per_change = Vec::new();
    for round in 1..=args.rounds {
        let name = format!("swarm-api-{round}");
        expected.push(name.clone());
        expected.sort();
        let cpu = cpu_seconds(server_pid, ticks)?;
        let sent = Instant::now();
        admin.add_api(&app, &name, round).await?;
        let committed = Instant::now();
        let applied = collect_round(&mut reports, args.agents, &expected, PROPAGATION_DEADLINE)
            .await
            .with_context(|| format!("round {round}"))?;
        cpu_per_change.push(cpu_seconds(server_pid, ticks)? - cpu);
        commit_ms.push(ms_between(committed, sent));
        let mut last = f64::MIN;
        for (received, applied) in applied {
            let ms = ms_between(applied, committed);
            last = last.max(ms);
            from_commit.push(ms);
            from_send.push(ms_between(applied, sent));
            received_from_commit.push(ms_between(received, committed));
        }
        last_per_round.push(last);
        println!(
            "  round {round}: mutation {:.1} ms, last agent applied {last:.0} ms after the commit",
            commit_ms.last().copied().unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let from_commit = sorted(from_commit);
    let from_send = sorted(from_send);
    let received_from_commit = sorted(received_from_commit);
    let last_per_round = sorted(last_per_round);
    let cpu_per_change = sorted(cpu_per_change);
    let stats = |v: &[f64]| {
        format!(
            "{:.0} / {:.0} / {:.0}",
            percentile(v, 50.0),
            percentile(v, 99.0),
            v.last().copied().unwrap_or(f64::NAN)
        )
    };
    figures.add(
        format!(
            "P4 applied − commit, p50 / p99 / max ms ({} agents × {} changes)",
            args.agents, args.rounds
        ),
        stats(&from_commit),
    );
    figures.add(
        "P4 applied − mutation sent, p50 / p99 / max ms",
        stats(&from_send),
    );
    figures.add(
        "P4 200 received − commit, p50 / p99 / max ms",
        stats(&received_from_commit),
    );
    figures.add(
        "P4 last agent applied − commit, median of rounds / max ms",
        format!(
            "{:.0} / {:.0}",
            percentile(&last_per_round, 50.0),
            last_per_round.last().copied().unwrap_or(f64::NAN)
        ),
    );
    figures.add(
        "P4 mutation round trip (addAPIDefinition), median ms",
        format!("{:.1}", percentile(&sorted(commit_ms), 50.0)),
    );
    figures.add(
        "P4 server CPU per change (all agents served), median s",
        format!("{:.2}", percentile(&cpu_per_change, 50.0)),
    );

    // A change that is in no agent's document: every held poll is woken, each document is
    // rebuilt and found unchanged (the real agent's READY report is such a change).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let window = Duration::from_secs(3);
    let cpu = cpu_seconds(server_pid, ticks)?;
    tokio::time::sleep(window).await;
    let quiet_cpu = cpu_seconds(server_pid, ticks)? - cpu;
    let cpu = cpu_seconds(server_pid, ticks)?;
    let statements = admin.statements().await?;
    admin
        .director(
            "mutation($id: ID!) { setRuntimeStatus(id: $id, condition: READY) { id } }",
            json!({"id": client_ids.first().ok_or_else(|| anyhow!("no client runtime"))?}),
        )
        .await?;
    // Until the server is quiet again (less than 5% of a core over half a second).
    let noop_started = Instant::now();
    let mut last = cpu_seconds(server_pid, ticks)?;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = cpu_seconds(server_pid, ticks)?;
        let settled = now - last < 0.025;
        last = now;
        if settled || noop_started.elapsed() > PROPAGATION_DEADLINE {
            break;
        }
    }
    let noop_cpu =
        last - cpu - quiet_cpu * noop_started.elapsed().as_secs_f64() / window.as_secs_f64();
    let noop_statements = admin.statements().await? - statements;
    ensure!(
        reports.try_recv().is_err(),
        "an agent received a new document after a change outside it"
    );
    figures.add(
        "P4 a change outside the documents (setRuntimeStatus): server CPU s / SQL statements / settled in",
        format!(
            "{noop_cpu:.2} / {noop_statements} / {:.1?}",
            noop_started.elapsed()
        ),
    );

    // ---- P5.
    let per_agent = rss_with.saturating_sub(rss_before) as f64 / args.agents as f64;
    figures.add(
        "P5 server VmRSS: fresh (empty store) / before agents / with agents MiB",
        format!(
            "{:.1} / {:.1} / {:.1}",
            mib(rss_fresh),
            mib(rss_before),
            mib(rss_with)
        ),
    );
    figures.add(
        "P5 server memory per connected agent KiB",
        format!("{:.1}", per_agent / 1024.0),
    );
    swarm.abort_all();
    while swarm.join_next().await.is_some() {}

    // One real agent process.
    let state_dir = db.dir.join("real-agent-state");
    let env_file = db.dir.join("real-agent.env");
    std::fs::write(
        &env_file,
        format!(
            "CONNECTOR_URL=https://localhost:{main_port}/connector/graphql\nTOKEN={real_token}\nRUNTIME_ID={}\nTENANT={tenant}\nCA_CERT_FILE={}\n",
            real_ids.first().ok_or_else(|| anyhow!("no runtime"))?,
            data_dir.join("ca.crt").display()
        ),
    )?;
    let mut command = Command::new(&sextant);
    command
        .arg("agent")
        .arg("--config-file")
        .arg(&env_file)
        .arg("--state-dir")
        .arg(&state_dir)
        .arg("--gateway-listen")
        .arg(format!("127.0.0.1:{}", free_port()?))
        .arg("--gateway-allow-hosts")
        .arg("localhost,127.0.0.1,::1");
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
    let agent_cpu = cpu_seconds(agent.pid(), ticks)?;
    figures.add(
        "P5 real agent: paired and applied in / idle VmRSS MiB / CPU s",
        format!(
            "{agent_applied:.2?} / {:.1} / {agent_cpu:.2}",
            mib(agent_rss)
        ),
    );
    drop(agent);
    server.check_alive().context("the server")?;
    drop(server);
    drop(db);

    println!();
    println!("| figure | value |");
    println!("|---|---:|");
    for (what, value) in &figures.rows {
        println!("| {what} | {value} |");
    }
    Ok(())
}
