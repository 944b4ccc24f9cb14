//! The write path (`--phase writes`): mutations whose webhook events concern many applications.
//! Applications in scenario WRITES, every second one with a webhook (a receiver on loopback
//! answering 204, so the notifier delivers while the writes are measured, as in production);
//! then `registerRuntime` into WRITES one at a time and 25 aliased in one request, and
//! `setRuntimeLabel` moving a runtime between WRITES and SPARE (no applications), each at
//! concurrency 1 with its exact statement count, against `registerRuntime` into SPARE.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};

use crate::gql::Gql;
use crate::inputs::app_input;
use crate::measure::{Counter, Limit, Report, Row, measure, ms};
use crate::p3::register_runtime;
use crate::{APIS_PER_APP, Config, REGISTER};

pub(super) const WRITES_SCENARIO: &str = "WRITES";
pub(super) const SPARE_SCENARIO: &str = "SPARE";
/// The issue's goals for these mutations.
const GOAL_P99: Duration = Duration::from_millis(20);
const GOAL_BATCH_P99: Duration = Duration::from_millis(200);
/// Runtimes per aliased request.
const BATCH: usize = 25;
/// An aliased request gives up after this long (longer than single requests: its figure is
/// wanted even far above the goal).
const BATCH_TIMEOUT: Duration = Duration::from_secs(300);

const SET_SCENARIOS: &str = "mutation($id: ID!, $v: Any!) { \
    setRuntimeLabel(runtimeID: $id, key: \"scenarios\", value: $v) { key } }";
const DELIVERIES: &str = "query($app: ID!) { application(id: $app) { \
    webhooks { deliveries(first: 100) { eventType payload } } } }";

/// A webhook receiver on loopback answering 204; counts what it got.
async fn receiver() -> Result<(String, Arc<AtomicUsize>)> {
    let got = Arc::new(AtomicUsize::new(0));
    let seen = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let seen = seen.clone();
            async move {
                seen.fetch_add(1, Ordering::Relaxed);
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("webhook receiver stopped: {e}");
        }
    });
    Ok((url, got))
}

/// One request registering `count` runtimes named `prefix-k` in `scenario`.
fn runtimes_request(prefix: &str, count: usize, scenario: &str) -> String {
    let fields: String = (0..count)
        .map(|k| {
            format!(
                r#" r{k}: registerRuntime(in: {{name: "{prefix}-{k}", labels: {{scenarios: ["{scenario}"]}}}}) {{ id }}"#
            )
        })
        .collect();
    format!("mutation {{{fields} }}")
}

pub(super) async fn writes(
    report: &mut Report,
    config: &Config,
    gql: &Gql,
    statements: &Counter,
) -> Result<()> {
    let (url, received) = receiver().await?;
    let (seed, first_app) = seed_applications(config, gql, statements, &url).await?;
    report.rows.push(seed);

    // What one registration causes for an application with a webhook, once the notifier
    // expanded its fan-outs (before the measurements, so behind no backlog).
    let check = register_runtime(
        gql,
        "bench-w-check",
        json!({"scenarios": [WRITES_SCENARIO]}),
    )
    .await?;
    check_told(gql, &first_app, &check).await?;

    let apps = config.write_apps;
    let samples = config.write_samples;
    let with_webhooks = apps.div_ceil(2);
    // Each joining runtime: CONFIGURATION_CHANGED to each application with a webhook, and
    // CREDENTIALS_REQUESTED for each of its APIs without a default auth (all but one).
    let per_join = with_webhooks * (1 + APIS_PER_APP - 1);
    eprintln!(
        "writes: {samples} x registerRuntime into {SPARE_SCENARIO}, then into {WRITES_SCENARIO} ({per_join} deliveries each) ..."
    );
    let spare =
        registrations_into(gql, statements, SPARE_SCENARIO, "bench-w-spare", samples).await?;
    let into = registrations_into(gql, statements, WRITES_SCENARIO, "bench-w-rt", samples).await?;
    let batch = batched_registrations(config, gql, statements).await?;
    let moves = scenario_moves(config, gql, statements).await?;

    report.notes.push(format!(
        "writes: {apps} applications in {WRITES_SCENARIO} ({APIS_PER_APP} APIs each, one with a default auth), {with_webhooks} with a webhook; \
         a runtime joining {WRITES_SCENARIO} queues {per_join} deliveries ({with_webhooks} CONFIGURATION_CHANGED + {} CREDENTIALS_REQUESTED), \
         leaving it {with_webhooks}; the receiver got {} deliveries by the end of the phase",
        with_webhooks * (APIS_PER_APP - 1),
        received.load(Ordering::Relaxed),
    ));
    let range = |row: &crate::measure::Row| row.statements_range.map(|s| (s.least, s.most));
    if range(&spare) != range(&into) {
        report.failures.push(format!(
            "registerRuntime costs {} statements into {WRITES_SCENARIO} but {} into {SPARE_SCENARIO}: an N+1",
            into.statements_cell(),
            spare.statements_cell()
        ));
    }
    report.rows.extend([spare, into, batch, moves]);
    Ok(())
}

/// Registers the phase's applications in [`WRITES_SCENARIO`], every second one with a
/// webhook to `hook` (and the label `webhook`); answers the row and one such application.
async fn seed_applications(
    config: &Config,
    gql: &Gql,
    statements: &Counter,
    hook: &str,
) -> Result<(Row, Value)> {
    let c = config.concurrency;
    let apps = config.write_apps;
    eprintln!(
        "writes: registering {apps} applications in {WRITES_SCENARIO}, every second one with a webhook, {c} in flight ..."
    );
    let (g, prod_every, hook) = (gql.clone(), config.prod_every, hook.to_owned());
    let row = measure(
        format!("seed: registerApplication in {WRITES_SCENARIO}"),
        c,
        Limit::Count(apps),
        statements,
        move |i| {
            let g = g.clone();
            let hook = hook.clone();
            async move {
                let mut input = app_input(i, "bench-w", prod_every, json!([WRITES_SCENARIO]));
                if i.is_multiple_of(2) {
                    input["in"]["webhooks"] =
                        json!([{"type": "CONFIGURATION_CHANGED", "url": hook}]);
                    input["in"]["labels"]["webhook"] = json!("yes");
                }
                g.call(REGISTER, input).await.map(drop)
            }
        },
    )
    .await?;
    let data = gql
        .call(
            "query($f: [LabelFilter!]) { applications(first: 1, filter: $f) { data { id name } } }",
            json!({"f": [{"key": "webhook"}]}),
        )
        .await?;
    Ok((row, data["applications"]["data"][0].clone()))
}

/// `samples` runtimes named `prefix-i` registered one at a time into `scenario`.
async fn registrations_into(
    gql: &Gql,
    statements: &Counter,
    scenario: &'static str,
    prefix: &'static str,
    samples: usize,
) -> Result<Row> {
    let g = gql.clone();
    measure(
        format!("registerRuntime into {scenario}"),
        1,
        Limit::Count(samples),
        statements,
        move |i| {
            let g = g.clone();
            async move {
                register_runtime(
                    &g,
                    &format!("{prefix}-{i}"),
                    json!({"scenarios": [scenario]}),
                )
                .await
                .map(drop)
            }
        },
    )
    .await
}

/// `--write-batches` requests of [`BATCH`] aliased `registerRuntime` into [`WRITES_SCENARIO`].
async fn batched_registrations(config: &Config, gql: &Gql, statements: &Counter) -> Result<Row> {
    let batches = config.write_batches;
    eprintln!("writes: {batches} x {BATCH} registerRuntime aliased in one request ...");
    let g = gql.clone();
    measure(
        format!("registerRuntime x{BATCH} into {WRITES_SCENARIO}"),
        1,
        Limit::Count(batches),
        statements,
        move |b| {
            let g = g.clone();
            async move {
                let data = g
                    .call_within(
                        &runtimes_request(&format!("bench-w-batch-{b}"), BATCH, WRITES_SCENARIO),
                        json!({}),
                        BATCH_TIMEOUT,
                    )
                    .await?;
                let registered = data
                    .as_object()
                    .map_or(0, |m| m.values().filter(|r| r["id"].is_string()).count());
                ensure!(
                    registered == BATCH,
                    "registered {registered} runtimes of {BATCH}"
                );
                Ok(())
            }
        },
    )
    .await
}

/// One runtime moved back and forth between [`SPARE_SCENARIO`] and [`WRITES_SCENARIO`] by
/// `setRuntimeLabel`, twice `--write-samples` times.
async fn scenario_moves(config: &Config, gql: &Gql, statements: &Counter) -> Result<Row> {
    let samples = config.write_samples;
    eprintln!(
        "writes: {samples} x setRuntimeLabel moving a runtime between {SPARE_SCENARIO} and {WRITES_SCENARIO} ..."
    );
    let mover =
        register_runtime(gql, "bench-w-mover", json!({"scenarios": [SPARE_SCENARIO]})).await?;
    let g = gql.clone();
    measure(
        "setRuntimeLabel scenarios (move)",
        1,
        Limit::Count(samples * 2),
        statements,
        move |i| {
            let g = g.clone();
            let mover = mover.clone();
            async move {
                let to = if i.is_multiple_of(2) {
                    WRITES_SCENARIO
                } else {
                    SPARE_SCENARIO
                };
                g.call(SET_SCENARIOS, json!({"id": mover, "v": [to]}))
                    .await
                    .map(drop)
            }
        },
    )
    .await
}

/// The phase's figures against the issue's goals.
pub(super) fn summary(report: &Report) -> Vec<String> {
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    let mut lines = Vec::new();
    for (phase, goal) in [
        (format!("registerRuntime into {WRITES_SCENARIO}"), GOAL_P99),
        (
            format!("registerRuntime x{BATCH} into {WRITES_SCENARIO}"),
            GOAL_BATCH_P99,
        ),
        ("setRuntimeLabel scenarios (move)".to_owned(), GOAL_P99),
    ] {
        if let Some(row) = report.row(&phase, 1) {
            lines.push(format!(
                "writes {phase}: p50 {} ms, p99 {} ms, {} SQL statements/request [p99 <= {} ms: {}]",
                ms(row.percentile(50.0)),
                ms(row.percentile(99.0)),
                row.statements_cell(),
                goal.as_millis(),
                verdict(row.percentile(99.0) <= goal),
            ));
        }
    }
    lines
}

/// How long the notifier may take to expand one registration's fan-outs.
const EXPANSION_TIMEOUT: Duration = Duration::from_secs(120);

/// `app` (with a webhook, in WRITES) is told of `runtime` within [`EXPANSION_TIMEOUT`]: one
/// CONFIGURATION_CHANGED and a CREDENTIALS_REQUESTED per API without a default auth.
async fn check_told(gql: &Gql, app: &Value, runtime: &str) -> Result<()> {
    let started = tokio::time::Instant::now();
    loop {
        match told(gql, app, runtime).await? {
            (1, credentials) if credentials == APIS_PER_APP - 1 => return Ok(()),
            (config, credentials)
                if (config, credentials) > (1, APIS_PER_APP - 1)
                    || started.elapsed() >= EXPANSION_TIMEOUT =>
            {
                anyhow::bail!(
                    "application {} was told {config} CONFIGURATION_CHANGED and {credentials} CREDENTIALS_REQUESTED about runtime {runtime}",
                    app["name"]
                )
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// The CONFIGURATION_CHANGED and CREDENTIALS_REQUESTED deliveries about `runtime` that `app`
/// has so far.
async fn told(gql: &Gql, app: &Value, runtime: &str) -> Result<(usize, usize)> {
    let data = gql.call(DELIVERIES, json!({"app": app["id"]})).await?;
    let deliveries = data["application"]["webhooks"][0]["deliveries"]
        .as_array()
        .context("the application has no webhook")?;
    let mut config = 0;
    let mut credentials = 0;
    for d in deliveries {
        let payload: Value = match &d["payload"] {
            Value::String(s) => serde_json::from_str(s)?,
            other => other.clone(),
        };
        if payload["runtimeID"] != runtime {
            continue;
        }
        match d["eventType"].as_str() {
            Some("CONFIGURATION_CHANGED") => config += 1,
            Some("CREDENTIALS_REQUESTED") => credentials += 1,
            _ => {}
        }
    }
    Ok((config, credentials))
}
