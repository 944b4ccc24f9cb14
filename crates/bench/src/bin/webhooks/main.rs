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
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, ensure};
use clap::Parser;
use serde_json::json;
use sextant_bench::BackendArg;
use sextant_test_support::{Backend, TestDatabase};

use sextant_bench::figures::{Figures, ms_between, percentile, sorted};
use sextant_bench::host::{clock_ticks, cpu_seconds, free_port};

use phases::{Expected, arrivals, burst, outbox, outcome, wait_all};
use server::ServerSpec;
use sink::start_sink;

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

async fn run(args: &Args) -> Result<()> {
    let backend = args.backend.backend();
    sextant_bench::print_run_header("sextant-bench-webhooks", args.backend);
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
    let mut figures = Figures::default();

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
    arrivals(&mut figures, "paced", &o);
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
    arrivals(&mut figures, "burst", &o);
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
