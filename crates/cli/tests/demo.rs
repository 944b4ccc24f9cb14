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
