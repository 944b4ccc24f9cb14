//! GOALS.md P1: pairings per second. A bounded swarm of clients pairs through the Connector
//! of an in-process server over loopback HTTPS: one-time token → `configuration` → a new
//! P-256 key and CSR → `signCertificateSigningRequest` → certificate. The tokens are made
//! beforehand (not measured); each is used once, and a sample of used tokens is tried again
//! and must be refused (no double redemption).
//!
//! `cargo run --release -p sextant-bench --bin sextant-bench-pairing -- --backend sqlite`

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, ensure};
use clap::Parser;
use serde_json::{Value, json};
use sextant_bench::BackendArg;
use sextant_bench::figures::nearest_rank;
use sextant_bench::pairing;
use sextant_test_support::{Backend, TestDatabase};

#[derive(Parser)]
#[command(about = "Pairings per second through the Connector (GOALS.md P1)")]
struct Args {
    #[arg(long, value_enum, default_value = "sqlite")]
    backend: BackendArg,
    /// Pairings to run (one token each).
    #[arg(long, default_value_t = 3000)]
    pairings: usize,
    /// Clients pairing at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
}

/// The Director as the administrator, and the Connector.
struct Client {
    http: reqwest::Client,
    base: String,
    admin: String,
}

impl Client {
    async fn director(&self, query: &str, vars: Value) -> Result<Value> {
        sextant_bench::director(&self.http, &self.base, &self.admin, query, vars).await
    }

    /// One whole pairing, as the agent and the application client pair.
    async fn pair(&self, token: &str) -> Result<()> {
        pairing::pair(&self.http, &self.base, token).await?;
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(args.pairings > 0 && args.concurrency > 0, "nothing to do");
    let db = TestDatabase::create(args.backend.backend()).await;
    let (server, client) = start_server(&args, &db).await?;
    let tokens = one_time_tokens(&args, &client).await?;
    let tokens = warm_up(&args, &client, tokens).await?;
    let run = pair_concurrently(&args, &client, &tokens).await?;
    let reused_ok = reused_accepted(&client, &tokens).await;
    server.stop().await;
    drop(db);
    print_figures(&args, &run, reused_ok);
    ensure!(run.failures == 0, "{} pairings failed", run.failures);
    ensure!(
        reused_ok == 0,
        "{reused_ok} used tokens were accepted again"
    );
    Ok(())
}

/// Starts the server in this process; answers it and the administrator's client.
async fn start_server(
    args: &Args,
    db: &TestDatabase,
) -> Result<(sextant_server::RunningServer, Arc<Client>)> {
    let data_dir = db.dir.join("data");
    let server = sextant_server::start(sextant_server::ServerConfig {
        data_dir: data_dir.clone(),
        database_url: match args.backend.backend() {
            Backend::Sqlite => None,
            Backend::Postgres => Some(db.url.clone()),
        },
        listen: "127.0.0.1:0".parse()?,
        mtls_listen: "127.0.0.1:0".parse()?,
        public_url: None,
        fetch_allow_private: false,
        // No test or benchmark reaches beyond loopback, not even with a DNS lookup.
        fetch_allow_hosts: Some(sextant_server::HostAllowList::loopback()),
        token_lifetimes: sextant_server::TokenLifetimes {
            application: Duration::from_secs(3600),
            ..sextant_server::TokenLifetimes::default()
        },
        certificate_validity: sextant_server::DEFAULT_CERTIFICATE_VALIDITY,
    })
    .await
    .context("starting the server")?;
    let ca = std::fs::read(data_dir.join("ca.crt"))?;
    let client = Arc::new(Client {
        http: reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&ca)?])
            .timeout(Duration::from_secs(30))
            .build()?,
        base: format!("https://localhost:{}", server.main_addr.port()),
        admin: std::fs::read_to_string(&server.admin_token_path)?
            .trim()
            .to_owned(),
    });
    Ok((server, client))
}

/// Setup (not measured): applications and one token per pairing.
async fn one_time_tokens(args: &Args, client: &Client) -> Result<Vec<String>> {
    let apps = args.pairings.div_ceil(10);
    let mut app_ids = Vec::with_capacity(apps);
    for i in 0..apps {
        let data = client
            .director(
                "mutation($n: String!) { registerApplication(in: {name: $n, providerName: \"bench\"}) { id } }",
                json!({"n": format!("pairing-{i}")}),
            )
            .await?;
        app_ids.push(
            data["registerApplication"]["id"]
                .as_str()
                .ok_or_else(|| anyhow!("no id"))?
                .to_owned(),
        );
    }
    let mut tokens = Vec::with_capacity(args.pairings);
    for i in 0..args.pairings {
        let data = client
            .director(
                "mutation($id: ID!) { requestOneTimeTokenForApplication(id: $id) { token } }",
                json!({"id": app_ids[i % apps]}),
            )
            .await?;
        tokens.push(
            data["requestOneTimeTokenForApplication"]["token"]
                .as_str()
                .ok_or_else(|| anyhow!("no token"))?
                .to_owned(),
        );
    }
    Ok(tokens)
}

/// Warm-up: a few pairings, not counted. Answers the tokens left.
async fn warm_up(args: &Args, client: &Client, mut tokens: Vec<String>) -> Result<Vec<String>> {
    let warm: Vec<String> = tokens
        .drain(..args.concurrency.min(tokens.len() / 10))
        .collect();
    for token in &warm {
        client.pair(token).await?;
    }
    Ok(tokens)
}

/// The measured pairings: their latencies (sorted), failures and wall time.
struct Pairings {
    latencies: Vec<Duration>,
    failures: usize,
    elapsed: Duration,
}

/// Pairs every token once, `--concurrency` clients at once.
async fn pair_concurrently(
    args: &Args,
    client: &Arc<Client>,
    tokens: &[String],
) -> Result<Pairings> {
    let queue = Arc::new(tokio::sync::Mutex::new(tokens.to_vec()));
    let started = Instant::now();
    let workers: Vec<_> = (0..args.concurrency)
        .map(|_| {
            let client = client.clone();
            let queue = queue.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut failures = 0usize;
                loop {
                    let Some(token) = queue.lock().await.pop() else {
                        break;
                    };
                    let t = Instant::now();
                    match client.pair(&token).await {
                        Ok(_) => latencies.push(t.elapsed()),
                        Err(e) => {
                            eprintln!("pairing failed: {e:#}");
                            failures += 1;
                        }
                    }
                }
                (latencies, failures)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut failures = 0;
    for worker in workers {
        let (l, f) = worker.await?;
        latencies.extend(l);
        failures += f;
    }
    let elapsed = started.elapsed();
    latencies.sort();
    Ok(Pairings {
        latencies,
        failures,
        elapsed,
    })
}

/// No double redemption: how many of the used tokens (a sample) are accepted again.
async fn reused_accepted(client: &Client, tokens: &[String]) -> usize {
    let mut reused_ok = 0;
    for token in tokens.iter().step_by((tokens.len() / 100).max(1)) {
        if pairing::token_accepted(&client.http, &client.base, token).await {
            reused_ok += 1;
        }
    }
    reused_ok
}

fn print_figures(args: &Args, run: &Pairings, reused_ok: usize) {
    let latencies = &run.latencies;
    let ms = |p: f64| nearest_rank(latencies, p).unwrap_or_default().as_secs_f64() * 1e3;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "P1 pairing ({}): {} pairings, concurrency {}, {} failed, {} reused tokens accepted",
        args.backend.name(),
        latencies.len(),
        args.concurrency,
        run.failures,
        reused_ok
    );
    println!(
        "  {:.0} pairings/s on {cores} cores (client and server in one process), p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        latencies.len() as f64 / run.elapsed.as_secs_f64(),
        ms(50.0),
        ms(99.0),
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
}
