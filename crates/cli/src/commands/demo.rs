//! `sextant demo`: the whole system on this machine, walking the seed's flows.
//!
//! It starts the management plane in this process (SQLite in a fresh temporary data
//! directory, or `--data-dir`), a sample application (an HTTP API on 127.0.0.1 that accepts
//! only credentials it issued, and a webhook listener), and provisions one local runtime
//! through the Provisioner (an agent process running this binary). It then walks the flows in
//! order (see [`report::STEPS`]), printing and checking each, and either stays up until
//! interrupted (printing how to look around) or, with `--ci`, exits. Either way it cleans up:
//! the runtime is deprovisioned (its agent stops), the application unregistered, the servers
//! stopped, and a temporary data directory removed.
//!
//! Webhook notifications can arrive before the step that expects them: the listener records
//! everything from the moment it starts, and the steps wait on that record.

mod admin;
mod report;
mod sample;
mod steps;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use report::{Failure, detail, say, step_name};
use steps::{Ctx, Progress};

/// `sextant demo`'s options.
#[derive(clap::Args)]
pub(crate) struct DemoArgs {
    /// Where the management plane keeps its CA, keys, admin token and SQLite database (and
    /// the runtime's and the application's state); default: a fresh temporary directory,
    /// removed on exit. A given directory is kept.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Bounded and non-interactive: walk the steps, check each, clean up and exit (0 when
    /// every step passed).
    #[arg(long, visible_alias = "check")]
    ci: bool,
    /// With --ci: how long the steps may take altogether.
    #[arg(long, default_value = "120s", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// The management plane's main listener (HTTPS); default: a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// The management plane's mTLS listener; default: a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    mtls_listen: SocketAddr,
}

/// The longest any one wait of a step takes.
const STEP_WAIT: Duration = Duration::from_secs(90);
/// The longest cleaning up takes before the rest is forced.
const CLEANUP_WAIT: Duration = Duration::from_secs(60);

pub(crate) fn run(args: DemoArgs) -> anyhow::Result<()> {
    crate::process::init_logs("warn", std::io::stderr);
    let runtime = crate::process::async_runtime()?;
    runtime.block_on(demo(args))
}

/// The data directory: a temporary one is removed when dropped (also on early returns).
struct DataDir {
    path: PathBuf,
    temporary: bool,
}

impl DataDir {
    fn new(given: Option<PathBuf>) -> anyhow::Result<DataDir> {
        match given {
            Some(path) => Ok(DataDir {
                path: std::path::absolute(&path)
                    .with_context(|| format!("cannot use {}", path.display()))?,
                temporary: false,
            }),
            None => {
                let id = uuid::Uuid::new_v4().simple().to_string();
                let name = format!("sextant-demo-{}", id.get(..12).unwrap_or(&id));
                Ok(DataDir {
                    path: std::env::temp_dir().join(name),
                    temporary: true,
                })
            }
        }
    }

    /// The sample application's state directory.
    fn app_state(&self) -> PathBuf {
        self.path.join("demo-app")
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        if self.temporary && self.path.exists() {
            match std::fs::remove_dir_all(&self.path) {
                Ok(()) => say(format!("Removed {}.", self.path.display())),
                Err(e) => say(format!("Could not remove {}: {e}", self.path.display())),
            }
        } else if !self.temporary {
            // The application's state belongs to the application unregistered on the way out.
            let _ = std::fs::remove_dir_all(self.app_state());
        }
    }
}

/// How the walk ended.
enum Ended {
    Passed,
    Failed(Failure),
    Interrupted,
}

async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let data = DataDir::new(args.data_dir)?;
    say(
        "Sextant demo: the management plane, a local runtime and a sample application on this machine.",
    );
    say(format!(
        "  Data directory:   {}{}",
        data.path.display(),
        if data.temporary {
            " (temporary: removed on exit)"
        } else {
            ""
        }
    ));
    // A state directory left by an earlier demo on the same --data-dir belongs to an
    // application that no longer exists.
    if !data.temporary {
        let _ = std::fs::remove_dir_all(data.app_state());
    }

    let agent_program =
        std::env::current_exe().context("finding this binary (the runtime's agent program)")?;
    let server = sextant_server::start_with(
        sextant_server::ServerConfig {
            data_dir: data.path.clone(),
            database_url: None,
            listen: args.listen,
            mtls_listen: args.mtls_listen,
            public_url: None,
            // Everything (the sample API, the webhook listener) is on loopback, and nothing
            // else is called.
            fetch_allow_private: true,
            fetch_allow_hosts: Some(sextant_server::HostAllowList::loopback()),
            token_lifetimes: sextant_server::TokenLifetimes::default(),
            certificate_validity: sextant_server::DEFAULT_CERTIFICATE_VALIDITY,
        },
        sextant_server::ServerOptions {
            agent_program: Some(agent_program),
            connect_timeout: Some(Duration::from_secs(60)),
            lease: None,
            notifier: Some(sextant_server::notifier::NotifierSettings {
                retry_base: Duration::from_millis(250),
                retry_max: Duration::from_secs(5),
                ..sextant_server::notifier::NotifierSettings::default()
            }),
            graphql_limits: None,
            spec_limits: None,
            connections: None,
            // The demo's runtime serves on 127.0.0.1.
            runtime_serving_names: None,
            agent_flush_interval: None,
        },
    )
    .await
    .map_err(anyhow::Error::new)
    .context("the management plane could not start")?;
    let base = server.public_url.as_str().trim_end_matches('/').to_owned();
    say(format!(
        "  Management plane: {base} (mTLS {})",
        server.mtls_addr
    ));

    let shutdown = CancellationToken::new();
    let sample = Arc::new(sample::SampleApi::default());
    let ctx = async {
        let addr = sample.serve(shutdown.clone()).await?;
        let sample_url = format!("http://{addr}{}", sample::BASE_PATH);
        say(format!(
            "  Sample application's API: {sample_url} (HTTP basic, credentials it issues per runtime)"
        ));
        let ca = std::fs::read(data.path.join("ca.crt"))?;
        let token = std::fs::read_to_string(&server.admin_token_path)?;
        anyhow::Ok(Ctx {
            admin: admin::Admin::new(&server.public_url, &ca, token.trim().to_owned())?,
            data_dir: data.path.clone(),
            app_state_dir: data.app_state(),
            sample: sample.clone(),
            sample_url,
            recorder: Arc::new(sample::Recorder::new(started)),
            shutdown: shutdown.clone(),
            wait: STEP_WAIT,
        })
    }
    .await;
    let ctx = match ctx {
        Ok(ctx) => ctx,
        Err(e) => {
            shutdown.cancel();
            server.stop().await;
            return Err(e.context("setting up the sample application"));
        }
    };

    let mut progress = Progress::default();
    let walk = async {
        if args.ci {
            match tokio::time::timeout(args.timeout, steps::walk(&ctx, &mut progress)).await {
                Ok(result) => result,
                Err(_) => Err(Failure::new(
                    format!(
                        "steps 1 to {} within {:?}",
                        report::STEPS.len(),
                        args.timeout
                    ),
                    "the time ran out during this step".to_owned(),
                )),
            }
        } else {
            steps::walk(&ctx, &mut progress).await
        }
    };
    let ended = tokio::select! {
        result = walk => match result {
            Ok(()) => Ended::Passed,
            Err(failure) => Ended::Failed(failure),
        },
        () = crate::process::shutdown_signal() => Ended::Interrupted,
    };

    match &ended {
        Ended::Passed => {
            say(format!(
                "\nAll {} steps passed in {:.1} s.",
                report::STEPS.len(),
                started.elapsed().as_secs_f64()
            ));
            if !args.ci {
                let console = sextant_server::console_link(
                    &data.path,
                    None,
                    sextant_server::ConsoleLink {
                        tenants: vec![sextant_domain::TenantId::DEFAULT],
                        scopes: crate::commands::admin::console_scopes(),
                        subject: "demo".to_owned(),
                        public_url: server.public_url.clone(),
                    },
                )
                .await
                .map_err(|e| e.to_string());
                look_around(&base, &data, &server, &progress, console);
                crate::process::shutdown_signal().await;
                say("\nInterrupted.");
            }
        }
        Ended::Failed(failure) => {
            say(format!(
                "\nFAILED at step {} ({})",
                progress.step,
                step_name(progress.step)
            ));
            say(format!("  expected: {}", failure.expected));
            say(format!("  happened: {}", failure.happened));
            let received = ctx.recorder.snapshot();
            if !received.is_empty() {
                say(format!("  {}", sample::describe(&received)));
            }
            if let Some(dir) = &progress.runtime_dir {
                say(format!(
                    "  the agent's log: {} (printed below)",
                    dir.join("agent.log").display()
                ));
                print_tail(&dir.join("agent.log"), 30);
            }
        }
        Ended::Interrupted => say(format!(
            "\nInterrupted during step {} ({}).",
            progress.step,
            step_name(progress.step)
        )),
    }

    say("\nCleaning up…");
    tokio::select! {
        () = clean_up(&ctx, &progress) => {}
        () = crate::process::shutdown_signal() => say("Interrupted again: stopping the rest at once."),
        () = tokio::time::sleep(CLEANUP_WAIT) => say("Cleaning up takes too long: stopping the rest at once."),
    }
    // Whatever the deprovisioning did: no agent of this demo outlives it.
    if let Some(dir) = &progress.runtime_dir {
        let killed = kill_processes_naming(dir);
        if killed > 0 {
            say(format!("Stopped {killed} leftover agent process(es)."));
        }
    }
    shutdown.cancel();
    server.stop().await;
    say("The management plane stopped.");
    drop(data);

    match ended {
        Ended::Passed => Ok(()),
        Ended::Failed(_) => Err(anyhow::anyhow!(
            "the demo failed at step {} ({})",
            progress.step,
            step_name(progress.step)
        )),
        Ended::Interrupted => Err(anyhow::anyhow!(
            "interrupted during step {} ({})",
            progress.step,
            step_name(progress.step)
        )),
    }
}

/// Deprovisions the runtime (its agent stops) and unregisters the application.
async fn clean_up(ctx: &Ctx, p: &Progress) {
    let mut runtime = p.runtime.as_ref().map(|(id, _)| *id);
    if runtime.is_none()
        && let Some(op) = &p.operation
        && let Ok(data) = ctx
            .admin
            .provisioner(
                "query($id: String!) { runtimeOperationStatus(id: $id) { runtimeID } }",
                json!({"id": op}),
            )
            .await
    {
        runtime = data["runtimeOperationStatus"]["runtimeID"]
            .as_str()
            .and_then(|s| s.parse().ok());
    }
    if let Some(runtime) = runtime {
        match deprovision(ctx, runtime).await {
            Ok(op) => say(format!(
                "Deprovisioned runtime {runtime} (operation {op}): its agent stopped and its directory is gone."
            )),
            Err(e) => say(format!("Deprovisioning runtime {runtime} failed: {e}")),
        }
    }
    if let Some((app, name)) = &p.app {
        match ctx
            .admin
            .director(
                "mutation($id: ID!) { unregisterApplication(id: $id) { id } }",
                json!({"id": app}),
            )
            .await
        {
            Ok(_) => say(format!("Unregistered application {name} ({app}).")),
            Err(e) => say(format!("Unregistering application {name} failed: {e}")),
        }
    }
}

/// Starts deprovisioning (waiting out a provisioning operation still running) and follows
/// it to its end.
async fn deprovision(ctx: &Ctx, runtime: uuid::Uuid) -> Result<String, String> {
    let deadline = Instant::now() + CLEANUP_WAIT;
    let op = loop {
        match ctx
            .admin
            .provisioner(
                "mutation($id: String!) { deprovisionRuntime(id: $id) }",
                json!({"id": runtime.to_string()}),
            )
            .await
        {
            Ok(data) => break data["deprovisionRuntime"].as_str().unwrap_or("").to_owned(),
            Err(e) if Instant::now() < deadline && e.contains("in progress") => {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => return Err(e),
        }
    };
    loop {
        let data = ctx
            .admin
            .provisioner(
                "query($id: String!) { runtimeOperationStatus(id: $id) { state message } }",
                json!({"id": op}),
            )
            .await?;
        let status = &data["runtimeOperationStatus"];
        match status["state"].as_str() {
            Some("Succeeded") => return Ok(op),
            Some("Failed") => return Err(format!("operation {op}: {status}")),
            _ if Instant::now() > deadline => return Err(format!("operation {op}: {status}")),
            _ => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// Kills the processes whose command line names `dir` (the runtime's agent runs with its
/// directory in its arguments; nothing else does). Answers how many.
fn kill_processes_naming(dir: &Path) -> usize {
    let needle = dir.to_string_lossy().into_owned();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let own = std::process::id();
    let mut killed = 0;
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if u32::try_from(pid).is_ok_and(|p| p == own) {
            continue;
        }
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if String::from_utf8_lossy(&cmdline).contains(&needle)
            && let Some(pid) = rustix::process::Pid::from_raw(pid)
            && rustix::process::kill_process(pid, rustix::process::Signal::KILL).is_ok()
        {
            killed += 1;
        }
    }
    killed
}

fn print_tail(path: &Path, lines: usize) {
    let Ok(text) = std::fs::read_to_string(path) else {
        return;
    };
    let all: Vec<&str> = text.lines().collect();
    for line in &all[all.len().saturating_sub(lines)..] {
        say(format!("    | {line}"));
    }
}

/// What to try while the demo runs.
fn look_around(
    base: &str,
    data: &DataDir,
    server: &sextant_server::RunningServer,
    p: &Progress,
    console: Result<String, String>,
) {
    let ca = data.path.join("ca.crt");
    let token = &server.admin_token_path;
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "sextant".into());
    let app_state = data.app_state();
    say("\nThe demo keeps running. Look around:");
    match console {
        Ok(url) => say(format!(
            "  Console:           {url}\n                     (opens a session once, within 10 minutes; \
             `{exe} admin console-link --data-dir {}` prints another)",
            data.path.display()
        )),
        Err(e) => say(format!(
            "  Console:           {base}/console/ (no login link: {e})"
        )),
    }
    say(format!("  Director GraphQL:  {base}/director/graphql"));
    say(format!("  Provisioner:       {base}/provisioner/graphql"));
    say(format!("  Metrics:           {base}/metrics"));
    say(format!("  Admin token:       {}", token.display()));
    say(format!("  CA certificate:    {}", ca.display()));
    say(format!("  mTLS listener:     {}", server.mtls_addr));
    say("\n  GraphQL as the administrator (applications, their webhooks' deliveries, runtimes):");
    say(format!(
        "    curl -s --cacert {ca} -H \"Authorization: Bearer $(cat {token})\" -H 'Content-Type: application/json' \\\n      {base}/director/graphql \\\n      -d '{{\"query\":\"{{ applications {{ data {{ name webhooks {{ url deliveries {{ eventType state }} }} }} }} runtimes {{ data {{ id name status {{ condition }} labels }} }} }}\"}}'",
        ca = ca.display(),
        token = token.display()
    ));
    if let Some((runtime, _)) = &p.runtime {
        say(format!(
            "    curl -s --cacert {ca} -H \"Authorization: Bearer $(cat {token})\" -H 'Content-Type: application/json' \\\n      {base}/provisioner/graphql \\\n      -d '{{\"query\":\"{{ runtimeStatus(id: \\\"{runtime}\\\") {{ runtimeConnectionStatus {{ status }} }} }}\"}}'",
            ca = ca.display(),
            token = token.display()
        ));
    }
    say(format!(
        "    curl -s --cacert {} {base}/metrics | grep sextant_webhook",
        ca.display()
    ));
    if let (Some((_, app)), Some((_, api)), Some(port)) = (&p.app, &p.api, p.gateway_port) {
        say("\n  A workload's call through the runtime's application gateway:");
        say(format!(
            "    curl -s http://127.0.0.1:{port}/{app}/{api}{}",
            sample::ORDERS_PATH
        ));
    }
    say("\n  The application (sextant app, with the sample application's state):");
    say(format!(
        "    {exe} app --state-dir {} config",
        app_state.display()
    ));
    if let Some(url) = &p.event_url {
        say(format!(
            "    {exe} app --state-dir {} send-event --runtime-url {url} --type order.created --type-version v1 --data '{{\"orderId\": \"o-2000\"}}'",
            app_state.display()
        ));
    }
    if let Some(dir) = &p.runtime_dir {
        say("\n  The runtime:");
        detail(format!(
            "directory {} (agent.log, events.jsonl, state/applied-configuration.json)",
            dir.display()
        ));
    }
    say(format!(
        "\nPress Ctrl-C to stop: the demo deprovisions the runtime, stops the servers{}.",
        if data.temporary {
            format!(" and removes {}", data.path.display())
        } else {
            String::new()
        }
    ));
}
