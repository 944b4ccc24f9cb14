//! GOALS.md P9 through GraphQL: the runtime and application lists (pages of 100), unfiltered,
//! filtered by a scalar label (`env`) and by a scenario, and searched by the start of the
//! name (`namePrefix`, as the console searches), with many runtimes in the store.
//! Checks what each filter answers and that its statements do not grow with the page size,
//! then measures each list at concurrency 1 and at `--concurrency`; then the console's pages
//! of the same lists (`crate::console`).

use std::fmt::Write as _;

use anyhow::{Result, anyhow, ensure};
use serde_json::{Value, json};

use crate::console::Totals;
use crate::gql::Gql;
use crate::measure::{
    Counter, Limit, Read, Report, ms, reads, same_cost, seed_runtimes, statements_of,
};
use crate::{APPLICATIONS, Config, PAGE};

/// What the phase lists: runtimes and applications with their labels and status.
pub(crate) const RUNTIMES: &str = "query($first: Int, $after: PageCursor, $filter: [LabelFilter!], \
    $namePrefix: String) { \
    runtimes(first: $first, after: $after, filter: $filter, namePrefix: $namePrefix) { \
    data { id name description labels status { condition } } \
    totalCount pageInfo { hasNextPage endCursor } } }";

/// The application list searched by name (`crate::APPLICATIONS` with `namePrefix`).
const APPLICATIONS_NAMED: &str = "query($first: Int, $after: PageCursor, $filter: [LabelFilter!], \
    $namePrefix: String) { \
    applications(first: $first, after: $after, filter: $filter, namePrefix: $namePrefix) { \
    data { id name providerName description labels status { condition } } \
    totalCount pageInfo { hasNextPage endCursor } } }";
/// The name searches: a tenth of the runtimes (`list-rt-01…`: 010000 to 019999 of 100,000)
/// and of the applications (`bench-app-001…`: 001000 to 001999 of 10,000).
const RUNTIMES_PREFIX: &str = "list-rt-01";
const APPLICATIONS_PREFIX: &str = "bench-app-001";

/// The `env` values of the seeded runtimes, one in five each.
const ENVS: [&str; 5] = ["prod", "dev", "staging", "test", "qa"];
/// The lists measured, by their names in the report.
const LIST_NAMES: [&str; 8] = [
    "runtimes(first:100)",
    "runtimes env=prod",
    "runtimes scenario ALPHA",
    "runtimes namePrefix list-rt-01",
    "applications(first:100)",
    "applications env=prod",
    "applications scenario ALPHA",
    "applications namePrefix bench-app-001",
];
/// The goal (GOALS.md P9: a list or console page in 50 ms at p99).
const P9_GOAL_P99_MS: f64 = 50.0;

/// The labels of the `k`-th seeded runtime: `env` one of [`ENVS`], scenarios one of four
/// sets (the scenario filter's `ALPHA` is a quarter of them).
fn runtime_input(k: usize) -> Value {
    let scenarios = match k % 4 {
        0 => json!(["DEFAULT"]),
        1 => json!(["ALPHA"]),
        2 => json!(["BETA", "GAMMA"]),
        _ => json!(["DEFAULT", "DELTA"]),
    };
    json!({
        "name": format!("list-rt-{k:06}"),
        "description": format!("Listed runtime {k}"),
        "labels": {"scenarios": scenarios, "env": ENVS[k % ENVS.len()]},
    })
}

fn runtime_batch(from: usize, to: usize) -> (String, Value) {
    let mut params = Vec::new();
    let mut fields = String::new();
    let mut vars = serde_json::Map::new();
    for k in from..to {
        params.push(format!("$r{k}: RuntimeInput!"));
        let _ = write!(fields, " r{k}: registerRuntime(in: $r{k}) {{ id }}");
        vars.insert(format!("r{k}"), runtime_input(k));
    }
    (
        format!("mutation({}) {{{fields} }}", params.join(", ")),
        Value::Object(vars),
    )
}

fn vars(first: usize, list: &List) -> Value {
    let mut vars = json!({"first": first, "after": null, "filter": list.filter});
    if let Some(prefix) = list.name_prefix {
        vars["namePrefix"] = json!(prefix);
    }
    vars
}

/// One list to check and measure.
struct List {
    name: &'static str,
    /// `runtimes` or `applications`.
    field: &'static str,
    query: &'static str,
    filter: Option<Value>,
    /// The start of the names searched for.
    name_prefix: Option<&'static str>,
    /// How many objects it holds.
    total: usize,
    /// Whether an item belongs in it.
    belongs: fn(&Value) -> bool,
}

fn scenarios_of(item: &Value) -> Vec<&str> {
    item["labels"]["scenarios"]
        .as_array()
        .map(|s| s.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// GOALS.md P9: seeds the runtimes, checks each list and its cost, then measures each.
pub(crate) async fn filtered(
    report: &mut Report,
    config: &Config,
    gql: &Gql,
    statements: &Counter,
) -> Result<()> {
    seed(report, config, gql, statements).await?;
    let lists = lists(config);
    check_lists(report, gql, statements, &lists).await?;
    measure_lists(report, config, gql, statements, &lists).await?;
    crate::console::console_pages(report, config, gql, statements, &totals(&lists)).await
}

/// What the console's pages of the same lists show.
fn totals(lists: &[List; 8]) -> Totals {
    let total = |i: usize| lists[i].total;
    Totals {
        runtimes: [total(0), total(1), total(2), total(3)],
        applications: [total(4), total(5), total(6), total(7)],
        prefixes: [RUNTIMES_PREFIX, APPLICATIONS_PREFIX],
    }
}

/// Seeds `--list-runtimes` runtimes (a row and a note).
async fn seed(report: &mut Report, config: &Config, gql: &Gql, statements: &Counter) -> Result<()> {
    let c = config.concurrency;
    let n = config.list_runtimes;
    eprintln!(
        "P9: seeding {n} runtimes ({} per request, {c} in flight) ...",
        config.batch
    );
    let row = seed_runtimes(gql, c, config.batch, n, statements, runtime_batch).await?;
    if let Some(url) = &config.postgres_url {
        // Tables that grew from nothing within minutes have no statistics until autovacuum
        // gets to them; a server that has been running has them. Without, a page's labels
        // were read by scanning the tenant's label rows (200 ms instead of 0.6 ms).
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(url).await?;
        sqlx::query("ANALYZE").execute(&mut conn).await?;
        conn.close().await?;
        report
            .notes
            .push("P9 seed: ANALYZE after the seed (PostgreSQL)".to_owned());
    }
    report.notes.push(format!(
        "P9 seed: {n} runtimes in {:.1} s ({} per request, {c} in flight); env one of {ENVS:?}, \
         scenarios DEFAULT, ALPHA, BETA+GAMMA or DEFAULT+DELTA; {} applications registered before \
         (every {}th env=prod, scenarios DEFAULT, ALPHA, BETA or DEFAULT+GAMMA)",
        row.wall.as_secs_f64(),
        config.batch,
        config.apps,
        config.prod_every,
    ));
    report.rows.push(row);
    Ok(())
}

/// The lists [`LIST_NAMES`] names, with what each must hold.
fn lists(config: &Config) -> [List; 8] {
    let n = config.list_runtimes;
    let count_of = |every: usize, offset: usize| (0..n).filter(|k| k % every == offset).count();
    let apps_alpha = (0..config.apps).filter(|i| i % 4 == 1).count();
    [
        List {
            name: LIST_NAMES[0],
            field: "runtimes",
            query: RUNTIMES,
            filter: None,
            name_prefix: None,
            total: n,
            belongs: |_| true,
        },
        List {
            name: LIST_NAMES[1],
            field: "runtimes",
            query: RUNTIMES,
            filter: Some(json!([{"key": "env", "query": "\"prod\""}])),
            name_prefix: None,
            total: count_of(ENVS.len(), 0),
            belongs: |item| item["labels"]["env"] == "prod",
        },
        List {
            name: LIST_NAMES[2],
            field: "runtimes",
            query: RUNTIMES,
            filter: Some(json!([{"key": "scenarios", "query": "$[*] ? (@ == \"ALPHA\")"}])),
            name_prefix: None,
            total: count_of(4, 1),
            belongs: |item| scenarios_of(item).contains(&"ALPHA"),
        },
        List {
            name: LIST_NAMES[3],
            field: "runtimes",
            query: RUNTIMES,
            filter: None,
            name_prefix: Some(RUNTIMES_PREFIX),
            total: (0..n)
                .filter(|k| format!("list-rt-{k:06}").starts_with(RUNTIMES_PREFIX))
                .count(),
            belongs: |item| {
                item["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with(RUNTIMES_PREFIX))
            },
        },
        List {
            name: LIST_NAMES[4],
            field: "applications",
            query: APPLICATIONS,
            filter: None,
            name_prefix: None,
            total: config.apps,
            belongs: |_| true,
        },
        List {
            name: LIST_NAMES[5],
            field: "applications",
            query: APPLICATIONS,
            filter: Some(json!([{"key": "env", "query": "\"prod\""}])),
            name_prefix: None,
            total: config.prod_count(),
            belongs: |item| item["labels"]["env"] == "prod",
        },
        List {
            name: LIST_NAMES[6],
            field: "applications",
            query: APPLICATIONS,
            filter: Some(json!([{"key": "scenarios", "query": "$[*] ? (@ == \"ALPHA\")"}])),
            name_prefix: None,
            total: apps_alpha,
            belongs: |item| scenarios_of(item).contains(&"ALPHA"),
        },
        List {
            name: LIST_NAMES[7],
            field: "applications",
            query: APPLICATIONS_NAMED,
            filter: None,
            name_prefix: Some(APPLICATIONS_PREFIX),
            total: (0..config.apps)
                .filter(|i| format!("bench-app-{i:06}").starts_with(APPLICATIONS_PREFIX))
                .count(),
            belongs: |item| {
                item["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with(APPLICATIONS_PREFIX))
            },
        },
    ]
}

/// Each list answers what it should, at a cost independent of the page size (a failure
/// otherwise, and a note).
async fn check_lists(
    report: &mut Report,
    gql: &Gql,
    statements: &Counter,
    lists: &[List],
) -> Result<()> {
    let mut costs = Vec::new();
    for list in lists {
        check_first_page(gql, list).await?;
        let one = statements_of(gql, statements, list.query, vars(1, list)).await?;
        let full = statements_of(gql, statements, list.query, vars(PAGE, list)).await?;
        let large = format!("first:{PAGE}");
        same_cost(
            report,
            &mut costs,
            list.name,
            ("first:1", one),
            (&large, full),
        );
    }
    report.notes.push(format!(
        "P9 SQL statements per list by page size: {}",
        costs.join("; ")
    ));
    Ok(())
}

/// The list's first page: its total, and only items that belong.
async fn check_first_page(gql: &Gql, list: &List) -> Result<()> {
    let data = gql.call(list.query, vars(PAGE, list)).await?;
    let page = &data[list.field];
    let items = page["data"]
        .as_array()
        .ok_or_else(|| anyhow!("{}: no data: {page}", list.name))?;
    ensure!(
        page["totalCount"] == list.total,
        "{}: totalCount {}, expected {}",
        list.name,
        page["totalCount"],
        list.total
    );
    ensure!(
        items.len() == list.total.min(PAGE) && items.iter().all(list.belongs),
        "{}: the page holds {} items, or items outside the list",
        list.name,
        items.len()
    );
    Ok(())
}

/// The measurements: each list at concurrency 1 and at `--concurrency`.
async fn measure_lists(
    report: &mut Report,
    config: &Config,
    gql: &Gql,
    statements: &Counter,
    lists: &[List],
) -> Result<()> {
    eprintln!("P9: {} requests per measurement ...", config.reads);
    for list in lists {
        let variables = vars(PAGE, list);
        reads(
            report,
            config,
            gql,
            statements,
            Read {
                name: list.name,
                query: list.query,
                limit: Limit::Count(config.reads),
            },
            move |_| variables.clone(),
        )
        .await?;
    }
    Ok(())
}

/// The P9 lines of the summary: each list's and console page's p50 and p99 against the
/// goal.
pub(crate) fn summary(report: &Report, config: &Config) -> Vec<String> {
    let c = config.concurrency;
    let names = LIST_NAMES
        .iter()
        .map(|&name| name.to_owned())
        .chain(crate::console::page_names(&totals(&lists(config))));
    let mut lines = Vec::new();
    for name in names {
        for concurrency in [1, c] {
            if let Some(row) = report.row(&name, concurrency) {
                let p99 = row.percentile(99.0);
                lines.push(format!(
                    "P9 {name} ({} runtimes, {} applications), c={concurrency}: p50 {} ms, \
                     p99 {} ms, {} SQL statements/request [p99 <= {P9_GOAL_P99_MS:.0} ms: {}]",
                    config.list_runtimes,
                    config.apps,
                    ms(row.percentile(50.0)),
                    ms(p99),
                    row.statements_cell(),
                    if p99.as_secs_f64() * 1000.0 <= P9_GOAL_P99_MS {
                        "met"
                    } else {
                        "NOT met"
                    },
                ));
            }
            if c == 1 {
                break;
            }
        }
    }
    lines
}
