//! The application list reads: the walk of every page, the filter, the statement checks and
//! the read measurements.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, ensure};
use serde_json::{Value, json};

use crate::gql::Gql;
use crate::inputs::{applications_vars, page_of};
use crate::measure::{
    Counter, Limit, Read, Report, Row, cpu_since, process_cpu, reads, statements_of,
};
use crate::{APPLICATIONS, Config, PAGE, TYPENAME};

/// The application list reads: a walk of every page (a check and a figure), the `env=prod`
/// filter, the page-size statement check, and the read measurements.
pub(crate) async fn lists(
    report: &mut Report,
    config: &Config,
    gql: &Gql,
    statements: &Counter,
) -> Result<()> {
    // --- correctness of what the reads will see ---
    eprintln!("checking the stored applications ...");
    let cursors = walk_all_pages(report, config, gql, statements).await?;
    let filter = json!([{"key": "env", "query": "\"prod\""}]);
    check_prod_filter(config, gql, &filter).await?;
    page_size_statements(report, gql, statements, &filter).await?;

    // --- reads ---
    eprintln!("reads: {} requests per measurement ...", config.reads);
    list_reads(report, config, gql, statements, &filter).await?;
    deep_page_reads(report, config, gql, statements, &cursors).await?;
    Ok(())
}

/// What the walk of every page found.
struct Walk {
    /// The ids seen (each once).
    seen: HashSet<String>,
    /// The `after` cursor of every page but the first.
    cursors: Vec<String>,
    /// Each page's latency, in order.
    latencies: Vec<Duration>,
}

/// Walks every page of the list (a row of the report); checks that it holds every
/// application once. Answers the pages' cursors.
async fn walk_all_pages(
    report: &mut Report,
    config: &Config,
    gql: &Gql,
    statements: &Counter,
) -> Result<Vec<String>> {
    let walk_statements = statements();
    let walk_cpu = process_cpu();
    let walk_start = Instant::now();
    let Walk {
        seen,
        cursors,
        latencies: mut walk_latencies,
    } = walk_pages(config, gql).await?;
    ensure!(
        seen.len() == config.apps,
        "walking every page found {} applications of {}",
        seen.len(),
        config.apps
    );
    walk_latencies.sort_unstable();
    let walk_wall = walk_start.elapsed();
    report.rows.push(Row {
        phase: "walk all pages (after)".into(),
        concurrency: 1,
        statements: statements() - walk_statements,
        statements_range: None,
        cpu: cpu_since(walk_cpu),
        latencies: walk_latencies,
        wall: walk_wall,
    });
    Ok(cursors)
}

/// Reads every page in turn, checking each page's count and that no id appears twice.
async fn walk_pages(config: &Config, gql: &Gql) -> Result<Walk> {
    let mut walk = Walk {
        seen: HashSet::new(),
        cursors: Vec::new(),
        latencies: Vec::new(),
    };
    let mut after: Option<String> = None;
    loop {
        let t0 = Instant::now();
        let data = gql
            .call(
                APPLICATIONS,
                applications_vars(PAGE, after.as_deref(), None),
            )
            .await?;
        walk.latencies.push(t0.elapsed());
        let (items, total, has_next, cursor) = page_of(&data)?;
        ensure!(
            total as usize == config.apps,
            "totalCount is {total}, {} applications were registered",
            config.apps
        );
        for item in items {
            let id = item["id"]
                .as_str()
                .ok_or_else(|| anyhow!("no id: {item}"))?;
            ensure!(
                walk.seen.insert(id.to_owned()),
                "application {id} appears twice in the walk"
            );
        }
        if !has_next {
            return Ok(walk);
        }
        ensure!(
            walk.latencies.len() <= config.apps / PAGE + 1,
            "the walk does not end"
        );
        let cursor = cursor.ok_or_else(|| anyhow!("hasNextPage without endCursor"))?;
        walk.cursors.push(cursor.clone());
        after = Some(cursor);
    }
}

/// The `env=prod` filter answers exactly the applications labelled so.
async fn check_prod_filter(config: &Config, gql: &Gql, filter: &Value) -> Result<()> {
    let data = gql
        .call(APPLICATIONS, applications_vars(PAGE, None, Some(filter)))
        .await?;
    let (items, total, _, _) = page_of(&data)?;
    ensure!(
        total as usize == config.prod_count(),
        "the env=prod filter counts {total}, expected {}",
        config.prod_count()
    );
    ensure!(
        items.len() == config.prod_count().min(PAGE)
            && items.iter().all(|item| item["labels"]["env"] == "prod"),
        "the env=prod filter returned other applications"
    );
    Ok(())
}

/// Statements do not grow with the page size (no N+1): a failure otherwise, and a note.
async fn page_size_statements(
    report: &mut Report,
    gql: &Gql,
    statements: &Counter,
    filter: &Value,
) -> Result<()> {
    let mut n_plus_one = Vec::new();
    for (name, filter) in [("list", None), ("filtered", Some(filter))] {
        let one = statements_of(
            gql,
            statements,
            APPLICATIONS,
            applications_vars(1, None, filter),
        )
        .await?;
        let full = statements_of(
            gql,
            statements,
            APPLICATIONS,
            applications_vars(PAGE, None, filter),
        )
        .await?;
        n_plus_one.push(format!("{name}: first:1 -> {one}, first:{PAGE} -> {full}"));
        if full != one {
            report.failures.push(format!(
                "{name}: a page of {PAGE} costs {full} statements, a page of 1 costs {one}"
            ));
        }
    }
    report.notes.push(format!(
        "SQL statements per read by page size: {}",
        n_plus_one.join("; ")
    ));
    Ok(())
}

/// The read measurements: the baseline, the first page, the `env=prod` filter.
async fn list_reads(
    report: &mut Report,
    config: &Config,
    gql: &Gql,
    statements: &Counter,
    filter: &Value,
) -> Result<()> {
    let count = Limit::Count(config.reads);
    let read = |name, query| Read {
        name,
        query,
        limit: count,
    };
    let baseline = read("{ __typename } (baseline)", TYPENAME);
    reads(report, config, gql, statements, baseline, |_| json!({})).await?;
    let first = read("applications(first:100)", APPLICATIONS);
    reads(report, config, gql, statements, first, |_| {
        applications_vars(PAGE, None, None)
    })
    .await?;
    let f = filter.clone();
    let prod = read("applications env=prod", APPLICATIONS);
    reads(report, config, gql, statements, prod, move |_| {
        applications_vars(PAGE, None, Some(&f))
    })
    .await?;
    Ok(())
}

/// The last tenth of the list's pages (at least one), starting deep in the list, in turn.
async fn deep_page_reads(
    report: &mut Report,
    config: &Config,
    gql: &Gql,
    statements: &Counter,
    cursors: &[String],
) -> Result<()> {
    let deep: Arc<Vec<String>> = Arc::new(
        cursors
            .iter()
            .skip(cursors.len() - (cursors.len() / 10).max(1).min(cursors.len()))
            .cloned()
            .collect(),
    );
    if deep.is_empty() {
        report
            .notes
            .push("deep pages: skipped, the list has a single page".into());
        return Ok(());
    }
    let first_deep = config.apps.div_ceil(PAGE) - deep.len();
    report.notes.push(format!(
        "deep pages: `after` cursors of pages {first_deep}..{} of {} (0-based), in turn",
        first_deep + deep.len() - 1,
        config.apps.div_ceil(PAGE)
    ));
    reads(
        report,
        config,
        gql,
        statements,
        Read {
            name: "applications deep page",
            query: APPLICATIONS,
            limit: Limit::Count(config.reads),
        },
        move |i| applications_vars(PAGE, Some(&deep[i % deep.len()]), None),
    )
    .await
}
