//! The `local` provider: a runtime on this machine is a directory and a `sextant agent`
//! process started with the injected bootstrap configuration.
//!
//! `<root>/<runtime id>/` holds `bootstrap.env` (Compass's `CONNECTOR_URL`, `TOKEN`,
//! `RUNTIME_ID`, `TENANT`, plus `CA_CERT_FILE`; 0600), `ca.pem` (the CA the agent trusts on
//! first contact), `state/` (the agent's state directory), `agent.log` and `agent.pid`. The
//! agent runs in a process group of its own and outlives the server: a runtime does not stop
//! because its management plane restarts. At start the provider starts the agents of its
//! runtimes that are not running (they resume from their state, without a token). A pid is
//! trusted only while `/proc/<pid>/cmdline` still names the runtime's directory, so a reused
//! pid is never signalled.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sextant_domain::RuntimeId;
use sextant_domain::provisioning::ProvisionedRuntime;

use crate::provider::{AgentHealth, Bootstrap, Provider, ProviderError};

/// The only environment variable a local agent starts with.
const AGENT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// How long a stopping agent gets after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// The provider's settings.
#[derive(Clone, Debug)]
pub struct LocalSettings {
    /// Where runtimes' directories are created.
    pub root: PathBuf,
    /// The `sextant` binary whose `agent` subcommand runs in each runtime; None: this
    /// server cannot create local runtimes (provisioning is refused with a clear error).
    pub agent_program: Option<PathBuf>,
    /// The CA certificate(s) (PEM) an agent trusts the management plane with.
    pub ca_pem: String,
}

/// A local runtime's stored configuration (`ProvisionedRuntime.config`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalRuntimeConfig {
    /// The runtime's directory.
    pub dir: PathBuf,
    /// The application gateway's port on 127.0.0.1.
    pub gateway_port: u16,
    /// Whether the gateway may call APIs on loopback and private addresses (default true:
    /// a local runtime serves this machine).
    pub gateway_allow_private: bool,
    /// Reported as `runtime/event_service_url` when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_service_url: Option<String>,
    /// Reported as `runtime/console_url` when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_url: Option<String>,
    /// The event gateway's port on 127.0.0.1 (`https://127.0.0.1:<port>/<application>/v1/events`,
    /// reported as `runtime/event_service_url` unless that is set).
    #[serde(default)]
    pub event_gateway_port: u16,
    /// Where the event gateway delivers events: an http(s) URL, or (None) the file
    /// `events.jsonl` in the runtime's directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_sink: Option<String>,
    /// How many times the runtime was upgraded.
    #[serde(default)]
    pub generation: u32,
    /// The version an upgrade asked for (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// What `localConfig` may say (provisioning or upgrade).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalInput {
    pub gateway_port: Option<u16>,
    pub gateway_allow_private: Option<bool>,
    #[serde(rename = "eventServiceURL")]
    pub event_service_url: Option<String>,
    #[serde(rename = "consoleURL")]
    pub console_url: Option<String>,
    pub event_gateway_port: Option<u16>,
    /// An http(s) URL events are POSTed to (default: `events.jsonl` in the runtime's
    /// directory). Commands are not accepted through the API: they would run on the
    /// server's machine.
    pub event_sink: Option<String>,
    /// Set by an upgrade from `kymaConfig.version` / `clusterConfig.version`.
    pub version: Option<String>,
}

/// The `local` provider.
pub struct LocalProvider {
    settings: LocalSettings,
    /// Exit statuses of agents this process started, by runtime.
    exits: Arc<Mutex<HashMap<RuntimeId, String>>>,
    /// Held while an agent is started: an operation resumed at server start and the
    /// reconciliation of dead agents may both start one runtime's agent; the second then
    /// finds the first running instead of starting another beside it.
    starting: tokio::sync::Mutex<()>,
}

impl LocalProvider {
    pub fn new(settings: LocalSettings) -> LocalProvider {
        LocalProvider {
            settings,
            exits: Arc::new(Mutex::new(HashMap::new())),
            starting: tokio::sync::Mutex::new(()),
        }
    }

    fn program(&self) -> Result<&Path, ProviderError> {
        self.settings.agent_program.as_deref().ok_or_else(|| {
            ProviderError::Invalid(
                "this server has no agent program for local runtimes (sextant server --agent-program)"
                    .into(),
            )
        })
    }

    fn config_of(runtime: &ProvisionedRuntime) -> Result<LocalRuntimeConfig, ProviderError> {
        serde_json::from_value(runtime.config.clone()).map_err(|e| {
            ProviderError::Failed(format!("the local runtime's stored configuration: {e}"))
        })
    }

    /// Whether a directory is one of this provider's (under its root), so that a runtime
    /// created by another server's provider is never touched.
    fn owns(&self, config: &LocalRuntimeConfig) -> bool {
        config.dir.starts_with(&self.settings.root)
    }

    fn write_bootstrap(
        &self,
        config: &LocalRuntimeConfig,
        bootstrap: &Bootstrap,
    ) -> Result<(), ProviderError> {
        create_private_dir(&config.dir)?;
        let ca = config.dir.join("ca.pem");
        write_private(&ca, self.settings.ca_pem.as_bytes())?;
        let text = format!(
            "# Written by the Sextant Provisioner (local provider).\nCONNECTOR_URL={}\nTOKEN={}\nRUNTIME_ID={}\nTENANT={}\nCA_CERT_FILE={}\n",
            bootstrap.connector_url,
            bootstrap.token,
            bootstrap.runtime_id,
            bootstrap.tenant.0,
            ca.display()
        );
        write_private(&config.dir.join("bootstrap.env"), text.as_bytes())
    }

    fn pid_file(config: &LocalRuntimeConfig) -> PathBuf {
        config.dir.join("agent.pid")
    }

    /// The agent's pid, if one is recorded and that process still runs in this runtime.
    fn running_pid(config: &LocalRuntimeConfig) -> Option<i32> {
        let pid: i32 = std::fs::read_to_string(Self::pid_file(config))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        process_runs_in(pid, &config.dir).then_some(pid)
    }

    async fn start(
        &self,
        runtime_id: RuntimeId,
        config: &LocalRuntimeConfig,
    ) -> Result<(), ProviderError> {
        let _starting = self.starting.lock().await;
        if Self::running_pid(config).is_some() {
            return Ok(());
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(config.dir.join("agent.log"))
            .map_err(|e| failed("opening agent.log", e))?;
        let log_err = log
            .try_clone()
            .map_err(|e| failed("opening agent.log", e))?;
        let program = self.program()?;
        let mut command = tokio::process::Command::new(program);
        command
            .arg("agent")
            .arg("--config-file")
            .arg(config.dir.join("bootstrap.env"))
            .arg("--state-dir")
            .arg(config.dir.join("state"))
            .arg("--gateway-listen")
            .arg(format!("127.0.0.1:{}", config.gateway_port));
        if config.gateway_allow_private {
            command.arg("--gateway-allow-private");
        }
        if let Some(url) = &config.event_service_url {
            command.arg("--event-service-url").arg(url);
        }
        if let Some(url) = &config.console_url {
            command.arg("--console-url").arg(url);
        }
        if config.event_gateway_port != 0 {
            let sink = match &config.event_sink {
                Some(url) => url.clone(),
                None => format!("file:{}", config.dir.join("events.jsonl").display()),
            };
            command
                .arg("--event-gateway-listen")
                .arg(format!("127.0.0.1:{}", config.event_gateway_port))
                .arg("--event-sink")
                .arg(sink);
        }
        // The agent gets a minimal environment, not the server's: its configuration comes
        // from its files only, and nothing of the server's (database URL, credentials,
        // settings) may reach a runtime.
        command.env_clear().env("PATH", AGENT_PATH);
        command
            .current_dir(&config.dir)
            .stdin(std::process::Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .process_group(0)
            .kill_on_drop(false);
        let mut child = command.spawn().map_err(|e| {
            tracing::error!(program = %program.display(), error = %e, "cannot start a local runtime's agent");
            failed("starting the agent", e)
        })?;
        let pid = child
            .id()
            .ok_or_else(|| ProviderError::Failed("the agent exited at once".into()))?;
        write_private(&Self::pid_file(config), pid.to_string().as_bytes())?;
        if let Ok(mut exits) = self.exits.lock() {
            exits.remove(&runtime_id);
        }
        let exits = self.exits.clone();
        let log_file = config.dir.join("agent.log");
        tokio::spawn(async move {
            let status = match child.wait().await {
                Ok(status) => status.to_string(),
                Err(e) => format!("unknown ({e})"),
            };
            // The agent's last words stay in the server's log: they may hold paths and
            // backtraces, which the Provisioner's answers do not show.
            let last_lines = log_tail(&log_file, 3).unwrap_or_default();
            tracing::info!(runtime = %runtime_id, %status, %last_lines, "a local runtime's agent exited");
            if let Ok(mut exits) = exits.lock() {
                exits.insert(runtime_id, status);
            }
        });
        tracing::info!(runtime = %runtime_id, pid, dir = %config.dir.display(), "started a local runtime's agent");
        Ok(())
    }

    async fn stop(config: &LocalRuntimeConfig) -> Result<(), ProviderError> {
        let Some(pid) = Self::running_pid(config) else {
            return Ok(());
        };
        let target = rustix::process::Pid::from_raw(pid)
            .ok_or_else(|| ProviderError::Failed(format!("bad pid {pid}")))?;
        let _ = rustix::process::kill_process(target, rustix::process::Signal::TERM);
        let deadline = tokio::time::Instant::now() + STOP_GRACE;
        while process_runs_in(pid, &config.dir) {
            if tokio::time::Instant::now() >= deadline {
                let _ = rustix::process::kill_process(target, rustix::process::Signal::KILL);
                tokio::time::sleep(Duration::from_millis(200)).await;
                if process_runs_in(pid, &config.dir) {
                    return Err(ProviderError::Failed(format!(
                        "the agent (pid {pid}) does not stop"
                    )));
                }
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        match std::fs::remove_file(Self::pid_file(config)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(failed("removing agent.pid", e)),
        }
    }
}

#[async_trait::async_trait]
impl Provider for LocalProvider {
    fn name(&self) -> &'static str {
        "local"
    }

    fn configure(
        &self,
        runtime_id: RuntimeId,
        input: &serde_json::Value,
    ) -> Result<serde_json::Value, ProviderError> {
        self.program()?;
        let input: LocalInput = serde_json::from_value(input.clone())
            .map_err(|e| ProviderError::Invalid(format!("localConfig: {e}")))?;
        check_urls(&input)?;
        let gateway_port = match input.gateway_port {
            Some(0) => return Err(bad_port("gatewayPort")),
            Some(port) => port,
            None => free_port()?,
        };
        let event_gateway_port = match input.event_gateway_port {
            Some(0) => return Err(bad_port("eventGatewayPort")),
            Some(port) => port,
            None => free_port()?,
        };
        if gateway_port == event_gateway_port {
            return Err(ProviderError::Invalid(
                "localConfig: gatewayPort and eventGatewayPort must differ".into(),
            ));
        }
        let config = LocalRuntimeConfig {
            dir: self.settings.root.join(runtime_id.to_string()),
            gateway_port,
            gateway_allow_private: input.gateway_allow_private.unwrap_or(true),
            event_service_url: input.event_service_url,
            console_url: input.console_url,
            event_gateway_port,
            event_sink: input.event_sink,
            generation: 0,
            version: input.version,
        };
        serde_json::to_value(config).map_err(|e| ProviderError::Failed(e.to_string()))
    }

    fn reconfigure(
        &self,
        current: &serde_json::Value,
        input: &serde_json::Value,
    ) -> Result<serde_json::Value, ProviderError> {
        let mut config: LocalRuntimeConfig = serde_json::from_value(current.clone())
            .map_err(|e| ProviderError::Failed(format!("stored configuration: {e}")))?;
        let input: LocalInput = serde_json::from_value(input.clone())
            .map_err(|e| ProviderError::Invalid(format!("localConfig: {e}")))?;
        check_urls(&input)?;
        if let Some(port) = input.gateway_port {
            if port == 0 {
                return Err(bad_port("gatewayPort"));
            }
            config.gateway_port = port;
        }
        if let Some(port) = input.event_gateway_port {
            if port == 0 {
                return Err(bad_port("eventGatewayPort"));
            }
            config.event_gateway_port = port;
        }
        if config.event_gateway_port == 0 {
            // Provisioned before runtimes had an event gateway.
            config.event_gateway_port = free_port()?;
        }
        if config.gateway_port == config.event_gateway_port {
            return Err(ProviderError::Invalid(
                "localConfig: gatewayPort and eventGatewayPort must differ".into(),
            ));
        }
        if input.event_sink.is_some() {
            config.event_sink = input.event_sink;
        }
        if let Some(allow) = input.gateway_allow_private {
            config.gateway_allow_private = allow;
        }
        if input.event_service_url.is_some() {
            config.event_service_url = input.event_service_url;
        }
        if input.console_url.is_some() {
            config.console_url = input.console_url;
        }
        if input.version.is_some() {
            config.version = input.version;
        }
        config.generation += 1;
        serde_json::to_value(config).map_err(|e| ProviderError::Failed(e.to_string()))
    }

    async fn provision(
        &self,
        runtime: &ProvisionedRuntime,
        bootstrap: &Bootstrap,
    ) -> Result<(), ProviderError> {
        let config = Self::config_of(runtime)?;
        // Again after a restart mid-operation: the agent restarts with the new token and
        // resumes from its state if it had paired already.
        Self::stop(&config).await?;
        self.write_bootstrap(&config, bootstrap)?;
        self.start(runtime.runtime_id, &config).await
    }

    async fn upgrade(&self, runtime: &ProvisionedRuntime) -> Result<(), ProviderError> {
        let config = Self::config_of(runtime)?;
        Self::stop(&config).await?;
        self.start(runtime.runtime_id, &config).await
    }

    async fn reconnect(
        &self,
        runtime: &ProvisionedRuntime,
        bootstrap: &Bootstrap,
    ) -> Result<(), ProviderError> {
        let config = Self::config_of(runtime)?;
        Self::stop(&config).await?;
        match std::fs::remove_dir_all(config.dir.join("state")) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(failed("removing the agent's old state", e)),
        }
        self.write_bootstrap(&config, bootstrap)?;
        self.start(runtime.runtime_id, &config).await
    }

    async fn deprovision(&self, runtime: &ProvisionedRuntime) -> Result<(), ProviderError> {
        let config = Self::config_of(runtime)?;
        if !self.owns(&config) {
            tracing::error!(
                dir = %config.dir.display(),
                root = %self.settings.root.display(),
                "a local runtime's directory is not under this server's"
            );
            return Err(ProviderError::Failed(
                "the runtime's directory is not this server's".into(),
            ));
        }
        Self::stop(&config).await?;
        match std::fs::remove_dir_all(&config.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(failed("removing the runtime's directory", e)),
        }
    }

    async fn health(&self, runtime: &ProvisionedRuntime) -> AgentHealth {
        let config = match Self::config_of(runtime) {
            Ok(config) => config,
            Err(e) => return AgentHealth::Stopped(e.to_string()),
        };
        if Self::running_pid(&config).is_some() {
            return AgentHealth::Running;
        }
        let exit = self
            .exits
            .lock()
            .ok()
            .and_then(|exits| exits.get(&runtime.runtime_id).cloned());
        // A short reason only; the agent's log (paths, backtraces) is for the server's log.
        AgentHealth::Stopped(match exit {
            Some(status) => format!("the agent exited ({status}); its log is on the server"),
            None => "the agent is not running".to_owned(),
        })
    }

    async fn reconcile(&self, runtimes: &[ProvisionedRuntime]) {
        for runtime in runtimes.iter().filter(|r| r.provider == self.name()) {
            let Ok(config) = Self::config_of(runtime) else {
                continue;
            };
            if !self.owns(&config) || !config.dir.join("bootstrap.env").exists() {
                continue;
            }
            if let Err(e) = self.start(runtime.runtime_id, &config).await {
                tracing::error!(runtime = %runtime.runtime_id, error = %e, "cannot restart a local runtime's agent");
            }
        }
    }
}

/// A failed file or process operation: the details (paths, the OS error) go to the log,
/// the answer names the step and the kind of error only.
fn failed(what: &str, e: std::io::Error) -> ProviderError {
    tracing::error!(error = %e, "local provider: {what} failed");
    ProviderError::Failed(format!("{what} failed: {}", e.kind()))
}

fn bad_port(field: &str) -> ProviderError {
    ProviderError::Invalid(format!("localConfig.{field}: must be 1..65535"))
}

fn check_urls(input: &LocalInput) -> Result<(), ProviderError> {
    for (field, value) in [
        ("eventServiceURL", &input.event_service_url),
        ("consoleURL", &input.console_url),
        ("eventSink", &input.event_sink),
    ] {
        if let Some(value) = value
            && !(value.starts_with("https://") || value.starts_with("http://"))
        {
            return Err(ProviderError::Invalid(format!(
                "localConfig.{field}: an http(s) URL"
            )));
        }
        if let Some(value) = value
            && value.len() > 2048
        {
            return Err(ProviderError::Invalid(format!(
                "localConfig.{field}: at most 2048 characters"
            )));
        }
    }
    Ok(())
}

/// A port free on 127.0.0.1 now (the agent binds it a moment later).
fn free_port() -> Result<u16, ProviderError> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
        .map_err(|e| failed("finding a free port", e))?;
    let port = listener
        .local_addr()
        .map_err(|e| failed("finding a free port", e))?
        .port();
    Ok(port)
}

fn create_private_dir(dir: &Path) -> Result<(), ProviderError> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| {
            tracing::error!(dir = %dir.display(), "cannot create a local runtime's directory");
            failed("creating the runtime's directory", e)
        })
}

/// Writes a file readable by its owner only, atomically (`sextant_fs::write_atomic`).
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), ProviderError> {
    sextant_fs::write_atomic(path, bytes, 0o600).map_err(|e| {
        tracing::error!(path = %path.display(), error = %e, "cannot write a local runtime's file");
        // The file's name, not where it is on the server.
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        failed(&format!("writing {name}"), e)
    })
}

/// Whether `pid` is a live (not zombie) process whose command line names `dir`.
fn process_runs_in(pid: i32, dir: &Path) -> bool {
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    let Ok(stat) = std::fs::read_to_string(proc_dir.join("stat")) else {
        return false;
    };
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    if matches!(state, Some("Z" | "X" | "x") | None) {
        return false;
    }
    let Ok(cmdline) = std::fs::read(proc_dir.join("cmdline")) else {
        return false;
    };
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    cmdline.contains(&*dir.to_string_lossy())
}

/// The last `lines` non-empty lines of a log, joined, at most 500 characters.
fn log_tail(path: &Path, lines: usize) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let tail: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .rev()
        .take(lines)
        .collect();
    if tail.is_empty() {
        return None;
    }
    let joined = tail.into_iter().rev().collect::<Vec<_>>().join(" | ");
    let cut: String = joined
        .chars()
        .rev()
        .take(500)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    Some(cut)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn provider(root: &Path) -> LocalProvider {
        LocalProvider::new(LocalSettings {
            root: root.to_path_buf(),
            agent_program: Some(PathBuf::from("/bin/false")),
            ca_pem: String::new(),
        })
    }

    #[test]
    fn configure_checks_and_fills_in() {
        let root = std::env::temp_dir().join(format!("sextant-local-{}", uuid::Uuid::new_v4()));
        let p = provider(&root);
        let id = RuntimeId::new_v4();
        let config = p
            .configure(id, &serde_json::json!({"gatewayPort": 18080}))
            .unwrap();
        let config: LocalRuntimeConfig = serde_json::from_value(config).unwrap();
        assert_eq!(config.dir, root.join(id.to_string()));
        assert_eq!(config.gateway_port, 18080);
        assert!(config.gateway_allow_private);
        let picked: LocalRuntimeConfig =
            serde_json::from_value(p.configure(id, &serde_json::json!({})).unwrap()).unwrap();
        assert_ne!(picked.gateway_port, 0);
        for bad in [
            serde_json::json!({"gatewayPort": 0}),
            serde_json::json!({"eventServiceURL": "ftp://x"}),
            serde_json::json!({"unknown": 1}),
        ] {
            assert!(matches!(
                p.configure(id, &bad),
                Err(ProviderError::Invalid(_))
            ));
        }
        let upgraded: LocalRuntimeConfig = serde_json::from_value(
            p.reconfigure(
                &serde_json::to_value(&config).unwrap(),
                &serde_json::json!({"consoleURL": "https://console.local"}),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(upgraded.generation, 1);
        assert_eq!(
            upgraded.console_url.as_deref(),
            Some("https://console.local")
        );
        assert_eq!(upgraded.gateway_port, 18080);
    }

    #[test]
    fn private_files_are_private_even_over_a_readable_file() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = std::env::temp_dir().join(format!("sextant-local-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bootstrap.env");
        std::fs::write(&path, b"stale").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&path, b"TOKEN=secret\n").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read(&path).unwrap(), b"TOKEN=secret\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_pid_counts_only_in_its_runtime() {
        let me = std::process::id() as i32;
        assert!(!process_runs_in(me, Path::new("/nonexistent/runtime/dir")));
        assert!(!process_runs_in(i32::MAX, Path::new("/")));
    }
}
