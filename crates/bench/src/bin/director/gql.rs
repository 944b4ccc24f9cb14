//! The Director as the administrator: GraphQL over HTTPS with keep-alive, and the server's
//! statement counter.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail, ensure};
use serde_json::{Value, json};

use crate::{REQUEST_TIMEOUT, TYPENAME};

/// A GraphQL client for the Director as the administrator.
#[derive(Clone)]
pub(crate) struct Gql {
    pub(crate) client: reqwest::Client,
    pub(crate) url: Arc<str>,
    pub(crate) token: Arc<str>,
}

impl Gql {
    pub(crate) fn new(
        server: &sextant_server::RunningServer,
        data_dir: &std::path::Path,
    ) -> Result<Gql> {
        let ca_path = data_dir.join("ca.crt");
        let ca =
            std::fs::read(&ca_path).with_context(|| format!("reading {}", ca_path.display()))?;
        let client = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&ca)?])
            .timeout(REQUEST_TIMEOUT)
            .pool_idle_timeout(Duration::from_secs(600))
            .build()?;
        let token = std::fs::read_to_string(&server.admin_token_path)
            .with_context(|| format!("reading {}", server.admin_token_path.display()))?;
        Ok(Gql {
            client,
            url: format!(
                "https://localhost:{}/director/graphql",
                server.main_addr.port()
            )
            .into(),
            token: token.trim().into(),
        })
    }

    /// Runs one request; any GraphQL or HTTP error is an error. Returns `data`.
    pub(crate) async fn call(&self, query: &str, variables: Value) -> Result<Value> {
        self.call_within(query, variables, REQUEST_TIMEOUT).await
    }

    /// [`Gql::call`] giving up after `timeout`.
    pub(crate) async fn call_within(
        &self,
        query: &str,
        variables: Value,
        timeout: Duration,
    ) -> Result<Value> {
        let response = self
            .client
            .post(&*self.url)
            .timeout(timeout)
            .bearer_auth(&*self.token)
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await
            .context("sending a GraphQL request")?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .with_context(|| format!("reading a GraphQL response (HTTP {status})"))?;
        if let Some(errors) = body.get("errors") {
            bail!("GraphQL error (HTTP {status}): {errors}");
        }
        ensure!(status.is_success(), "HTTP {status}: {body}");
        match body {
            Value::Object(mut map) => map
                .remove("data")
                .ok_or_else(|| anyhow!("GraphQL response without data")),
            other => bail!("GraphQL response is not an object: {other}"),
        }
    }

    /// The HTTP version the client and server agreed on.
    pub(crate) async fn probe(&self) -> Result<String> {
        let response = self
            .client
            .post(&*self.url)
            .bearer_auth(&*self.token)
            .json(&json!({"query": TYPENAME}))
            .send()
            .await?;
        ensure!(
            response.status().is_success(),
            "probe: HTTP {}",
            response.status()
        );
        Ok(format!("{:?} over TLS, keep-alive", response.version()))
    }
}
