//! GOALS.md P8: the reconnect storm after a server restart. The server is killed (SIGKILL,
//! as a crash or a failover) while every agent holds a long poll, and started again on the
//! same data directory and database; each agent's request fails, and after a second it checks
//! its document without waiting (`wait=0`, with the ETag it holds): a new TLS handshake, its
//! certificate checked again, its document built again. Measured: how long after the new
//! server was ready every agent was served again, how many got a 304 (nothing changed: all
//! of them should), and the statements and CPU the storm cost the new server.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use sextant_bench::figures::{Figures, ms_between, p50_p99_max, sorted};
use sextant_bench::host::CpuMeter;
use sextant_bench::spawned::Spawned;
use sextant_test_support::TestDatabase;

use super::agent::Report;
use super::{Args, Server, Swarm, server_command, wait_ready};

/// Every agent must be served again within this long after the new server is ready.
const STORM_DEADLINE: Duration = Duration::from_secs(60);

pub(crate) async fn p8_restart(
    args: &Args,
    server: &mut Server,
    db: &TestDatabase,
    sextant: &std::path::Path,
    swarm: &mut Swarm,
    figures: &mut Figures,
) -> Result<()> {
    // Whatever the agents reported before is not this phase's.
    while swarm.reports.try_recv().is_ok() {}
    swarm.revalidate.store(true, Ordering::SeqCst);
    println!(
        "P8: killing the server with {} agents connected",
        args.agents
    );
    let killed = Instant::now();
    server.process.kill9()?;
    let command = server_command(
        args,
        db,
        sextant,
        &server.data_dir,
        (server.main_port, server.mtls_port),
    );
    let mut process = Spawned::start_appending(command, server.log.clone())?;
    let admin = wait_ready(&mut process, &server.data_dir, server.main_port).await?;
    let ready = Instant::now();
    server.pid = process.pid();
    server.process = process;
    server.cpu = CpuMeter::of(server.pid);
    server.admin = std::sync::Arc::new(admin);
    let cpu_at_ready = server.cpu.seconds()?;

    let mut served: Vec<Option<Instant>> = vec![None; args.agents];
    let (mut not_modified, mut documents, mut errors) = (0usize, 0usize, 0usize);
    let mut remaining = args.agents;
    let deadline = tokio::time::Instant::now() + STORM_DEADLINE;
    while remaining > 0 {
        let report = tokio::time::timeout_at(deadline, swarm.reports.recv())
            .await
            .map_err(|_| {
                anyhow!(
                    "{remaining} of {} agents were not served again within {STORM_DEADLINE:?} of the restart",
                    args.agents
                )
            })?
            .ok_or_else(|| anyhow!("every agent stopped"))?;
        let (agent, at) = match report {
            Report::Revalidated { agent, at } => {
                not_modified += 1;
                (agent, at)
            }
            Report::Applied { agent, applied, .. } => {
                documents += 1;
                (agent, applied)
            }
            Report::Error { .. } => {
                errors += 1;
                continue;
            }
        };
        let slot = served
            .get_mut(agent)
            .ok_or_else(|| anyhow!("no agent {agent}"))?;
        if slot.is_none() {
            *slot = Some(at);
            remaining -= 1;
        }
    }
    let storm_cpu = server.cpu.seconds()? - cpu_at_ready;
    let statements = server.admin.statements().await?;
    swarm.revalidate.store(false, Ordering::SeqCst);

    let after_ready: Vec<f64> = served
        .iter()
        .flatten()
        .map(|at| ms_between(*at, ready).max(0.0))
        .collect();
    let last = after_ready.iter().copied().fold(0.0, f64::max);
    let distinct: HashSet<usize> = served
        .iter()
        .enumerate()
        .filter_map(|(i, at)| at.map(|_| i))
        .collect();
    if distinct.len() != args.agents {
        bail!("{} agents served, expected {}", distinct.len(), args.agents);
    }
    println!(
        "  down and ready again in {:.2?}; every agent served again {:.0} ms after ready",
        ready - killed,
        last
    );
    figures.add(
        "P8 server killed (SIGKILL) and started again: ready after",
        format!("{:.2?}", ready - killed),
    );
    figures.add(
        format!(
            "P8 every agent served again, ms after the new server was ready: p50 / p99 / last ({} agents)",
            args.agents
        ),
        p50_p99_max(&sorted(after_ready), 0),
    );
    figures.add(
        "P8 answers: 304 (document unchanged) / 200 / failed requests while down",
        format!("{not_modified} / {documents} / {errors}"),
    );
    figures.add(
        "P8 the new server until every agent was served: CPU s / SQL statements since start",
        format!("{storm_cpu:.2} / {statements}"),
    );
    Ok(())
}
