//! Child processes the benchmarks start (a `sextant server`, a `sextant agent`), killed when
//! dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};

/// The `sextant` binary the benchmarks start: `given` (their `--sextant-bin`), or the one next
/// to the running binary; fails when it does not exist.
pub fn sextant_binary(given: Option<&Path>) -> Result<PathBuf> {
    let sextant = match given {
        Some(path) => path.to_path_buf(),
        None => std::env::current_exe()?
            .parent()
            .ok_or_else(|| anyhow!("no directory of this binary"))?
            .join("sextant"),
    };
    ensure!(
        sextant.exists(),
        "{} not found: build it (cargo build --release -p sextant) or pass --sextant-bin",
        sextant.display()
    );
    Ok(sextant)
}

/// A child process killed (SIGKILL) when dropped, its output in a log file.
pub struct Spawned {
    child: Child,
    log: PathBuf,
}

impl Spawned {
    /// Starts `command` with `SEXTANT_LOG=warn`, its output in a new `log`.
    pub fn start(command: Command, log: PathBuf) -> Result<Spawned> {
        let out = std::fs::File::create(&log)?;
        Spawned::start_into(command, log, out)
    }

    /// Like [`Spawned::start`], appending to `log` (a process started again on the same log).
    pub fn start_appending(command: Command, log: PathBuf) -> Result<Spawned> {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)?;
        Spawned::start_into(command, log, out)
    }

    fn start_into(mut command: Command, log: PathBuf, out: std::fs::File) -> Result<Spawned> {
        let err = out.try_clone()?;
        let child = command
            .env("SEXTANT_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("starting {command:?}"))?;
        Ok(Spawned { child, log })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Fails if the process has exited, with the end of its log.
    pub fn check_alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            let tail = lines[lines.len().saturating_sub(20)..].join("\n");
            bail!("process exited ({status}); log:\n{tail}");
        }
        Ok(())
    }

    /// SIGKILL and reap.
    pub fn kill9(&mut self) -> Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The administrator's way into a started server.
pub struct Ready {
    /// Trusts the server's CA; requests give up after the timeout given.
    pub http: reqwest::Client,
    /// `https://localhost:<port>`.
    pub base: String,
    /// The admin token.
    pub token: String,
}

/// Waits (at most 30 s) for the server with `data_dir` on `port`: its admin token and CA,
/// then `/readyz`. `request_timeout` bounds each request of the client it answers.
pub async fn wait_ready(
    server: &mut Spawned,
    data_dir: &Path,
    port: u16,
    request_timeout: Duration,
) -> Result<Ready> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        server.check_alive().context("the server")?;
        ensure!(Instant::now() < deadline, "the server is not ready in 30 s");
        let (Ok(ca), Ok(token)) = (
            std::fs::read(data_dir.join("ca.crt")),
            std::fs::read_to_string(data_dir.join("admin-token")),
        ) else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        let http = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&ca)?])
            .timeout(request_timeout)
            .build()?;
        let base = format!("https://localhost:{port}");
        let ready = http
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == reqwest::StatusCode::OK);
        if ready && !token.trim().is_empty() {
            return Ok(Ready {
                http,
                base,
                token: token.trim().to_owned(),
            });
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
