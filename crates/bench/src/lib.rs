//! What Sextant's benchmark binaries share: the figures they compute, what they read of a
//! process from `/proc`, the processes they start, and pairing with the management plane
//! through `sextant-client` (the code the runtime agent and the application client run, so
//! that the benchmarks measure it).
#![forbid(unsafe_code)]

pub mod figures;
pub mod host;
pub mod pairing;
pub mod spawned;

use anyhow::{Result, bail};
use serde_json::{Value, json};
use sextant_test_support::Backend;

/// The `--backend` every benchmark takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendArg {
    Sqlite,
    Postgres,
}

impl BackendArg {
    /// The backend meant.
    pub fn backend(self) -> Backend {
        match self {
            BackendArg::Sqlite => Backend::Sqlite,
            BackendArg::Postgres => Backend::Postgres,
        }
    }

    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            BackendArg::Sqlite => "SQLite",
            BackendArg::Postgres => "PostgreSQL",
        }
    }
}

/// Runs `run`, failing when it takes more than `seconds`.
pub async fn within_time_limit(
    seconds: u64,
    run: impl std::future::Future<Output = Result<()>>,
) -> Result<()> {
    match tokio::time::timeout(std::time::Duration::from_secs(seconds), run).await {
        Ok(result) => result,
        Err(_) => bail!("time limit of {seconds} s reached"),
    }
}

/// Prints what a run is: `program` and its arguments, then the machine, the build and the
/// backend.
pub fn print_run_header(program: &str, backend: BackendArg) {
    println!(
        "{program} {}",
        std::env::args().skip(1).collect::<Vec<_>>().join(" ")
    );
    println!(
        "{}; {} build; backend {}",
        host::host_description(),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        backend.name()
    );
}

/// POSTs `query` to the Director at `base` with the bearer `token`; answers `data`, or fails
/// on any GraphQL error.
pub async fn director(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    query: &str,
    vars: Value,
) -> Result<Value> {
    let response = http
        .post(format!("{base}/director/graphql"))
        .bearer_auth(token)
        .json(&json!({"query": query, "variables": vars}))
        .send()
        .await?;
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .map_err(|e| anyhow::Error::new(e).context(format!("director: HTTP {status}")))?;
    if let Some(errors) = body.get("errors") {
        bail!("director: {errors}");
    }
    Ok(body["data"].clone())
}
