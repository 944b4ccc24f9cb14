//! The server in a process of its own, started again on the same data and ports, and the
//! administrator's side.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use serde_json::{Value, json};

use sextant_bench::spawned::{self, Spawned};

/// How to start the server, again and again on the same data and ports.
pub(crate) struct ServerSpec {
    pub(crate) sextant: PathBuf,
    pub(crate) data_dir: PathBuf,
    pub(crate) database_url: Option<String>,
    pub(crate) main_port: u16,
    pub(crate) mtls_port: u16,
    pub(crate) lease: Duration,
    pub(crate) log: PathBuf,
}

impl ServerSpec {
    /// Starts the server and waits until it is ready; retries while the ports of a killed
    /// predecessor are not free yet.
    pub(crate) async fn start(&self) -> Result<(Spawned, Admin)> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut command = Command::new(&self.sextant);
            command
                .arg("server")
                .arg("--fetch-allow-private")
                // No benchmark reaches beyond loopback, not even with a DNS lookup.
                .arg("--fetch-allow-hosts")
                .arg("localhost,127.0.0.1,::1")
                .arg("--webhook-lease")
                .arg(format!("{}ms", self.lease.as_millis()))
                .arg("--data-dir")
                .arg(&self.data_dir)
                .arg("--listen")
                .arg(format!("127.0.0.1:{}", self.main_port))
                .arg("--mtls-listen")
                .arg(format!("127.0.0.1:{}", self.mtls_port));
            if let Some(url) = &self.database_url {
                command.arg("--database-url").arg(url);
            }
            let mut server = Spawned::start_appending(command, self.log.clone())?;
            match wait_ready(&mut server, &self.data_dir, self.main_port).await {
                Ok(admin) => return Ok((server, admin)),
                Err(e) if Instant::now() < deadline => {
                    println!("  the server did not start ({e:#}); again");
                    drop(server);
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Waits for the server: its admin token and CA, then `/readyz`.
pub(crate) async fn wait_ready(server: &mut Spawned, data_dir: &Path, port: u16) -> Result<Admin> {
    let ready = spawned::wait_ready(server, data_dir, port, Duration::from_secs(60)).await?;
    Ok(Admin {
        http: ready.http,
        base: ready.base,
        token: ready.token,
    })
}

#[derive(Clone)]
pub(crate) struct Admin {
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
    pub(crate) token: String,
}

impl Admin {
    pub(crate) async fn director(&self, query: &str, vars: Value) -> Result<Value> {
        sextant_bench::director(&self.http, &self.base, &self.token, query, vars).await
    }

    /// Registers runtimes `prefix-start..prefix-end` in DEFAULT in one request; answers their
    /// ids and the moment the response arrived (the events' enqueue time).
    pub(crate) async fn register_runtimes(
        &self,
        prefix: &str,
        start: usize,
        end: usize,
    ) -> Result<(Vec<String>, Instant)> {
        let mut query = String::from("mutation {");
        for i in start..end {
            query.push_str(&format!(
                " r{i}: registerRuntime(in: {{name: \"{prefix}-{i}\", labels: {{scenarios: [\"DEFAULT\"]}}}}) {{ id }}"
            ));
        }
        query.push_str(" }");
        let data = self.director(&query, json!({})).await?;
        let at = Instant::now();
        let mut ids = Vec::with_capacity(end - start);
        for i in start..end {
            ids.push(
                data[format!("r{i}")]["id"]
                    .as_str()
                    .ok_or_else(|| anyhow!("no runtime id"))?
                    .to_owned(),
            );
        }
        Ok((ids, at))
    }
}
