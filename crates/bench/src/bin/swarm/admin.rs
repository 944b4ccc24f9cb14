//! The administrator's side: the Director, the server's metrics, pairing the runtimes (as
//! the agent pairs, through `sextant-client`).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, anyhow};
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use sextant_bench::pairing;
use sextant_bench::spawned::{self, Spawned};

use super::spec_yaml;

pub(crate) struct Admin {
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
    pub(crate) token: String,
}

impl Admin {
    pub(crate) async fn director(&self, query: &str, vars: Value) -> Result<Value> {
        sextant_bench::director(&self.http, &self.base, &self.token, query, vars).await
    }

    /// The server's statement counter (all statements since it started).
    pub(crate) async fn statements(&self) -> Result<u64> {
        let text = self
            .http
            .get(format!("{}/metrics", self.base))
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?;
        let line = text
            .lines()
            .find(|l| l.starts_with("sextant_db_statements_total"))
            .ok_or_else(|| anyhow!("no sextant_db_statements_total on /metrics"))?;
        let value = line
            .split_whitespace()
            .last()
            .ok_or_else(|| anyhow!("bad metrics line {line}"))?;
        Ok(value.parse::<f64>()? as u64)
    }

    /// Registers `count` runtimes in DEFAULT (25 per request); answers their ids.
    pub(crate) async fn register_runtimes(
        &self,
        prefix: &str,
        count: usize,
    ) -> Result<Vec<String>> {
        let mut ids = Vec::with_capacity(count);
        let mut start = 0;
        while start < count {
            let end = (start + 25).min(count);
            let mut query = String::from("mutation {");
            for i in start..end {
                query.push_str(&format!(
                    " r{i}: registerRuntime(in: {{name: \"{prefix}-{i}\", labels: {{scenarios: [\"DEFAULT\"]}}}}) {{ id }}"
                ));
            }
            query.push_str(" }");
            let data = self.director(&query, json!({})).await?;
            for i in start..end {
                ids.push(
                    data[format!("r{i}")]["id"]
                        .as_str()
                        .ok_or_else(|| anyhow!("no runtime id"))?
                        .to_owned(),
                );
            }
            start = end;
        }
        Ok(ids)
    }

    /// One-time tokens for runtimes (25 per request).
    pub(crate) async fn runtime_tokens(&self, ids: &[String]) -> Result<Vec<String>> {
        let mut tokens = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(25) {
            let mut query = String::from("mutation {");
            for (i, id) in chunk.iter().enumerate() {
                query.push_str(&format!(
                    " t{i}: requestOneTimeTokenForRuntime(id: \"{id}\") {{ token }}"
                ));
            }
            query.push_str(" }");
            let data = self.director(&query, json!({})).await?;
            for i in 0..chunk.len() {
                tokens.push(
                    data[format!("t{i}")]["token"]
                        .as_str()
                        .ok_or_else(|| anyhow!("no token"))?
                        .to_owned(),
                );
            }
        }
        Ok(tokens)
    }

    pub(crate) async fn add_api(&self, app: &str, name: &str, round: usize) -> Result<()> {
        self.director(
            "mutation($app: ID!, $in: APIDefinitionInput!) { addAPIDefinition(applicationID: $app, in: $in) { id } }",
            json!({"app": app, "in": {
                "name": name,
                "targetURL": "https://api.example.com/v1",
                "spec": {"data": spec_yaml(round), "type": "OPEN_API", "format": "YAML"},
            }}),
        )
        .await?;
        Ok(())
    }
}

/// Pairs every token (`concurrency` at once), as the agent pairs, and builds an mTLS client
/// for each.
pub(crate) async fn pair_all(
    admin: &Arc<Admin>,
    tokens: Vec<String>,
    concurrency: usize,
) -> Result<Vec<reqwest::Client>> {
    let semaphore = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for (i, token) in tokens.into_iter().enumerate() {
        let admin = admin.clone();
        let semaphore = semaphore.clone();
        tasks.spawn(async move {
            let _permit = semaphore.acquire().await?;
            let credentials = pairing::pair(&admin.http, &admin.base, &token).await?;
            Ok::<_, anyhow::Error>((i, credentials))
        });
    }
    let mut pairs = Vec::new();
    while let Some(done) = tasks.join_next().await {
        pairs.push(done??);
    }
    pairs.sort_by_key(|(i, _)| *i);
    pairs
        .into_iter()
        .map(|(_, credentials)| pairing::mtls_client(&credentials))
        .collect()
}

/// Waits for the server: its admin token and CA, then `/readyz`.
pub(crate) async fn wait_ready(server: &mut Spawned, data_dir: &Path, port: u16) -> Result<Admin> {
    let ready = spawned::wait_ready(server, data_dir, port, Duration::from_secs(30)).await?;
    Ok(Admin {
        http: ready.http,
        base: ready.base,
        token: ready.token,
    })
}
