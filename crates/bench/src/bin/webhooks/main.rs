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

mod phases;
mod server;
mod sink;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, ensure};
use clap::Parser;
use serde_json::json;
use sextant_bench::BackendArg;
use sextant_test_support::{Backend, TestDatabase};

use sextant_bench::figures::{Figures, ms_between, percentile, sorted};
use sextant_bench::host::{CpuMeter, free_port};
use sextant_bench::spawned::{Spawned, sextant_binary};

use phases::{Expected, arrivals, burst, outbox, outbox_cell, outcome, wait_all};
use server::{Admin, ServerSpec};
use sink::{Sink, start_sink};

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

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(
        args.apps > 0 && args.paced > 0 && args.burst_events > 0 && args.paced_rate > 0.0,
        "nothing to do"
    );
    sextant_bench::within_time_limit(args.time_limit, run(&args)).await
}

/// What every phase works with.
struct Bench<'a> {
    args: &'a Args,
    backend: Backend,
    db: &'a TestDatabase,
    /// How to start the server (again, in the kill phase).
    spec: ServerSpec,
    admin: Admin,
    sink: Arc<Sink>,
    /// The applications in DEFAULT, each with a webhook to the sink.
    apps: Vec<String>,
}

/// What a phase leaves for the end: how many events it expected and how many were lost.
struct Delivered {
    events: usize,
    lost: usize,
}

/// The phases in turn: the server and the sink, the webhooks, warm-up, paced, burst, the
/// outbox check, kill (`--kill`), then the sink's figure, the closing table and the checks.
async fn run(args: &Args) -> Result<()> {
    let backend = args.backend.backend();
    sextant_bench::print_run_header("sextant-bench-webhooks", args.backend);
    let db = TestDatabase::create(backend).await;
    let spec = server_spec(args, &db)?;
    let (sink, sink_url) = start_sink(Duration::from_millis(args.sink_delay_ms)).await?;
    let (mut server, admin) = spec.start().await?;
    println!(
        "server pid {}, sink {sink_url}, lease {:?}",
        server.pid(),
        args.lease
    );
    let mut figures = Figures::default();
    let apps = hooked_apps(args, &admin, &sink, &sink_url).await?;
    let bench = Bench {
        args,
        backend,
        db: &db,
        spec,
        admin,
        sink,
        apps,
    };
    let warm = warm_up(&bench).await?;
    let paced = paced(&bench, &mut figures).await?;
    let burst = burst_phase(&bench, &server, &mut figures).await?;
    check_outbox(&bench, warm + paced.events + burst.events, &mut figures).await?;
    let mut lost_total = paced.lost + burst.lost;
    if args.kill {
        lost_total += kill(&bench, &mut server, &mut figures).await?;
    }

    let (bad, requests) = {
        let state = bench.sink.lock_state();
        (state.bad.clone(), state.requests)
    };
    figures.add(
        "sink: requests / bad signatures",
        format!("{requests} / {}", bad.len()),
    );
    server.check_alive().context("the server")?;
    drop(server);
    figures.print_table();
    ensure!(
        bad.is_empty(),
        "bad requests at the sink: {:?}",
        &bad[..bad.len().min(5)]
    );
    ensure!(lost_total == 0, "{lost_total} events lost");
    drop(bench);
    drop(db);
    Ok(())
}

/// How to start the server: the `sextant` binary, the data and database, free ports.
fn server_spec(args: &Args, db: &TestDatabase) -> Result<ServerSpec> {
    Ok(ServerSpec {
        sextant: sextant_binary(args.sextant_bin.as_deref())?,
        data_dir: db.dir.join("data"),
        database_url: match args.backend.backend() {
            Backend::Sqlite => None,
            Backend::Postgres => Some(db.url.clone()),
        },
        main_port: free_port()?,
        mtls_port: free_port()?,
        lease: args.lease,
        log: db.dir.join("server.log"),
    })
}

/// Setup: the applications and their webhooks (the sink learns each one's secret).
async fn hooked_apps(
    args: &Args,
    admin: &Admin,
    sink: &Sink,
    sink_url: &str,
) -> Result<Vec<String>> {
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
    Ok(apps)
}

/// Warm-up: one registration, every application hears of it. Answers its events.
async fn warm_up(bench: &Bench<'_>) -> Result<usize> {
    let (ids, at) = bench.admin.register_runtimes("warm", 0, 1).await?;
    let warm = Expected {
        enqueued: ids.into_iter().map(|id| (id, at)).collect(),
        apps: bench.apps.clone(),
    };
    let got = wait_all(&bench.sink, &warm, Duration::from_secs(30)).await?;
    ensure!(
        got == warm.count(),
        "warm-up: {got} of {} events",
        warm.count()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    Ok(warm.count())
}

/// Paced: `--paced` registrations, one per request at `--paced-rate` per second.
async fn paced(bench: &Bench<'_>, figures: &mut Figures) -> Result<Delivered> {
    let args = bench.args;
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
        let (ids, at) = bench.admin.register_runtimes("paced", i, i + 1).await?;
        mutation_ms.push(ms_between(at, sent));
        enqueued.extend(ids.into_iter().map(|id| (id, at)));
    }
    let paced = Expected {
        enqueued,
        apps: bench.apps.clone(),
    };
    wait_all(&bench.sink, &paced, Duration::from_secs(120)).await?;
    let o = outcome(&bench.sink, &paced);
    let m = sorted(mutation_ms);
    figures.add(
        format!(
            "paced: {} registrations × {} apps at {:.0} events/s; registerRuntime round trip p50 / p99 ms",
            args.paced,
            args.apps,
            args.paced_rate * args.apps as f64
        ),
        format!("{:.1} / {:.1}", percentile(&m, 50.0), percentile(&m, 99.0)),
    );
    arrivals(figures, "paced", &o);
    tokio::time::sleep(Duration::from_secs(1)).await;
    Ok(Delivered {
        events: paced.count(),
        lost: o.lost,
    })
}

/// Burst: `--burst-events` events queued as fast as the server takes them; deliveries per
/// second and the server's CPU.
async fn burst_phase(
    bench: &Bench<'_>,
    server: &Spawned,
    figures: &mut Figures,
) -> Result<Delivered> {
    let args = bench.args;
    let registrations = args.burst_events.div_ceil(args.apps);
    println!(
        "burst: {registrations} registrations × {} applications = {} events",
        args.apps,
        registrations * args.apps
    );
    let server_cpu = CpuMeter::of(server.pid());
    let cpu0 = server_cpu.seconds()?;
    let t0 = Instant::now();
    let enqueued = burst(&bench.admin, "burst", registrations, args.concurrency).await?;
    let produced = t0.elapsed();
    let burst_set = Expected {
        enqueued,
        apps: bench.apps.clone(),
    };
    wait_all(&bench.sink, &burst_set, Duration::from_secs(300)).await?;
    let o = outcome(&bench.sink, &burst_set);
    let done_at = o.last.unwrap_or(t0);
    let cpu = server_cpu.seconds()? - cpu0;
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
    arrivals(figures, "burst", &o);
    Ok(Delivered {
        events: burst_set.count(),
        lost: o.lost,
    })
}

/// Check: the outbox holds one row per event queued so far (`events`).
async fn check_outbox(bench: &Bench<'_>, events: usize, figures: &mut Figures) -> Result<()> {
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rows = outbox(bench.backend, &bench.spec.data_dir, &bench.db.url).await?;
    let total_rows: i64 = rows.iter().map(|(_, n, _)| n).sum();
    figures.add(
        "outbox rows by state (rows / attempts) vs events queued",
        format!("{} vs {events}", outbox_cell(&rows)),
    );
    ensure!(
        total_rows == events as i64,
        "{total_rows} outbox rows for {events} events"
    );
    Ok(())
}

/// The kill phase's moment of SIGKILL and restart.
struct Killed {
    /// The phase's events at the sink when the server died, and 200 ms later.
    seen_at_kill: usize,
    seen_after_kill: usize,
    /// Requests the sink got in those 200 ms.
    in_flight: u64,
    killed_at: Instant,
    restart_in: Duration,
}

/// Kill -9: `--kill-events` more events; once a fifth of them arrived the server gets SIGKILL
/// and is restarted; every acknowledged event must still arrive. Answers the events lost.
async fn kill(bench: &Bench<'_>, server: &mut Spawned, figures: &mut Figures) -> Result<usize> {
    let args = bench.args;
    let registrations = args.kill_events.div_ceil(args.apps);
    println!(
        "kill: {registrations} registrations × {} applications = {} events",
        args.apps,
        registrations * args.apps
    );
    let enqueued = burst(&bench.admin, "kill", registrations, args.concurrency).await?;
    let kill_set = Expected {
        enqueued,
        apps: bench.apps.clone(),
    };
    let killed = kill_and_restart(bench, server, &kill_set).await?;
    wait_all(
        &bench.sink,
        &kill_set,
        Duration::from_secs(120) + args.lease,
    )
    .await?;
    let o = outcome(&bench.sink, &kill_set);
    figures.add(
        "kill: arrived before SIGKILL / + in flight / of",
        format!(
            "{} / {} ({} requests in the 200 ms after) / {}",
            killed.seen_at_kill,
            killed.seen_after_kill,
            killed.in_flight,
            kill_set.count()
        ),
    );
    figures.add(
        "kill: restart ready in / last event arrived after the kill",
        format!(
            "{:.2?} / {:.1} s",
            killed.restart_in,
            o.last
                .map_or(f64::NAN, |l| ms_between(l, killed.killed_at) / 1e3)
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
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rows = outbox(bench.backend, &bench.spec.data_dir, &bench.db.url).await?;
    figures.add(
        "kill: outbox rows by state (rows / attempts)",
        outbox_cell(&rows),
    );
    Ok(o.lost)
}

/// Waits until a fifth of `kill_set` arrived, kills the server (SIGKILL) and starts it again
/// on the same data directory, database and ports.
async fn kill_and_restart(
    bench: &Bench<'_>,
    server: &mut Spawned,
    kill_set: &Expected,
) -> Result<Killed> {
    let sink = &bench.sink;
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
    let (restarted, _admin) = bench.spec.start().await?;
    *server = restarted;
    let restart_in = killed_at.elapsed();
    println!(
        "  killed with {seen_at_kill} of {} arrived; restarted in {restart_in:.2?}",
        kill_set.count()
    );
    Ok(Killed {
        seen_at_kill,
        seen_after_kill,
        in_flight,
        killed_at,
        restart_in,
    })
}
