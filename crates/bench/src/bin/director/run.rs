//! The run: the `scenarios` definition, the registrations (P6, checked), then the phases asked
//! for.

use anyhow::{Context, Result, anyhow, ensure};
use serde_json::json;

use crate::gql::Gql;
use crate::inputs::{ASYNCAPI_SPECS, OPENAPI_SPECS, app_input, app_scenarios};
use crate::measure::{Counter, Limit, Report, measure};
use crate::p3::p3;
use crate::writes;
use crate::{
    APIS_PER_APP, CATALOG_COUNTS, CREATE_LABEL_DEFINITION, Config, EVENTS_PER_APP, PhaseArg,
    REGISTER, SCENARIO_PATTERN, SCENARIOS, SCENARIOS_DEFINITION, UPDATE_LABEL_DEFINITION,
    summarize,
};

use crate::lists::lists;

/// The run: the scenarios, the registrations (P6's figure and every phase's seed, checked),
/// then the phases asked for, the notes and the summary.
pub(crate) async fn bench(config: &Config, gql: &Gql, statements: &Counter) -> Result<Report> {
    let mut report = Report::default();

    // --- the scenarios the registrations and runtimes use ---
    define_scenarios(gql).await?;
    register_apps(&mut report, config, gql, statements).await?;
    check_catalog(gql, config.apps).await?;

    if config.runs(PhaseArg::Lists) {
        lists(&mut report, config, gql, statements).await?;
    }
    if config.runs(PhaseArg::P3) {
        p3(&mut report, config, gql, statements).await?;
    }
    if config.runs(PhaseArg::P6) {
        register_one_at_a_time(&mut report, config, gql, statements).await?;
    }
    if config.phase == PhaseArg::Filtered {
        crate::filtered::filtered(&mut report, config, gql, statements).await?;
    }
    // Last: its webhooks keep the notifier delivering in the background.
    if config.runs(PhaseArg::Writes) {
        writes::writes(&mut report, config, gql, statements).await?;
    }
    report.notes.push(
        "stmt/req: exact per-request range at conc 1, average otherwise (BEGIN/COMMIT not counted); \
         cpu ms/req: this whole process (client and server), not PostgreSQL's"
            .into(),
    );
    summarize(&mut report, config);
    Ok(report)
}

/// Registration (P6; also the store's seed for the other phases): `--apps` applications at
/// `--concurrency`, a row and a note.
async fn register_apps(
    report: &mut Report,
    config: &Config,
    gql: &Gql,
    statements: &Counter,
) -> Result<()> {
    let c = config.concurrency;
    eprintln!(
        "registering {} applications ({APIS_PER_APP} APIs + {EVENTS_PER_APP} events each) with {c} in flight ...",
        config.apps
    );
    let (g, prod_every) = (gql.clone(), config.prod_every);
    let row = measure(
        "registerApplication",
        c,
        Limit::Count(config.apps),
        statements,
        move |i| {
            let g = g.clone();
            async move {
                let data = g
                    .call(
                        REGISTER,
                        app_input(i, "bench-app", prod_every, app_scenarios(i)),
                    )
                    .await?;
                ensure!(
                    data["registerApplication"]["id"].is_string(),
                    "registerApplication returned no id: {data}"
                );
                Ok(())
            }
        },
    )
    .await?;
    let request_bytes = app_input(0, "bench-app", prod_every, app_scenarios(0))
        .to_string()
        .len();
    report.notes.push(format!(
        "registration: {} applications ({APIS_PER_APP} APIs with a {} B OpenAPI YAML spec each, one with basic defaultAuth; \
         {EVENTS_PER_APP} events with a {} B AsyncAPI YAML spec each; 3 labels + description; {:.1} KB of JSON variables per request) \
         in {:.1} s = {:.0}/s overall, {:.2} SQL statements per registration",
        row.count(),
        OPENAPI_SPECS[0].len(),
        ASYNCAPI_SPECS[0].len(),
        request_bytes as f64 / 1024.0,
        row.wall.as_secs_f64(),
        row.rate(),
        row.statements as f64 / row.count() as f64,
    ));
    report.rows.push(row);
    Ok(())
}

/// Unloaded write latency: more applications, one at a time.
async fn register_one_at_a_time(
    report: &mut Report,
    config: &Config,
    gql: &Gql,
    statements: &Counter,
) -> Result<()> {
    eprintln!(
        "registering {} more applications one at a time ...",
        config.serial_apps
    );
    let (g, prod_every) = (gql.clone(), config.prod_every);
    let row = measure(
        "registerApplication",
        1,
        Limit::Count(config.serial_apps),
        statements,
        move |i| {
            let g = g.clone();
            async move {
                g.call(
                    REGISTER,
                    app_input(i, "bench-serial", prod_every, app_scenarios(i)),
                )
                .await
                .map(drop)
            }
        },
    )
    .await?;
    report.rows.push(row);
    Ok(())
}

/// Sets the `scenarios` label definition's enum to [`SCENARIOS`] (creating it if the tenant
/// has none yet).
pub(crate) async fn define_scenarios(gql: &Gql) -> Result<()> {
    let schema = json!({
        "type": "array",
        "minItems": 1,
        "uniqueItems": true,
        "items": {
            "type": "string",
            "pattern": SCENARIO_PATTERN,
            "enum": SCENARIOS,
            "maxLength": 128
        }
    })
    .to_string();
    let existing = gql.call(SCENARIOS_DEFINITION, json!({})).await?;
    let mutation = if existing["labelDefinition"].is_null() {
        CREATE_LABEL_DEFINITION
    } else {
        UPDATE_LABEL_DEFINITION
    };
    gql.call(
        mutation,
        json!({"in": {"key": "scenarios", "schema": schema}}),
    )
    .await
    .context("defining the scenarios")?;
    Ok(())
}

/// Checks that the first registered applications have their APIs and events.
pub(crate) async fn check_catalog(gql: &Gql, apps: usize) -> Result<()> {
    let first = apps.min(5);
    let data = gql.call(CATALOG_COUNTS, json!({"first": first})).await?;
    let items = data["applications"]["data"]
        .as_array()
        .ok_or_else(|| anyhow!("applications.data is not a list: {data}"))?;
    ensure!(
        items.len() == first,
        "expected {first} applications: {data}"
    );
    for app in items {
        let apis = &app["apiDefinitions"];
        ensure!(
            apis["totalCount"] == APIS_PER_APP
                && app["eventDefinitions"]["totalCount"] == EVENTS_PER_APP,
            "application {} has {} APIs and {} events, expected {APIS_PER_APP} and {EVENTS_PER_APP}",
            app["id"],
            apis["totalCount"],
            app["eventDefinitions"]["totalCount"]
        );
        let with_default_auth = apis["data"].as_array().map_or(0, |l| {
            l.iter()
                .filter(|a| a["defaultAuth"]["credential"]["username"] == "default")
                .count()
        });
        ensure!(
            with_default_auth == 1,
            "application {} has {with_default_auth} APIs with the basic defaultAuth, expected 1",
            app["id"]
        );
    }
    Ok(())
}
