//! What the benchmark registers: applications with their specs, runtimes, and the variables
//! of the reads.

use std::fmt::Write as _;
use std::sync::LazyLock;

use anyhow::{Result, anyhow};
use serde_json::{Value, json};

use crate::{APIS_PER_APP, EVENTS_PER_APP};

/// The OpenAPI 3.0 specs (YAML, about 1.2 KB each) of the `APIS_PER_APP` APIs of an application.
pub(crate) static OPENAPI_SPECS: LazyLock<Vec<String>> =
    LazyLock::new(|| (0..APIS_PER_APP).map(openapi_spec).collect());
/// The AsyncAPI 2.0 specs (YAML) of the `EVENTS_PER_APP` events of an application.
pub(crate) static ASYNCAPI_SPECS: LazyLock<Vec<String>> =
    LazyLock::new(|| (0..EVENTS_PER_APP).map(asyncapi_spec).collect());

pub(crate) fn openapi_spec(j: usize) -> String {
    let mut spec = format!(
        "openapi: \"3.0.0\"\n\
         info:\n  title: Bench API {j}\n  version: \"1.{j}.0\"\n  \
         description: An API registered by sextant-bench.\n\
         servers:\n  - url: https://api-{j}.bench.example.com/v1\n\
         paths:\n"
    );
    for resource in ["orders", "customers"] {
        let _ = write!(
            spec,
            "  /{resource}:\n    get:\n      operationId: list-{resource}-{j}\n      \
             summary: Lists {resource}\n      parameters:\n        - name: limit\n          \
             in: query\n          schema:\n            type: integer\n      responses:\n        \
             \"200\":\n          description: A page of {resource}\n  \
             /{resource}/{{id}}:\n    get:\n      operationId: get-{resource}-{j}\n      \
             parameters:\n        - name: id\n          in: path\n          required: true\n          \
             schema:\n            type: string\n      responses:\n        \"200\":\n          \
             description: One of the {resource}\n"
        );
    }
    spec
}

pub(crate) fn asyncapi_spec(j: usize) -> String {
    format!(
        "asyncapi: \"2.0.0\"\n\
         info:\n  title: Bench events {j}\n  version: \"1.0.0\"\n\
         channels:\n  bench/order-{j}/v1:\n    subscribe:\n      message:\n        \
         name: order-{j}\n        payload:\n          type: object\n          properties:\n            \
         id:\n              type: string\n            amount:\n              type: number\n"
    )
}

/// The scenarios of the `i`-th registered application: never the P3 scenario.
pub(crate) fn app_scenarios(i: usize) -> Value {
    match i % 4 {
        0 => json!(["DEFAULT"]),
        1 => json!(["ALPHA"]),
        2 => json!(["BETA"]),
        _ => json!(["DEFAULT", "GAMMA"]),
    }
}

/// A registration: a description, three labels, `APIS_PER_APP` APIs (OpenAPI YAML, the first
/// with basic `defaultAuth`) and `EVENTS_PER_APP` events (AsyncAPI YAML).
pub(crate) fn app_input(i: usize, prefix: &str, prod_every: usize, scenarios: Value) -> Value {
    let env = if i.is_multiple_of(prod_every) {
        "prod"
    } else if i.is_multiple_of(2) {
        "dev"
    } else {
        "staging"
    };
    let apis: Vec<Value> = OPENAPI_SPECS
        .iter()
        .enumerate()
        .map(|(j, spec)| {
            let mut api = json!({
                "name": format!("api-{j}"),
                "description": format!("API {j} of {prefix}-{i:06}"),
                "targetURL": format!("https://{prefix}-{i:06}.bench.example.com/api/{j}"),
                "spec": {"data": spec, "type": "OPEN_API", "format": "YAML"},
            });
            if j == 0 {
                api["defaultAuth"] =
                    json!({"credential": {"basic": {"username": "default", "password": "default-secret"}}});
            }
            api
        })
        .collect();
    let events: Vec<Value> = ASYNCAPI_SPECS
        .iter()
        .enumerate()
        .map(|(j, spec)| {
            json!({
                "name": format!("event-{j}"),
                "spec": {"data": spec, "type": "ASYNC_API", "format": "YAML"},
            })
        })
        .collect();
    json!({"in": {
        "name": format!("{prefix}-{i:06}"),
        "providerName": "acme",
        "description": format!("Benchmark application {i}, registered by sextant-bench"),
        "labels": {"scenarios": scenarios, "env": env, "team": (i % 97) as u64},
        "apiDefinitions": apis,
        "eventDefinitions": events,
    }})
}

/// The scenarios of the `k`-th seeded runtime: never the P3 scenario.
pub(crate) fn runtime_input(k: usize) -> Value {
    let scenarios = match k % 4 {
        0 => json!(["DEFAULT"]),
        1 => json!(["ALPHA"]),
        2 => json!(["BETA", "GAMMA"]),
        _ => json!(["DELTA"]),
    };
    let region = ["eu", "us", "ap"][k % 3];
    json!({
        "name": format!("bench-rt-{k:06}"),
        "description": format!("Benchmark runtime {k}"),
        "labels": {"scenarios": scenarios, "region": region},
    })
}

/// One request registering runtimes `from..to` (aliased mutation fields, run in turn, each
/// in its own transaction).
pub(crate) fn runtime_batch(from: usize, to: usize) -> (String, Value) {
    let mut params = Vec::new();
    let mut fields = String::new();
    let mut vars = serde_json::Map::new();
    for k in from..to {
        params.push(format!("$r{k}: RuntimeInput!"));
        let _ = write!(fields, " r{k}: registerRuntime(in: $r{k}) {{ id }}");
        vars.insert(format!("r{k}"), runtime_input(k));
    }
    (
        format!("mutation({}) {{{fields} }}", params.join(", ")),
        Value::Object(vars),
    )
}

pub(crate) fn basic_auth(username: &str, password: &str) -> Value {
    json!({"credential": {"basic": {"username": username, "password": password}}})
}

pub(crate) fn applications_vars(
    first: usize,
    after: Option<&str>,
    filter: Option<&Value>,
) -> Value {
    json!({"first": first, "after": after, "filter": filter})
}

/// The page's items, whether there is a next page, and its end cursor.
pub(crate) fn page_of(data: &Value) -> Result<(&Vec<Value>, i64, bool, Option<String>)> {
    let page = &data["applications"];
    let items = page["data"]
        .as_array()
        .ok_or_else(|| anyhow!("applications.data is not a list: {page}"))?;
    let total = page["totalCount"]
        .as_i64()
        .ok_or_else(|| anyhow!("applications.totalCount missing: {page}"))?;
    let has_next = page["pageInfo"]["hasNextPage"].as_bool().unwrap_or(false);
    let cursor = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    Ok((items, total, has_next, cursor))
}
