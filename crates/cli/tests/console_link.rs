//! `sextant admin console-link` against a running server on both backends: the printed URL
//! opens the login page, its button signs in once, and the session has the scopes asked for.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use sextant_test_server::{Backend, TestServer};
use sextant_test_support::on_both_backends;

const BIN: &str = env!("CARGO_BIN_EXE_sextant");

fn browser(server: &TestServer) -> reqwest::Client {
    let ca = std::fs::read(server.ca_path()).unwrap();
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Runs `sextant admin console-link` for the server's data directory (and database).
fn console_link(server: &TestServer, extra: &[&str]) -> String {
    let mut command = Command::new(BIN);
    command
        .args(["admin", "console-link", "--public-url", &server.base])
        .arg("--data-dir")
        .arg(&server.data_dir)
        .args(extra)
        .env_remove("SEXTANT_DATABASE_URL");
    if server.backend == Backend::Postgres {
        command.args(["--database-url", &server.db.url]);
    }
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

async fn sign_in(client: &reqwest::Client, server: &TestServer, token: &str) -> reqwest::Response {
    client
        .post(server.url("/console/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("link={token}"))
        .send()
        .await
        .unwrap()
}

async fn the_printed_url_signs_in_once(backend: Backend) {
    let server = TestServer::start(backend).await;
    let url = console_link(&server, &["--scopes", "application:read runtime:read"]);
    let prefix = format!("{}/console/login?link=", server.base);
    let token = url.strip_prefix(&prefix).unwrap_or_else(|| panic!("{url}"));
    let client = browser(&server);

    let login = client.get(&url).send().await.unwrap();
    assert_eq!(login.status(), 200);
    assert!(login.text().await.unwrap().contains("Sign in"));

    let signed_in = sign_in(&client, &server, token).await;
    assert_eq!(signed_in.status(), 303);
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let applications = client
        .get(server.url("/console/applications"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(applications.status(), 200);
    // application:read without application:write: no registration offered.
    assert!(
        !applications
            .text()
            .await
            .unwrap()
            .contains("Register an application")
    );

    assert_eq!(sign_in(&client, &server, token).await.status(), 401);

    // The default grants the default tenant and the user scopes, registration included.
    let url = console_link(&server, &[]);
    let token = url.strip_prefix(&prefix).unwrap();
    let signed_in = sign_in(&client, &server, token).await;
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let applications = client
        .get(server.url("/console/applications"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(applications.contains("Register an application"));
    assert!(applications.contains("3e64ebae-38b5-46a0-b1ed-9ccee153a0ae"));
}

on_both_backends!(the_printed_url_signs_in_once);
