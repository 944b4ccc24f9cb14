//! `sextant demo --ci`: the whole system on this machine walks the seed's flows, checks each
//! step, cleans up after itself and exits 0.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_sextant");

const STEPS: [&str; 8] = [
    "Application pairing",
    "API registration",
    "Runtime creation",
    "Runtime-ready notification through the webhook",
    "Credentials set through the webhook",
    "Runtime configuration applied",
    "A workload calls the application's API through the runtime gateway",
    "The application sends an event to the runtime",
];

/// The pids of running (not zombie) processes whose command line names `needle`.
fn processes_naming(needle: &str) -> Vec<(i32, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        let zombie = std::fs::read_to_string(entry.path().join("stat")).is_ok_and(|stat| {
            stat.rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        });
        if !zombie && cmdline.contains(needle) {
            found.push((pid, cmdline));
        }
    }
    found
}

#[test]
fn the_demo_walks_every_seed_flow_and_cleans_up() {
    let logs = std::env::temp_dir().join(format!(
        "sextant-demo-test-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&logs).unwrap();
    let (stdout, stderr) = (logs.join("stdout"), logs.join("stderr"));
    let mut child = Command::new(BIN)
        .args(["demo", "--ci", "--timeout", "150s"])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    // The demo bounds its steps and its cleanup; this bounds the test should it hang anyway.
    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the demo did not finish:\n{}",
                std::fs::read_to_string(&stdout).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let out = std::fs::read_to_string(&stdout).unwrap();
    let err = std::fs::read_to_string(&stderr).unwrap();
    assert!(
        status.success(),
        "sextant demo --ci failed ({status}):\n{out}\nstderr:\n{err}"
    );

    for (i, step) in STEPS.iter().enumerate() {
        let heading = format!("[{}/{}] {step}", i + 1, STEPS.len());
        assert!(out.contains(&heading), "no {heading:?} in:\n{out}");
    }
    assert_eq!(
        out.lines().filter(|l| l.starts_with("  OK  ")).count(),
        STEPS.len(),
        "every step checked:\n{out}"
    );
    assert!(out.contains("All 8 steps passed"), "{out}");
    assert!(!out.contains("FAILED"), "{out}");
    // What the steps are about shows in the output.
    for seen in [
        "rawEncoded",
        "addWebhook",
        "CONFIGURATION_CHANGED",
        "CREDENTIALS_REQUESTED",
        "setAPIAuth",
        "applied-configuration.json",
        "runtimeConnectionStatus Connected",
        "-> HTTP 200",
        "events.jsonl",
    ] {
        assert!(out.contains(seen), "no {seen:?} in:\n{out}");
    }

    // It cleaned up: the runtime deprovisioned, the temporary directory gone, no agent left.
    let data_dir = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("Data directory:"))
        .map(|rest| {
            rest.trim()
                .trim_end_matches("(temporary: removed on exit)")
                .trim()
                .to_owned()
        })
        .expect("the demo names its data directory");
    assert!(
        data_dir.contains("sextant-demo-"),
        "a temporary directory: {data_dir}"
    );
    assert!(out.contains("Deprovisioned runtime"), "{out}");
    assert!(
        !out.contains("leftover"),
        "the agent outlived deprovisioning:\n{out}"
    );
    assert!(
        !Path::new(&data_dir).exists(),
        "{data_dir} is still there:\n{out}"
    );
    // An agent that was just killed may need a moment to go.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = processes_naming(&data_dir);
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "processes of the demo left running: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = std::fs::remove_dir_all(&logs);
}

/// Without `--ci` the demo keeps running and prints a console login link that signs in once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_running_demo_prints_a_console_login_link() {
    let dir = std::env::temp_dir().join(format!(
        "sextant-demo-console-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let data_dir = dir.join("data");
    std::fs::create_dir_all(&dir).unwrap();
    let stdout = dir.join("stdout");
    let mut child = Command::new(BIN)
        .args(["demo", "--timeout", "150s", "--data-dir"])
        .arg(&data_dir)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(dir.join("stderr")).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(240);
    let url = loop {
        let out = std::fs::read_to_string(&stdout).unwrap_or_default();
        if let Some(line) = out.lines().find(|l| l.trim_start().starts_with("Console:")) {
            break line.split_whitespace().nth(1).unwrap().to_owned();
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the demo ended ({status}) without a console link:\n{out}");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("no console link in time:\n{out}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let (base, token) = url.split_once("/console/login?link=").unwrap();
    let ca = std::fs::read(data_dir.join("ca.crt")).unwrap();
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = client.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let sign_in = || {
        client
            .post(format!("{base}/console/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("link={token}"))
            .send()
    };
    let signed_in = sign_in().await.unwrap();
    assert_eq!(signed_in.status(), 303);
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    // The demo's sample application is in the console.
    let applications = client
        .get(format!("{base}/console/applications"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(applications.status(), 200);
    let html = applications.text().await.unwrap();
    assert!(html.contains("Register an application"), "{html}");
    assert_eq!(
        sign_in().await.unwrap().status(),
        401,
        "the link works once"
    );

    // Interrupted, the demo cleans up and ends.
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the demo did not end");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}
