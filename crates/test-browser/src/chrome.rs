//! A real browser: Debian's `chromium`, headless, driven over WebDriver by Debian's
//! `chromedriver`, which each test starts on a free loopback port and stops at its end
//! (also when the test panics). No browser is a failed test, never a skipped one.
//!
//! The browser trusts the test server's self-signed certificate by the hash of its public
//! key (`--ignore-certificate-errors-spki-list`, honoured only with a `--user-data-dir`),
//! not by ignoring certificate errors: any other certificate is still refused. It resolves
//! no name but `localhost`, and its background traffic (updates, metrics, safe browsing) is
//! off, so nothing leaves loopback.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use fantoccini::wd::{Capabilities, TimeoutConfiguration};
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

/// How long chromedriver may take to answer its first `/status`.
const DRIVER_START: Duration = Duration::from_secs(30);

/// How long a script (axe's run) may take in the page.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a navigation may take.
const PAGE_LOAD_TIMEOUT: Duration = Duration::from_secs(30);

/// The window every screenshot shows.
const WINDOW: &str = "--window-size=1280,1000";

/// The executable `name` on `PATH`, or the one the environment variable `var` names.
fn executable(var: &str, name: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(var) {
        return PathBuf::from(path);
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    });
    match found {
        Some(path) => path,
        None => panic!(
            "no `{name}` on PATH (nor {var} set): the browser tests need Debian's chromium \
             and chromedriver (`apt-get install -y chromium chromium-driver`)"
        ),
    }
}

/// The base64 SHA-256 of the leaf certificate's SubjectPublicKeyInfo, as chromium's
/// `--ignore-certificate-errors-spki-list` takes it.
pub fn spki_hash(cert_pem: &[u8]) -> String {
    let (_, pem) = x509_parser::pem::parse_x509_pem(cert_pem).expect("a PEM certificate");
    let cert = pem.parse_x509().expect("an X.509 certificate");
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        cert.tbs_certificate.subject_pki.raw,
    );
    base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
}

/// A free port on loopback (closed again at once, for chromedriver to bind).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// The running chromedriver (in a process group of its own, with the browser it starts)
/// and the browser profile; both go when this drops.
pub struct Driver {
    child: Child,
    pub port: u16,
    profile: PathBuf,
    /// The WebDriver session, ended before the driver is stopped.
    session: Option<String>,
}

impl Driver {
    /// Starts chromedriver on a free loopback port and waits until it answers.
    pub async fn start() -> Driver {
        let chromedriver = executable("SEXTANT_CHROMEDRIVER", "chromedriver");
        let profile =
            std::env::temp_dir().join(format!("sextant-browser-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&profile).expect("a browser profile directory");
        let port = free_port();
        let child = std::os::unix::process::CommandExt::process_group(
            Command::new(&chromedriver)
                .arg(format!("--port={port}"))
                .arg(format!(
                    "--log-path={}",
                    profile.join("chromedriver.log").display()
                ))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
            0,
        )
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromedriver.display()));
        let mut driver = Driver {
            child,
            port,
            profile,
            session: None,
        };
        driver.wait_ready().await;
        driver
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.profile.join("chromedriver.log")).unwrap_or_default()
    }

    async fn wait_ready(&mut self) {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + DRIVER_START;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("chromedriver exited at start ({status}):\n{}", self.log());
            }
            let answer = http.get(format!("{}/status", self.url())).send().await;
            if let Ok(answer) = answer
                && let Ok(status) = answer.json::<Value>().await
                && status["value"]["ready"] == json!(true)
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer within {DRIVER_START:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Opens a browser session trusting the certificate `cert_pem`.
    pub async fn open(&mut self, cert_pem: &[u8]) -> Client {
        let chromium = executable("SEXTANT_CHROMIUM", "chromium");
        let args = vec![
            "--headless=new".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--no-first-run".to_owned(),
            "--no-sandbox".to_owned(),
            "--no-default-browser-check".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-default-apps".to_owned(),
            "--disable-domain-reliability".to_owned(),
            "--disable-client-side-phishing-detection".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost".to_owned(),
            WINDOW.to_owned(),
            format!("--user-data-dir={}", self.profile.join("profile").display()),
            format!(
                "--ignore-certificate-errors-spki-list={}",
                spki_hash(cert_pem)
            ),
        ];
        let mut capabilities = Capabilities::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({"binary": chromium, "args": args}),
        );
        capabilities.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url())
            .await
            .unwrap_or_else(|e| panic!("no browser session: {e}\n{}", self.log()));
        self.session = client.session_id().await.expect("a session id");
        client
            .update_timeouts(TimeoutConfiguration::new(
                Some(SCRIPT_TIMEOUT),
                Some(PAGE_LOAD_TIMEOUT),
                Some(Duration::ZERO),
            ))
            .await
            .expect("timeouts set");
        client
    }

    /// The browser's console messages since the last call (chromedriver's log endpoint).
    pub async fn console_messages(&self) -> Vec<Value> {
        let Some(session) = &self.session else {
            return Vec::new();
        };
        let answer: Value = reqwest::Client::new()
            .post(format!("{}/session/{session}/se/log", self.url()))
            .json(&json!({"type": "browser"}))
            .send()
            .await
            .expect("chromedriver answers")
            .json()
            .await
            .expect("chromedriver's log as JSON");
        answer["value"].as_array().cloned().unwrap_or_default()
    }

    /// Ends the session (the browser quits) with a plain blocking request, so that it also
    /// works while a panicking test's runtime is going away.
    fn end_session(&mut self) {
        let Some(session) = self.session.take() else {
            return;
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
            return;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
        let request = format!(
            "DELETE /session/{session} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\
             Connection: close\r\nContent-Length: 0\r\n\r\n",
            self.port
        );
        if stream.write_all(request.as_bytes()).is_ok() {
            let mut answer = Vec::new();
            let _ = stream.read_to_end(&mut answer);
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.end_session();
        // The driver and anything it left behind share the process group it was started in.
        if let Ok(pid) = i32::try_from(self.child.id())
            && let Some(group) = rustix::process::Pid::from_raw(pid)
        {
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::TERM);
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Where the screenshots go: `target/console-screenshots/` of the workspace (or of
/// `CARGO_TARGET_DIR`).
pub fn screenshot_dir() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(|dir| workspace.join(dir))
        .unwrap_or_else(|| workspace.join("target"));
    target.join("console-screenshots")
}
