//! Documents built once per epoch and served many times: runtimes with the same scenarios
//! share the applications' part, each gets only its own credentials (plain and gzip), the
//! part is read once per epoch however many runtimes ask, and a change wakes every long poll
//! while writers are still answered.

use std::io::Read;
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, api_input, basic_auth};
use crate::rotation::{Paired, pair_as};

fn config_url(app: &TestApp) -> String {
    format!(
        "https://localhost:{}/runtime/configuration",
        app.server().mtls_addr.port()
    )
}

/// GET the configuration, gzip-encoded if `gzip`: status, ETag, the decoded body.
async fn fetch(
    client: &reqwest::Client,
    url: &str,
    etag: Option<&str>,
    gzip: bool,
) -> (u16, Option<String>, Vec<u8>) {
    let mut request = client.get(url);
    if let Some(etag) = etag {
        request = request.header("If-None-Match", etag);
    }
    if gzip {
        request = request.header("Accept-Encoding", "gzip");
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let etag = response
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_owned());
    let encoded = response
        .headers()
        .get("content-encoding")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.bytes().await.unwrap().to_vec();
    let body = match encoded.as_deref() {
        Some("gzip") => {
            assert!(gzip, "gzip only when asked for");
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut out)
                .unwrap();
            out
        }
        None => body,
        Some(other) => panic!("unexpected encoding {other}"),
    };
    (status, etag, body)
}

fn version(etag: &str) -> &str {
    etag.trim_start_matches("W/").trim_matches('"')
}

fn sha256_hex(bytes: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Scenario SHARED with application `shop` (API `orders` with a default auth, API `stock`
/// without) and `RUNTIMES` runtimes in SHARED, each paired; the even ones hold credentials of their
/// own for `orders`, the ones divisible by three for `stock`. Answers the shop, the two APIs
/// and the runtimes with their clients.
const RUNTIMES: usize = 8;

struct Fleet {
    shop: String,
    runtimes: Vec<(String, Paired)>,
}

fn password(api: &str, r: usize) -> String {
    format!("pw-{api}-runtime-{r}-")
}

async fn fleet(app: &TestApp) -> Fleet {
    app.define_scenarios(&["SHARED"]).await;
    let shop = app
        .register_app("shop", json!({"scenarios": ["SHARED"]}))
        .await;
    let mut orders = api_input("orders");
    orders["defaultAuth"] = basic_auth("default-user", "default-pass");
    let orders = app.add_api(&shop, orders).await;
    let stock = app.add_api(&shop, api_input("stock")).await;
    let mut runtimes = Vec::new();
    for r in 0..RUNTIMES {
        let id = app
            .register_runtime(&format!("rt-{r}"), json!({"scenarios": ["SHARED"]}))
            .await;
        for (api, name, holds) in [
            (&orders, "orders", r % 2 == 0),
            (&stock, "stock", r % 3 == 0),
        ] {
            if holds {
                app.gql(
                    "mutation($a: ID!, $r: ID!, $in: AuthInput!) { setAPIAuth(apiID: $a, runtimeID: $r, in: $in) { runtimeID } }",
                    json!({"a": api, "r": id, "in": basic_auth(&format!("user-{r}"), &password(name, r))}),
                )
                .await;
            }
        }
        let paired = pair_as(app, "Runtime", &id).await;
        runtimes.push((id, paired));
    }
    Fleet { shop, runtimes }
}

async fn runtimes_see_only_their_own_credentials(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let fleet = fleet(&app).await;
    let url = config_url(&app);
    // All at once, so that they share batches and the part; plain and gzip.
    let fetches: Vec<_> = fleet
        .runtimes
        .iter()
        .enumerate()
        .map(|(r, (_, paired))| {
            let client = paired.client(&paired.trusted_pem);
            let url = url.clone();
            tokio::spawn(async move {
                let plain = fetch(&client, &url, None, false).await;
                let zipped = fetch(&client, &url, None, true).await;
                (r, plain, zipped)
            })
        })
        .collect();
    for fetched in fetches {
        let (r, (status, etag, body), (zstatus, zetag, zbody)) = fetched.await.unwrap();
        assert_eq!((status, zstatus), (200, 200));
        assert_eq!(body, zbody, "gzip decodes to the same document");
        let (etag, zetag) = (etag.unwrap(), zetag.unwrap());
        assert!(!etag.starts_with("W/"), "the plain answer's tag is strong");
        assert!(zetag.starts_with("W/"), "the encoded answer's tag is weak");
        assert_eq!(version(&etag), version(&zetag));
        assert_eq!(
            version(&etag),
            &sha256_hex(&body)[..32],
            "a true content hash"
        );
        let text = String::from_utf8(body.clone()).unwrap();
        for other in 0..RUNTIMES {
            assert_eq!(
                text.contains(&password("orders", other)),
                other == r && r % 2 == 0,
                "runtime {r}'s document and runtime {other}'s orders password"
            );
            assert_eq!(
                text.contains(&password("stock", other)),
                other == r && r % 3 == 0,
                "runtime {r}'s document and runtime {other}'s stock password"
            );
        }
        let doc: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(doc["runtimeID"], fleet.runtimes[r].0);
        assert_eq!(doc["applications"][0]["id"], fleet.shop);
        let sources: Vec<&str> = doc["applications"][0]["apis"]
            .as_array()
            .unwrap()
            .iter()
            .map(|api| api["credentialsSource"].as_str().unwrap())
            .collect();
        let expected_orders = if r % 2 == 0 { "RUNTIME" } else { "DEFAULT" };
        let expected_stock = if r % 3 == 0 { "RUNTIME" } else { "NONE" };
        let mut expected = [expected_orders, expected_stock];
        let mut sorted = sources.clone();
        sorted.sort_unstable();
        expected.sort_unstable();
        assert_eq!(sorted, expected, "runtime {r}");
        // Unchanged, with either tag: 304.
        let client = fleet.runtimes[r].1.client(&fleet.runtimes[r].1.trusted_pem);
        assert_eq!(fetch(&client, &url, Some(&zetag), false).await.0, 304);
        assert_eq!(fetch(&client, &url, Some(&etag), true).await.0, 304);
    }
}

async fn the_shared_part_is_read_once_per_epoch(backend: Backend) {
    let app = TestApp::spawn_without_sighting_flushes(backend).await;
    let fleet = fleet(&app).await;
    let url = config_url(&app);
    let clients: Vec<reqwest::Client> = fleet
        .runtimes
        .iter()
        .map(|(_, paired)| paired.client(&paired.trusted_pem))
        .collect();
    // Each certificate checked once (not part of what is measured).
    for client in &clients {
        assert_eq!(fetch(client, &url, None, false).await.0, 200);
    }
    // A change to every document: the epoch moves.
    app.add_api(&fleet.shop, api_input("new-api")).await;
    // One at a time: each runtime's facts are a batch of its own (three statements), and
    // only the first reads the applications of the scenario.
    let before = app.statements();
    assert_eq!(fetch(&clients[0], &url, None, false).await.0, 200);
    let first = app.statements() - before;
    assert!(first > 3, "the first reads the part too: {first}");
    for client in &clients[1..] {
        let before = app.statements();
        assert_eq!(fetch(client, &url, None, true).await.0, 200);
        assert_eq!(
            app.statements() - before,
            3,
            "the runtime, its labels, its credentials; the part is shared and the certificate remembered"
        );
    }
    // Asked again in the same epoch: nothing is read.
    let before = app.statements();
    for client in &clients {
        assert_eq!(fetch(client, &url, None, false).await.0, 200);
    }
    assert_eq!(app.statements(), before);
}

async fn a_change_wakes_every_long_poll_and_writes_are_answered(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let fleet = fleet(&app).await;
    let url = config_url(&app);
    let mut polls = Vec::new();
    // More waiting polls than are answered at once after a wake-up.
    for round in 0..3 {
        for (r, (_, paired)) in fleet.runtimes.iter().enumerate() {
            let client = paired.client(&paired.trusted_pem);
            let (status, etag, _) = fetch(&client, &url, None, round % 2 == 0).await;
            assert_eq!(status, 200);
            let etag = etag.unwrap();
            let url = format!("{url}?wait=30");
            polls.push((
                r,
                tokio::spawn(async move { fetch(&client, &url, Some(&etag), round == 1).await }),
            ));
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(polls.iter().all(|(_, poll)| !poll.is_finished()));
    // The change, and right behind it a write and a health check.
    app.add_api(&fleet.shop, api_input("woken")).await;
    let write = app
        .register_app("written-while-woken", json!({"scenarios": ["SHARED"]}))
        .await;
    assert!(!write.is_empty());
    assert_eq!(app.get("/healthz").await.status(), 200);
    for (r, poll) in polls {
        let (status, _, body) = tokio::time::timeout(Duration::from_secs(20), poll)
            .await
            .unwrap_or_else(|_| panic!("runtime {r}'s long poll was not woken"))
            .unwrap();
        assert_eq!(status, 200, "runtime {r}");
        let doc: Value = serde_json::from_slice(&body).unwrap();
        let names: Vec<&str> = doc["applications"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|app| app["apis"].as_array().unwrap())
            .map(|api| api["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"woken"), "runtime {r}: {names:?}");
    }
}

crate::on_both_backends!(
    runtimes_see_only_their_own_credentials,
    the_shared_part_is_read_once_per_epoch,
    a_change_wakes_every_long_poll_and_writes_are_answered,
);
