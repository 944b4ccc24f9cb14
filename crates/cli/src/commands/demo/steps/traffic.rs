//! Steps 7 and 8: a workload calls the application's API through the runtime's gateway,
//! and the application sends an event to the runtime.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sextant_app::Event;
use uuid::Uuid;

use super::{Ctx, Progress, needed};
use crate::commands::demo::report::{Checked, Failure, detail, passed};
use crate::commands::demo::sample::{BASE_PATH, ORDERS_PATH};

fn plain_client() -> Checked<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| Failure::new("an HTTP client", e.to_string()))
}

pub(super) async fn workload_calls_api(ctx: &Ctx, p: &mut Progress) -> Checked<()> {
    let (_, app_name) = needed(&p.app, "the application")?;
    let (_, api_name) = needed(&p.api, "the API")?;
    let (runtime, _) = needed(&p.runtime, "the runtime")?;
    let gateway = needed(&p.gateway_port, "the gateway's port")?;
    let (user, _) = needed(&p.credentials, "the runtime's credentials")?;
    let http = plain_client()?;

    let direct = format!("{}{ORDERS_PATH}", ctx.sample_url);
    let status = http
        .get(&direct)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .map_err(|e| Failure::new(format!("GET {direct}"), sextant_app::chain(&e)))?;
    if status != 401 {
        return Err(Failure::new(
            format!("GET {direct} without credentials: HTTP 401"),
            format!("HTTP {status}"),
        ));
    }
    detail(format!("GET {direct} without credentials: HTTP {status}"));

    let url = format!("http://127.0.0.1:{gateway}/{app_name}/{api_name}{ORDERS_PATH}");
    let calls_before = ctx.sample.calls().len();
    let deadline = Instant::now() + ctx.wait;
    let (status, body) = loop {
        let answer = match http.get(&url).send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                (status, r.text().await.unwrap_or_default())
            }
            Err(e) => (0, sextant_app::chain(&e)),
        };
        if answer.0 == 200 || Instant::now() > deadline {
            break answer;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    if status != 200 {
        return Err(Failure::new(
            format!("GET {url} (the workload, without credentials): HTTP 200"),
            format!("HTTP {status}: {body}"),
        ));
    }
    detail(format!("a workload: GET {url} -> HTTP {status}"));
    let compact = serde_json::from_str::<Value>(&body)
        .map(|v| v.to_string())
        .unwrap_or(body);
    detail(format!("  {compact}"));
    let seen = ctx
        .sample
        .calls()
        .into_iter()
        .skip(calls_before)
        .find(|c| c.status == 200);
    match seen {
        Some(call)
            if call.user.as_deref() == Some(user.as_str()) && call.runtime == Some(runtime) =>
        {
            detail(format!(
                "the sample API saw {} {} with basic user {user}: the credentials it issued to runtime {runtime}",
                call.method, call.path
            ));
        }
        other => {
            return Err(Failure::new(
                format!("the sample API to see the runtime's credentials (basic user {user})"),
                format!("{other:?}"),
            ));
        }
    }
    passed(format!(
        "the runtime gateway called {BASE_PATH}{ORDERS_PATH} with the runtime's credentials"
    ));
    Ok(())
}

pub(super) async fn event_to_runtime(ctx: &Ctx, p: &mut Progress) -> Checked<()> {
    let client = needed(&p.client, "the paired application")?;
    let (_, app_name) = needed(&p.app, "the application")?;
    let event_url = needed(&p.event_url, "the runtime's eventing URL")?;
    let dir = needed(&p.runtime_dir, "the runtime's directory")?;
    let id = Uuid::new_v4().to_string();
    let event = Event {
        event_type: "order.created".into(),
        event_type_version: "v1".into(),
        event_id: Some(id.clone()),
        data: json!({"orderId": "o-1003", "item": "chronometer", "quantity": 1}),
    };
    let deadline = Instant::now() + ctx.wait;
    let answer = loop {
        match client.send_event(Some(&event_url), &event).await {
            Ok(answer) => break answer,
            Err(e) if Instant::now() > deadline => {
                return Err(Failure::new(
                    format!("the event gateway {event_url} to accept the event"),
                    sextant_app::chain(&e),
                ));
            }
            Err(e) => {
                detail(format!("send_event: {} (retrying)", sextant_app::chain(&e)));
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    };
    detail(format!(
        "AppClient::send_event: POST {}/{app_name}/v1/events with the application's client certificate -> {answer}",
        event_url.trim_end_matches('/')
    ));
    let sink = dir.join("events.jsonl");
    let deadline = Instant::now() + ctx.wait;
    let line = loop {
        let text = std::fs::read_to_string(&sink).unwrap_or_default();
        let found = text.lines().find(|line| {
            serde_json::from_str::<Value>(line).is_ok_and(|v| v["event-id"] == id.as_str())
        });
        if let Some(line) = found {
            break line.to_owned();
        }
        if Instant::now() > deadline {
            return Err(Failure::new(
                format!("event {id} in {}", sink.display()),
                if text.is_empty() {
                    "the sink is empty".to_owned()
                } else {
                    text
                },
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    detail(format!("the runtime's sink {}:", sink.display()));
    detail(format!("  {line}"));
    passed(format!(
        "event order.created v1 ({id}) reached the runtime's sink"
    ));
    Ok(())
}
