//! The application list reads: the walk of every page, the filter, the statement checks and
//! the read measurements.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Result, anyhow, ensure};
use serde_json::json;

use crate::gql::Gql;
use crate::inputs::{applications_vars, page_of};
use crate::measure::{Counter, Limit, Read, Report, Row, process_cpu, reads, statements_of};
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
    let mut seen = HashSet::new();
    let mut cursors = Vec::new();
    let mut after: Option<String> = None;
    let walk_statements = statements();
    let walk_cpu = process_cpu();
    let walk_start = Instant::now();
    let mut walk_latencies = Vec::new();
    loop {
        let t0 = Instant::now();
        let data = gql
            .call(
                APPLICATIONS,
                applications_vars(PAGE, after.as_deref(), None),
            )
            .await?;
        walk_latencies.push(t0.elapsed());
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
                seen.insert(id.to_owned()),
                "application {id} appears twice in the walk"
            );
        }
        if !has_next {
            break;
        }
        ensure!(
            walk_latencies.len() <= config.apps / PAGE + 1,
            "the walk does not end"
        );
        let cursor = cursor.ok_or_else(|| anyhow!("hasNextPage without endCursor"))?;
        cursors.push(cursor.clone());
        after = Some(cursor);
    }
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
        cpu: match (walk_cpu, process_cpu()) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a)),
            _ => None,
        },
        latencies: walk_latencies,
        wall: walk_wall,
    });

    let filter = json!([{"key": "env", "query": "\"prod\""}]);
    let data = gql
        .call(APPLICATIONS, applications_vars(PAGE, None, Some(&filter)))
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

    // --- statements do not grow with the page size (no N+1) ---
    let mut n_plus_one = Vec::new();
    for (name, filter) in [("list", None), ("filtered", Some(&filter))] {
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

    // --- reads ---
    eprintln!("reads: {} requests per measurement ...", config.reads);
    reads(
        report,
        config,
        gql,
        statements,
        Read {
            name: "{ __typename } (baseline)",
            query: TYPENAME,
            limit: Limit::Count(config.reads),
        },
        |_| json!({}),
    )
    .await?;
    reads(
        report,
        config,
        gql,
        statements,
        Read {
            name: "applications(first:100)",
            query: APPLICATIONS,
            limit: Limit::Count(config.reads),
        },
        |_| applications_vars(PAGE, None, None),
    )
    .await?;
    let f = filter.clone();
    reads(
        report,
        config,
        gql,
        statements,
        Read {
            name: "applications env=prod",
            query: APPLICATIONS,
            limit: Limit::Count(config.reads),
        },
        move |_| applications_vars(PAGE, None, Some(&f)),
    )
    .await?;
    // The last tenth of the list's pages (at least one), starting deep in the list.
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
    } else {
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
        .await?;
    }

    Ok(())
}
