//! GOALS.md P3: what a runtime's agent reads (`applicationsForRuntime`).

use std::collections::HashSet;
use std::sync::Arc;

use anyhow::{Result, anyhow, ensure};
use serde_json::{Value, json};

use crate::gql::Gql;
use crate::inputs::{app_input, basic_auth, runtime_batch};
use crate::measure::{Counter, Limit, Report, measure, seed_runtimes};
use crate::measure::{Read, reads, statements_of};
use crate::{
    APIS_PER_APP, APPS_FOR_RUNTIME, APPS_FOR_RUNTIME_AFRESH, Config, EVENTS_PER_APP, P3_APPS,
    P3_APPS_PAGE, P3_ITEMS_PAGE, P3_SCENARIO, REGISTER_CATALOG, REGISTER_RUNTIME, RUNTIME_COUNT,
    SET_API_AUTH, TARGET_PASSWORD, TARGET_USER,
};

/// Registers one runtime; answers its id.
pub(crate) async fn register_runtime(gql: &Gql, name: &str, labels: Value) -> Result<String> {
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

pub(crate) fn p3_vars(runtime: &str, apps: usize, items: usize) -> Value {
    json!({"rt": runtime, "apps": apps, "items": items})
}

/// GOALS.md P3: seeds the runtimes, the target runtime's applications and its credentials,
/// checks what the target runtime sees, then measures `applicationsForRuntime`.
pub(crate) async fn p3(
    report: &mut Report,
    config: &Config,
    gql: &Gql,
    statements: &Counter,
) -> Result<()> {
    let runtimes = seed_p3_runtimes(report, config, gql, statements).await?;
    let catalog = register_target_apps(config, gql).await?;
    set_credentials(report, config, gql, statements, &runtimes, &catalog.api_ids).await?;
    measure_target(report, config, gql, statements, &runtimes.target, &catalog).await
}

/// The P3 runtimes: the target (alone in its scenario) and a decoy (in DEFAULT).
struct P3Runtimes {
    target: String,
    decoy: String,
}

/// What the target runtime must see: its applications and their APIs.
struct Catalog {
    app_ids: HashSet<String>,
    api_ids: Arc<Vec<String>>,
}

/// Runtimes: the target (alone in its scenario), a decoy, and the rest; checks the count.
async fn seed_p3_runtimes(
    report: &mut Report,
    config: &Config,
    gql: &Gql,
    statements: &Counter,
) -> Result<P3Runtimes> {
    let c = config.concurrency;
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
        let row = seed_runtimes(gql, c, config.batch, others, statements, runtime_batch).await?;
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
    Ok(P3Runtimes { target, decoy })
}

/// The target's applications (in its scenario), each with its APIs and events.
async fn register_target_apps(config: &Config, gql: &Gql) -> Result<Catalog> {
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
    Ok(Catalog {
        app_ids,
        api_ids: Arc::new(api_ids),
    })
}

/// Credentials for the target and the decoy on every API (a measured row of the seed).
async fn set_credentials(
    report: &mut Report,
    config: &Config,
    gql: &Gql,
    statements: &Counter,
    runtimes: &P3Runtimes,
    api_ids: &Arc<Vec<String>>,
) -> Result<()> {
    let (g, ids) = (gql.clone(), api_ids.clone());
    let (t, d) = (runtimes.target.clone(), runtimes.decoy.clone());
    let row = measure(
        "seed: setAPIAuth",
        config.concurrency,
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
    Ok(())
}

/// What the target sees (checked), what it costs (statements, no N+1), then the measurement.
async fn measure_target(
    report: &mut Report,
    config: &Config,
    gql: &Gql,
    statements: &Counter,
    target: &str,
    catalog: &Catalog,
) -> Result<()> {
    let full = p3_vars(target, P3_APPS_PAGE, P3_ITEMS_PAGE);
    let before = statements();
    let data = gql.call(APPS_FOR_RUNTIME, full.clone()).await?;
    let per_request = statements() - before;
    check_p3(&data, &catalog.app_ids, &catalog.api_ids)?;
    let response_bytes = json!({ "data": data }).to_string().len();
    let minimal = statements_of(gql, statements, APPS_FOR_RUNTIME, p3_vars(target, 1, 1)).await?;
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
    let afresh = full.clone();
    reads(
        report,
        config,
        gql,
        statements,
        Read {
            name: "applicationsForRuntime (unchanged: the kept answer)",
            query: APPS_FOR_RUNTIME,
            limit: Limit::For(config.duration),
        },
        move |_| full.clone(),
    )
    .await?;
    reads(
        report,
        config,
        gql,
        statements,
        Read {
            name: "applicationsForRuntime with status (computed every time)",
            query: APPS_FOR_RUNTIME_AFRESH,
            limit: Limit::For(config.duration),
        },
        move |_| afresh.clone(),
    )
    .await
}

/// Fails unless the answer holds exactly the target's applications, each with its APIs (with
/// specs and the target's own credentials) and its events.
pub(crate) fn check_p3(data: &Value, app_ids: &HashSet<String>, api_ids: &[String]) -> Result<()> {
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
