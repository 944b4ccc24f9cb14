//! GOALS.md P9 as an administrator sees it: the console's applications and runtimes pages
//! (100 rows), unfiltered, filtered by a label and by a scenario, and searched by name, and
//! the dashboard, fetched as a browser does (a session from a one-time login link, HTML over
//! HTTPS with keep-alive), with the filtered phase's runtimes in the store. Checks what each
//! page shows and that its statements do not grow with the rows per page, then measures
//! each at concurrency 1 and at `--concurrency`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, ensure};
use reqwest::StatusCode;
use sextant_domain::Scope;
use sextant_domain::TenantId;

use crate::Config;
use crate::gql::Gql;
use crate::measure::{Counter, Limit, Report, requests, same_cost};

/// The rows per page measured, and the smaller page the statement check compares with.
const ROWS: usize = 100;
const FEW_ROWS: usize = 20;

/// A signed-in console session.
#[derive(Clone)]
pub(crate) struct Console {
    client: reqwest::Client,
    base: Arc<str>,
    /// `name=value` of the session cookie.
    cookie: Arc<str>,
}

impl Console {
    /// Makes a login link for the default tenant with every scope a console session gets by
    /// default, and redeems it as the login page's button does.
    pub(crate) async fn sign_in(config: &Config, gql: &Gql) -> Result<Console> {
        let base: Arc<str> = gql
            .url
            .strip_suffix("/director/graphql")
            .ok_or_else(|| anyhow!("unexpected Director URL {}", gql.url))?
            .into();
        let link = sextant_server::console_link(
            &config.data_dir,
            config.postgres_url.as_deref(),
            sextant_server::ConsoleLink {
                tenants: vec![TenantId::DEFAULT],
                scopes: Scope::ALL
                    .into_iter()
                    .filter(|s| *s != Scope::ApplicationTemplateGlobal)
                    .map(|s| s.as_str().to_owned())
                    .collect(),
                subject: "bench".to_owned(),
                public_url: base.parse()?,
            },
        )
        .await
        .context("making a console login link")?;
        // The token is base64url: nothing escaped.
        let (_, token) = link
            .split_once("?link=")
            .ok_or_else(|| anyhow!("no token in the login link {link}"))?;
        let ca = std::fs::read(config.data_dir.join("ca.crt")).context("reading the CA")?;
        let client = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&ca)?])
            .redirect(reqwest::redirect::Policy::none())
            .timeout(crate::REQUEST_TIMEOUT)
            .pool_idle_timeout(Duration::from_secs(600))
            .build()?;
        let response = client
            .post(format!("{base}/console/login"))
            .header("sec-fetch-site", "same-origin")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("link={token}"))
            .send()
            .await?;
        ensure!(
            response.status() == StatusCode::SEE_OTHER,
            "signing in answered {}",
            response.status()
        );
        let cookie = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .find(|pair| pair.split_once('=').is_some_and(|(_, v)| !v.is_empty()))
            .ok_or_else(|| anyhow!("signing in set no session cookie"))?
            .into();
        Ok(Console {
            client,
            base,
            cookie,
        })
    }

    /// The page at `path`: its HTML, or an error unless it answers 200.
    pub(crate) async fn get(&self, path: &str) -> Result<String> {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .header("cookie", &*self.cookie)
            .send()
            .await?;
        let status = response.status();
        let body = response.text().await?;
        ensure!(status == StatusCode::OK, "{path} answered {status}: {body}");
        Ok(body)
    }
}

/// One page to check and measure.
struct Page {
    name: String,
    /// The path without the rows per page.
    path: String,
    /// `runtime` or `application` (the class of the rows' links); `None`: the dashboard.
    kind: Option<&'static str>,
    /// What the page must show.
    shows: Vec<String>,
    /// The rows it lists (at most [`ROWS`]).
    rows: usize,
}

impl Page {
    fn with_rows(&self, rows: usize) -> String {
        match self.kind {
            Some(_) if self.path.contains('?') => format!("{}&rows={rows}", self.path),
            Some(_) => format!("{}?rows={rows}", self.path),
            None => self.path.clone(),
        }
    }
}

/// A list page: `what` ("runtimes", "applications") at `query` (empty: the whole list),
/// `total` of them.
fn list(what: &'static str, query: &str, total: usize, narrowed: bool) -> Page {
    let kind = if what == "runtimes" {
        "runtime"
    } else {
        "application"
    };
    let shown = total.min(ROWS);
    let mut shows = vec![format!(
        "{total} {what}{}",
        if narrowed { " match" } else { "" }
    )];
    if shown > 0 {
        shows.push(format!("showing 1 to {shown}"));
    }
    let path = if query.is_empty() {
        format!("/console/{what}")
    } else {
        format!("/console/{what}?{query}")
    };
    Page {
        name: format!("console {}", &path["/console".len()..]),
        path,
        kind: Some(kind),
        shows,
        rows: shown,
    }
}

/// The pages measured, with what each must show (`runtime_totals` and `application_totals`:
/// unfiltered, `env=prod`, scenario `ALPHA`, named by the prefix; `prefixes`: the runtimes'
/// and the applications').
pub(crate) struct Totals {
    pub(crate) runtimes: [usize; 4],
    pub(crate) applications: [usize; 4],
    pub(crate) prefixes: [&'static str; 2],
}

fn pages(totals: &Totals) -> Vec<Page> {
    let mut pages = vec![Page {
        name: "console / (dashboard)".to_owned(),
        path: "/console/".to_owned(),
        kind: None,
        shows: vec![
            format!(
                "<dd id=\"application-count\">{}</dd>",
                totals.applications[0]
            ),
            format!("<dd id=\"runtime-count\">{}</dd>", totals.runtimes[0]),
        ],
        rows: 0,
    }];
    for (what, counts, prefix) in [
        ("runtimes", totals.runtimes, totals.prefixes[0]),
        ("applications", totals.applications, totals.prefixes[1]),
    ] {
        pages.push(list(what, "", counts[0], false));
        pages.push(list(what, "label=env%3Dprod", counts[1], true));
        pages.push(list(what, "label=scenarios%3DALPHA", counts[2], true));
        pages.push(list(what, &format!("q={prefix}"), counts[3], true));
    }
    pages
}

/// Checks each page and its cost, then measures each (rows and notes; a failure when a
/// page's statements grow with its rows).
pub(crate) async fn console_pages(
    report: &mut Report,
    config: &Config,
    gql: &Gql,
    statements: &Counter,
    totals: &Totals,
) -> Result<()> {
    let console = Console::sign_in(config, gql).await?;
    let pages = pages(totals);
    let mut costs = Vec::new();
    for page in &pages {
        check(&console, page).await?;
        if page.kind.is_some() {
            let few = least_statements(&console, statements, &page.with_rows(FEW_ROWS)).await?;
            let full = least_statements(&console, statements, &page.with_rows(ROWS)).await?;
            let (small, large) = (format!("rows={FEW_ROWS}"), format!("rows={ROWS}"));
            same_cost(
                report,
                &mut costs,
                &page.name,
                (&small, few),
                (&large, full),
            );
        }
    }
    report.notes.push(format!(
        "P9 console: SQL statements per page by rows per page (least of three): {}",
        costs.join("; ")
    ));
    eprintln!("P9 console: {} requests per page ...", config.reads);
    for page in &pages {
        let path: Arc<str> = page.with_rows(ROWS).into();
        let console = console.clone();
        requests(
            report,
            config,
            statements,
            &page.name,
            Limit::Count(config.reads),
            move |_| {
                let (console, path) = (console.clone(), path.clone());
                async move { console.get(&path).await.map(drop) }
            },
        )
        .await?;
    }
    Ok(())
}

/// The page shows what it must, and as many rows.
async fn check(console: &Console, page: &Page) -> Result<()> {
    let path = page.with_rows(ROWS);
    let body = console.get(&path).await?;
    for text in &page.shows {
        ensure!(body.contains(text), "{path}: does not show {text:?}");
    }
    if let Some(kind) = page.kind {
        let rows = body.matches(&format!("<a class=\"{kind}\" href=")).count();
        ensure!(
            rows == page.rows,
            "{path}: {rows} rows, expected {}",
            page.rows
        );
    }
    Ok(())
}

/// The statements of the page at `path`: the least of three loads (the server's background
/// tasks count too).
async fn least_statements(console: &Console, statements: &Counter, path: &str) -> Result<u64> {
    let mut least = u64::MAX;
    for _ in 0..3 {
        let before = statements();
        console.get(path).await?;
        least = least.min(statements() - before);
    }
    Ok(least)
}

/// The names of the pages measured, as their rows are named in the report.
pub(crate) fn page_names(totals: &Totals) -> Vec<String> {
    pages(totals).into_iter().map(|page| page.name).collect()
}
