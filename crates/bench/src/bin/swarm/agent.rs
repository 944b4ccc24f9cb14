//! P4: the simulated agent, and the coordinator's collection of what the agents report.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail, ensure};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT_ENCODING, CONTENT_ENCODING, ETAG, IF_NONE_MATCH};
use sextant_domain::runtime_config::{CONFIGURATION_PATH, RuntimeConfiguration, SPECS_PATH};
use tokio::sync::{Semaphore, mpsc};

use sextant_client::certs::sha256_hex;

use super::MIN_POLL_INTERVAL;

/// What an agent tells the coordinator.
pub(crate) enum Report {
    Applied {
        agent: usize,
        received: Instant,
        applied: Instant,
        api_names: Vec<String>,
    },
    Error {
        agent: usize,
        message: String,
    },
    /// A 304 answering the check after a failed request (P8: the server came back).
    Revalidated {
        agent: usize,
        at: Instant,
    },
}

/// Whether the answer is gzip-encoded.
fn is_gzipped(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get(CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"))
}

/// The body as sent, decoded if it is gzip-encoded (as `follow.rs` does).
fn decoded(body: &[u8], gzipped: bool) -> Result<Vec<u8>> {
    if !gzipped {
        return Ok(body.to_vec());
    }
    let mut out = Vec::with_capacity(body.len() * 4);
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(body), &mut out)?;
    Ok(out)
}

pub(crate) struct SimAgent {
    pub(crate) index: usize,
    pub(crate) client: reqwest::Client,
    pub(crate) base: String,
    pub(crate) wait: u64,
    pub(crate) etag: Option<String>,
    pub(crate) specs: HashSet<String>,
    /// While set, a failed request is followed by a check without waiting (`wait=0`), whose
    /// answer is reported: P8 sees when each agent is served again after a restart.
    pub(crate) revalidate: Arc<AtomicBool>,
}

impl SimAgent {
    /// Reads the document; `None` for a 304.
    pub(crate) async fn poll(&self, wait: u64) -> Result<Option<(String, Vec<u8>)>> {
        let mut request = self
            .client
            .get(format!("{}{CONFIGURATION_PATH}?wait={wait}", self.base))
            .header(ACCEPT_ENCODING, "gzip")
            .timeout(Duration::from_secs(wait + 30));
        if let Some(etag) = &self.etag {
            request = request.header(IF_NONE_MATCH, etag);
        }
        let response = request.send().await?;
        match response.status() {
            StatusCode::NOT_MODIFIED => Ok(None),
            StatusCode::OK => {
                let etag = response
                    .headers()
                    .get(ETAG)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
                    .ok_or_else(|| anyhow!("a 200 without ETag"))?;
                let gzipped = is_gzipped(&response);
                let body = response.bytes().await?;
                Ok(Some((etag, decoded(&body, gzipped)?)))
            }
            status => bail!("configuration: HTTP {status}"),
        }
    }

    /// Parses the document and fetches the specs it does not hold yet (as follow.rs).
    pub(crate) async fn apply(&mut self, body: &[u8]) -> Result<Vec<String>> {
        let document: RuntimeConfiguration = serde_json::from_slice(body)?;
        let mut wanted = HashSet::new();
        let mut api_names = Vec::new();
        for app in &document.applications {
            for api in &app.apis {
                api_names.push(api.name.to_string());
                if let Some(spec) = &api.spec {
                    wanted.insert(spec.sha256.clone());
                }
            }
            for event in &app.events {
                if let Some(spec) = &event.spec {
                    wanted.insert(spec.sha256.clone());
                }
            }
        }
        for sha in &wanted {
            if self.specs.contains(sha) {
                continue;
            }
            let response = self
                .client
                .get(format!("{}{SPECS_PATH}/{sha}", self.base))
                .header(ACCEPT_ENCODING, "gzip")
                .timeout(Duration::from_secs(30))
                .send()
                .await?
                .error_for_status()?;
            let gzipped = is_gzipped(&response);
            let data = decoded(&response.bytes().await?, gzipped)?;
            ensure!(sha256_hex(&data) == *sha, "spec {sha} has another hash");
            self.specs.insert(sha.clone());
        }
        self.specs.retain(|s| wanted.contains(s));
        api_names.sort();
        Ok(api_names)
    }

    /// The first document (without waiting), then follows until aborted.
    pub(crate) async fn run(
        mut self,
        start: Arc<Semaphore>,
        reports: mpsc::UnboundedSender<Report>,
    ) {
        let index = self.index;
        let report_error = |message: String| {
            let _ = reports.send(Report::Error {
                agent: index,
                message,
            });
        };
        let first = async {
            let _permit = start.acquire().await?;
            let (etag, body) = self
                .poll(0)
                .await?
                .ok_or_else(|| anyhow!("a 304 without If-None-Match"))?;
            let received = Instant::now();
            let api_names = self.apply(&body).await?;
            self.etag = Some(etag);
            Ok::<_, anyhow::Error>((received, api_names))
        };
        match first.await {
            Ok((received, api_names)) => {
                let _ = reports.send(Report::Applied {
                    agent: index,
                    received,
                    applied: Instant::now(),
                    api_names,
                });
            }
            Err(e) => {
                report_error(format!("{e:#}"));
                return;
            }
        }
        let mut failed = false;
        loop {
            let started = Instant::now();
            let check = failed && self.revalidate.load(Ordering::SeqCst);
            let wait = if check { 0 } else { self.wait };
            match self.poll(wait).await {
                Ok(None) => {
                    failed = false;
                    if check {
                        let _ = reports.send(Report::Revalidated {
                            agent: index,
                            at: Instant::now(),
                        });
                    }
                    tokio::time::sleep_until((started + MIN_POLL_INTERVAL).into()).await;
                }
                Ok(Some((etag, body))) => {
                    failed = false;
                    let received = Instant::now();
                    match self.apply(&body).await {
                        Ok(api_names) => {
                            self.etag = Some(etag);
                            let _ = reports.send(Report::Applied {
                                agent: index,
                                received,
                                applied: Instant::now(),
                                api_names,
                            });
                        }
                        Err(e) => {
                            report_error(format!("{e:#}"));
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                }
                Err(e) => {
                    failed = true;
                    report_error(format!("{e:#}"));
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}

/// Waits until every agent applied a document with exactly `expected` APIs; answers each
/// agent's (received, applied) times. Fails on an agent's error, a wrong document, or the
/// deadline.
pub(crate) async fn collect_round(
    reports: &mut mpsc::UnboundedReceiver<Report>,
    agents: usize,
    expected: &[String],
    within: Duration,
) -> Result<Vec<(Instant, Instant)>> {
    let deadline = tokio::time::Instant::now() + within;
    let mut times: Vec<Option<(Instant, Instant)>> = vec![None; agents];
    let mut done = 0;
    while done < agents {
        let report = tokio::time::timeout_at(deadline, reports.recv())
            .await
            .map_err(|_| {
                anyhow!(
                    "{} of {agents} agents did not apply the change within {within:?}",
                    agents - done
                )
            })?
            .ok_or_else(|| anyhow!("every agent stopped"))?;
        match report {
            Report::Applied {
                agent,
                received,
                applied,
                api_names,
            } => {
                ensure!(
                    api_names == expected,
                    "agent {agent} applied APIs {api_names:?}, expected {expected:?}"
                );
                let slot = times
                    .get_mut(agent)
                    .ok_or_else(|| anyhow!("no agent {agent}"))?;
                ensure!(slot.is_none(), "agent {agent} applied the change twice");
                *slot = Some((received, applied));
                done += 1;
            }
            Report::Error { agent, message } => bail!("agent {agent}: {message}"),
            Report::Revalidated { .. } => {}
        }
    }
    Ok(times.into_iter().flatten().collect())
}
