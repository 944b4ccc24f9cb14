//! Steps 3 and 4: a runtime is provisioned, and the application hears it is ready.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sextant_app::webhook::CONFIGURATION_CHANGED;

use super::{Ctx, Progress, needed, runtime_status, uuid_at, with_free_name};
use crate::commands::demo::report::{Checked, Failure, detail, passed};
use crate::commands::demo::sample::{Outcome, describe};

const RUNTIME_NAME: &str = "demo-runtime";

async fn operation_status(ctx: &Ctx, op: &str) -> Result<Value, String> {
    Ok(ctx
        .admin
        .provisioner(
            "query($id: String!) { runtimeOperationStatus(id: $id) { id operation state message runtimeID } }",
            json!({"id": op}),
        )
        .await?["runtimeOperationStatus"]
        .clone())
}

pub(super) async fn runtime_creation(ctx: &Ctx, p: &mut Progress) -> Checked<()> {
    let (name, data) = with_free_name(RUNTIME_NAME, |name| {
        ctx.admin.provisioner(
            "mutation($config: ProvisionRuntimeInput!) { provisionRuntime(config: $config) }",
            json!({"config": {
                "runtimeInput": {"name": name, "description": "A runtime on this machine",
                                 "labels": {"scenarios": ["DEFAULT"]}},
                "clusterConfig": {"localConfig": {}}
            }}),
        )
    })
    .await
    .map_err(|e| Failure::new("provisionRuntime with the local provider", e))?;
    let op = data["provisionRuntime"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if op.is_empty() {
        return Err(Failure::new("an operation id", format!("{data}")));
    }
    p.operation = Some(op.clone());
    detail(format!(
        "provisionRuntime (administrator, /provisioner/graphql): runtime {name}, scenarios [DEFAULT], localConfig {{}}: operation {op}"
    ));

    let deadline = Instant::now() + ctx.wait;
    let mut last = (String::new(), String::new());
    let status = loop {
        let status = operation_status(ctx, &op)
            .await
            .map_err(|e| Failure::new("runtimeOperationStatus", e))?;
        if p.runtime.is_none()
            && let Some(id) = status["runtimeID"].as_str().and_then(|s| s.parse().ok())
        {
            p.runtime = Some((id, name.clone()));
            detail(format!("the runtime is registered in the Director: {id}"));
        }
        let state = status["state"].as_str().unwrap_or("?").to_owned();
        let message = status["message"].as_str().unwrap_or("").to_owned();
        if (state.clone(), message.clone()) != last {
            detail(format!("runtimeOperationStatus: {state}: {message}"));
            last = (state.clone(), message);
        }
        match state.as_str() {
            "Succeeded" => break status,
            "Failed" => {
                return Err(Failure::new(
                    "the Provision operation to succeed",
                    format!("it failed: {status}"),
                ));
            }
            _ if Instant::now() > deadline => {
                return Err(Failure::new(
                    format!("the Provision operation to succeed within {:?}", ctx.wait),
                    format!("still {status}"),
                ));
            }
            _ => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    };
    let (runtime, _) = match &p.runtime {
        Some(rt) => rt.clone(),
        None => (
            uuid_at(&status["runtimeID"], "the operation's runtimeID")?,
            name.clone(),
        ),
    };
    p.runtime = Some((runtime, name.clone()));

    let status = runtime_status(ctx, runtime)
        .await
        .map_err(|e| Failure::new("runtimeStatus", e))?;
    let local = &status["runtimeConfiguration"]["clusterConfig"];
    let dir = local["directory"].as_str().map(PathBuf::from);
    let gateway = local["gatewayPort"]
        .as_u64()
        .and_then(|n| u16::try_from(n).ok());
    let events = local["eventGatewayPort"]
        .as_u64()
        .and_then(|n| u16::try_from(n).ok());
    let (Some(dir), Some(gateway), Some(events)) = (dir, gateway, events) else {
        return Err(Failure::new(
            "runtimeStatus with a LocalConfig (directory, gatewayPort, eventGatewayPort)",
            format!("{status}"),
        ));
    };
    p.runtime_dir = Some(dir.clone());
    p.gateway_port = Some(gateway);
    p.event_gateway_port = Some(events);
    let pid = std::fs::read_to_string(dir.join("agent.pid")).unwrap_or_default();
    detail(format!(
        "the local provider runs `sextant agent` (pid {}) in {}",
        pid.trim(),
        dir.display()
    ));

    let data = ctx
        .admin
        .director(
            "query($id: ID!) { runtime(id: $id) { id name status { condition } labels } }",
            json!({"id": runtime}),
        )
        .await
        .map_err(|e| Failure::new("the runtime in the Director", e))?;
    let rt = &data["runtime"];
    let event_url = rt["labels"]["runtime/event_service_url"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let expected_url = format!("https://127.0.0.1:{events}");
    if rt["status"]["condition"] != "READY" || event_url != expected_url {
        return Err(Failure::new(
            format!("runtime {runtime} READY with label runtime/event_service_url {expected_url}"),
            format!("{rt}"),
        ));
    }
    p.event_url = Some(event_url.clone());
    detail(format!(
        "the agent paired, reported READY and its labels: runtime/event_service_url {event_url}"
    ));
    detail(format!(
        "application gateway http://127.0.0.1:{gateway}/<application>/<api>/<path>; event gateway {event_url}"
    ));
    passed(format!(
        "runtime {name} ({runtime}) is provisioned and READY"
    ));
    Ok(())
}

pub(super) async fn runtime_ready_notification(ctx: &Ctx, p: &mut Progress) -> Checked<()> {
    let client = needed(&p.client, "the paired application")?;
    let (runtime, _) = needed(&p.runtime, "the runtime")?;
    let event_url = needed(&p.event_url, "the runtime's eventing URL")?;
    let found = ctx
        .recorder
        .wait_for(ctx.wait, |received| {
            received
                .iter()
                .find(|r| {
                    r.event.kind == CONFIGURATION_CHANGED
                        && r.event.runtime_id == runtime
                        && r.outcome
                            == Outcome::Pulled {
                                default_url: event_url.clone(),
                            }
                })
                .cloned()
        })
        .await
        .map_err(|received| {
            Failure::new(
                format!(
                    "CONFIGURATION_CHANGED for runtime {runtime}, after which the pulled \
                     configuration sends events to {event_url}"
                ),
                describe(&received),
            )
        })?;
    for r in ctx.recorder.snapshot() {
        if r.event.kind == CONFIGURATION_CHANGED && r.event.runtime_id == runtime {
            detail(format!("webhook: {r}"));
        }
    }
    let saved = client
        .saved_configuration()
        .ok()
        .flatten()
        .map(|c| {
            format!(
                "defaultURL {}, eventURL {}",
                c.default_url,
                c.event_url.unwrap_or_default()
            )
        })
        .unwrap_or_else(|| "none".into());
    detail(format!(
        "{}: {saved}",
        client.state_dir().join("configuration.json").display()
    ));
    passed(format!(
        "the application heard of the ready runtime through its webhook (event {}) and pulled its configuration",
        found.event.id
    ));
    Ok(())
}
