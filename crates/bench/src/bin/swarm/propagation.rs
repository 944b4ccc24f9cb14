//! P4's rounds: each change propagated to every agent, the administrator's writes and
//! `/healthz` timed while the agents re-fetch, and the figures.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::json;
use sextant_bench::figures::{Figures, largest, ms_between, p50_p99_max, percentile, sorted};

use super::admin::Admin;
use super::agent::collect_round;
use super::{Args, PROPAGATION_DEADLINE, Server, Swarm};

/// P4's times (ms) and server CPU (s) over every round.
#[derive(Default)]
struct Propagation {
    /// Each agent's applied − commit.
    from_commit: Vec<f64>,
    /// Each agent's applied − mutation sent.
    from_send: Vec<f64>,
    /// Each agent's 200 received − commit.
    received_from_commit: Vec<f64>,
    /// Each round's last agent applied − commit.
    last_per_round: Vec<f64>,
    /// Each mutation's round trip.
    commit_ms: Vec<f64>,
    cpu_per_change: Vec<f64>,
    /// The administrator's writes (`setRuntimeStatus`) while the agents re-fetch, ms.
    writes_ms: Vec<f64>,
    /// `/healthz` while the agents re-fetch, ms.
    health_ms: Vec<f64>,
}

/// What the administrator saw while the agents re-fetched.
#[derive(Default)]
struct Probe {
    writes_ms: Vec<f64>,
    health_ms: Vec<f64>,
}

/// Writes (`setRuntimeStatus` of a runtime no agent follows: a write transaction that wakes
/// no agent) and `/healthz`, one after the other every 25 ms, until told to stop.
fn start_probe(
    admin: Arc<Admin>,
    runtime: String,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<Result<Probe>> {
    tokio::spawn(async move {
        let mut probe = Probe::default();
        while !*stop.borrow() {
            let t = Instant::now();
            admin
                .director(
                    "mutation($id: ID!) { setRuntimeStatus(id: $id, condition: READY) { id } }",
                    json!({"id": runtime}),
                )
                .await?;
            probe.writes_ms.push(t.elapsed().as_secs_f64() * 1e3);
            let t = Instant::now();
            admin
                .http
                .get(format!("{}/healthz", admin.base))
                .send()
                .await?
                .error_for_status()?;
            probe.health_ms.push(t.elapsed().as_secs_f64() * 1e3);
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(25)) => {}
                _ = stop.changed() => {}
            }
        }
        Ok(probe)
    })
}

/// P4: `--rounds` changes, each propagated to every agent; their figures.
pub(crate) async fn p4_rounds(
    args: &Args,
    server: &Server,
    app: &str,
    probe_runtime: &str,
    swarm: &mut Swarm,
    figures: &mut Figures,
) -> Result<()> {
    let mut propagation = Propagation::default();
    for round in 1..=args.rounds {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let probe = start_probe(server.admin.clone(), probe_runtime.to_owned(), stopped);
        propagate(args, server, app, swarm, round, &mut propagation).await?;
        let _ = stop.send(true);
        let probe = probe.await??;
        propagation.writes_ms.extend(probe.writes_ms);
        propagation.health_ms.extend(probe.health_ms);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    p4_figures(args, propagation, figures);
    Ok(())
}

/// One round: a new API (`addAPIDefinition`); every agent must apply the new document.
async fn propagate(
    args: &Args,
    server: &Server,
    app: &str,
    swarm: &mut Swarm,
    round: usize,
    p: &mut Propagation,
) -> Result<()> {
    let name = format!("swarm-api-{round}");
    swarm.expected.push(name.clone());
    swarm.expected.sort();
    let cpu = server.cpu.seconds()?;
    let sent = Instant::now();
    server.admin.add_api(app, &name, round).await?;
    let committed = Instant::now();
    let applied = collect_round(
        &mut swarm.reports,
        args.agents,
        &swarm.expected,
        PROPAGATION_DEADLINE,
    )
    .await
    .with_context(|| format!("round {round}"))?;
    p.cpu_per_change.push(server.cpu.seconds()? - cpu);
    p.commit_ms.push(ms_between(committed, sent));
    let mut last = f64::MIN;
    for (received, applied) in applied {
        let ms = ms_between(applied, committed);
        last = last.max(ms);
        p.from_commit.push(ms);
        p.from_send.push(ms_between(applied, sent));
        p.received_from_commit.push(ms_between(received, committed));
    }
    p.last_per_round.push(last);
    println!(
        "  round {round}: mutation {:.1} ms, last agent applied {last:.0} ms after the commit",
        p.commit_ms.last().copied().unwrap_or_default()
    );
    Ok(())
}

fn p4_figures(args: &Args, p: Propagation, figures: &mut Figures) {
    let last_per_round = sorted(p.last_per_round);
    figures.add(
        format!(
            "P4 applied − commit, p50 / p99 / max ms ({} agents × {} changes)",
            args.agents, args.rounds
        ),
        p50_p99_max(&sorted(p.from_commit), 0),
    );
    figures.add(
        "P4 applied − mutation sent, p50 / p99 / max ms",
        p50_p99_max(&sorted(p.from_send), 0),
    );
    figures.add(
        "P4 200 received − commit, p50 / p99 / max ms",
        p50_p99_max(&sorted(p.received_from_commit), 0),
    );
    figures.add(
        "P4 last agent applied − commit, median of rounds / max ms",
        format!(
            "{:.0} / {:.0}",
            percentile(&last_per_round, 50.0),
            largest(&last_per_round)
        ),
    );
    figures.add(
        "P4 mutation round trip (addAPIDefinition), median ms",
        format!("{:.1}", percentile(&sorted(p.commit_ms), 50.0)),
    );
    let cpu_per_change = percentile(&sorted(p.cpu_per_change), 50.0);
    figures.add(
        "P4 server CPU per change (all agents served), median s; per agent µs",
        format!(
            "{cpu_per_change:.2}; {:.0}",
            cpu_per_change / args.agents as f64 * 1e6
        ),
    );
    figures.add(
        format!(
            "P4 administrator's write while the agents re-fetch, p50 / p99 / max ms ({} writes)",
            p.writes_ms.len()
        ),
        p50_p99_max(&sorted(p.writes_ms), 1),
    );
    figures.add(
        "P4 /healthz while the agents re-fetch, p50 / p99 / max ms",
        p50_p99_max(&sorted(p.health_ms), 1),
    );
}
