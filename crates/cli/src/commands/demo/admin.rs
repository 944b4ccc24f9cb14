//! The administrator's GraphQL client: the Director and the Provisioner over HTTPS with the
//! data directory's admin token, trusting its CA.

use std::time::Duration;

use serde_json::{Value, json};

pub(crate) struct Admin {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Admin {
    /// `base`: the main listener's public URL.
    pub(crate) fn new(base: &url::Url, ca_pem: &[u8], token: String) -> anyhow::Result<Admin> {
        let client = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(ca_pem)?])
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Admin {
            client,
            base: base.as_str().trim_end_matches('/').to_owned(),
            token,
        })
    }

    /// A Director request's `data`; GraphQL errors as their messages (with their codes).
    pub(crate) async fn director(&self, query: &str, variables: Value) -> Result<Value, String> {
        self.post("/director/graphql", query, variables).await
    }

    /// A Provisioner request's `data`.
    pub(crate) async fn provisioner(&self, query: &str, variables: Value) -> Result<Value, String> {
        self.post("/provisioner/graphql", query, variables).await
    }

    async fn post(&self, path: &str, query: &str, variables: Value) -> Result<Value, String> {
        let url = format!("{}{path}", self.base);
        let response = self
            .client
            .post(&url)
            .bearer_auth(&self.token)
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await
            .map_err(|e| format!("POST {url}: {}", sextant_app::chain(&e)))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| format!("POST {url}: {}", sextant_app::chain(&e)))?;
        let body: Value = serde_json::from_str(&text)
            .map_err(|_| format!("POST {url}: HTTP {}: {text}", status.as_u16()))?;
        if let Some(errors) = body.get("errors").and_then(Value::as_array) {
            let messages: Vec<String> = errors
                .iter()
                .map(|e| match e["extensions"]["code"].as_str() {
                    Some(code) => format!("{} ({code})", e["message"].as_str().unwrap_or("?")),
                    None => e["message"].as_str().unwrap_or("?").to_owned(),
                })
                .collect();
            return Err(format!("{path}: {}", messages.join("; ")));
        }
        if !status.is_success() {
            return Err(format!("POST {url}: HTTP {}: {text}", status.as_u16()));
        }
        Ok(body["data"].clone())
    }
}
