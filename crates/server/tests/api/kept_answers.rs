//! Compass agents' unchanged `applicationsForRuntime` answered from memory: the same query
//! by the same consumer costs no statement while the tenant's configuration epoch (and the
//! system auths generation, for `auths`) holds; a change, another consumer or a query
//! reading anything the epoch does not cover is answered afresh.

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, api_input};
use crate::rotation::{Paired, pair_as};

/// Kyma's runtime agent's synchronisation query (E19 names), for this runtime.
fn kyma_query(runtime: &str) -> String {
    format!(
        r#"query {{ result: applicationsForRuntime(runtimeID: "{runtime}") {{
          data {{ id name description labels
            apiDefinitions {{ data {{ id name description spec {{ data format type }} targetURL group
                auth(runtimeID: "{runtime}") {{ runtimeID auth {{ ...auth }} }}
                defaultAuth {{ ...auth }} version {{ value deprecated deprecatedSince forRemoval }} }}
              pageInfo {{ startCursor endCursor hasNextPage }} totalCount }}
            eventDefinitions {{ data {{ id applicationID name description group spec {{ data type format }} }} totalCount }}
            documents {{ data {{ id applicationID title displayName description format kind data }} totalCount }}
            auths {{ id }} }}
          pageInfo {{ startCursor endCursor hasNextPage }} totalCount }} }}
        fragment auth on Auth {{
          credential {{ ... on BasicCredentialData {{ username password }} ... on OAuthCredentialData {{ clientId clientSecret url }} }}
          additionalHeaders additionalQueryParams }}"#
    )
}

struct Agent {
    client: reqwest::Client,
    url: String,
    tenant: String,
}

impl Agent {
    fn new(app: &TestApp, paired: &Paired) -> Agent {
        Agent {
            client: paired.client(&paired.trusted_pem),
            url: format!(
                "https://localhost:{}/director/graphql",
                app.server().mtls_addr.port()
            ),
            tenant: sextant_domain::TenantId::DEFAULT.to_string(),
        }
    }

    async fn ask(&self, query: &str) -> Value {
        let response = self
            .client
            .post(&self.url)
            .header("Tenant", &self.tenant)
            .json(&json!({"query": query}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert!(body.get("errors").is_none(), "{body}");
        body["data"].clone()
    }
}

fn api_names(answer: &Value) -> Vec<String> {
    let mut names: Vec<String> = answer["result"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|app| app["apiDefinitions"]["data"].as_array().unwrap().clone())
        .map(|api| api["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

async fn an_unchanged_answer_costs_no_statement(backend: Backend) {
    let app = TestApp::spawn_without_sighting_flushes(backend).await;
    app.define_scenarios(&["KEPT", "ELSEWHERE"]).await;
    let shop = app
        .register_app("shop", json!({"scenarios": ["KEPT"]}))
        .await;
    app.add_api(&shop, api_input("orders")).await;
    let runtime = app
        .register_runtime("kyma", json!({"scenarios": ["KEPT"]}))
        .await;
    let other = app
        .register_runtime("other", json!({"scenarios": ["ELSEWHERE"]}))
        .await;
    let agent = Agent::new(&app, &pair_as(&app, "Runtime", &runtime).await);
    let query = kyma_query(&runtime);

    let first = agent.ask(&query).await;
    assert_eq!(api_names(&first), ["orders"]);
    let before = app.statements();
    for _ in 0..10 {
        assert_eq!(agent.ask(&query).await, first);
    }
    assert_eq!(
        app.statements(),
        before,
        "unchanged answers cost no statement"
    );

    // What the epoch does not cover leaves the answer as it is (a runtime's status).
    app.gql(
        "mutation($id: ID!) { setRuntimeStatus(id: $id, condition: READY) { id } }",
        json!({"id": runtime}),
    )
    .await;
    let before = app.statements();
    assert_eq!(agent.ask(&query).await, first);
    assert_eq!(app.statements(), before);

    // A change in it: answered afresh, then kept again.
    app.add_api(&shop, api_input("stock")).await;
    let changed = agent.ask(&query).await;
    assert_eq!(api_names(&changed), ["orders", "stock"]);
    let before = app.statements();
    assert_eq!(agent.ask(&query).await, changed);
    assert_eq!(app.statements(), before);

    // An application's new client (made outside the epoch) shows in `auths` at once, to
    // those who see them (users; a runtime sees none).
    let auths = |answer: &Value| {
        answer["result"]["data"][0]["auths"]
            .as_array()
            .unwrap()
            .len()
    };
    let as_user = app.gql(&query, json!({})).await;
    let before = app.statements();
    assert_eq!(app.gql(&query, json!({})).await, as_user);
    assert_eq!(
        app.statements(),
        before,
        "a user's unchanged answer is kept too"
    );
    app.gql(
        "mutation($id: ID!) { requestClientCredentialsForApplication(id: $id) { id } }",
        json!({"id": shop}),
    )
    .await;
    assert_eq!(
        auths(&app.gql(&query, json!({})).await),
        auths(&as_user) + 1
    );
    assert_eq!(auths(&agent.ask(&query).await), 0);

    // Another runtime asking the same query gets its own answer: the runtime asked about is
    // out of its reach. Asking about itself, it sees nothing (its scenario holds no
    // application).
    let other_agent = Agent::new(&app, &pair_as(&app, "Runtime", &other).await);
    let theirs: Value = other_agent
        .client
        .post(&other_agent.url)
        .header("Tenant", &other_agent.tenant)
        .json(&json!({"query": query}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(theirs.get("errors").is_some(), "{theirs}");
    let own = other_agent.ask(&kyma_query(&other)).await;
    assert_eq!(own["result"]["totalCount"], 0, "{own}");

    // A query reading what the epoch does not cover runs every time.
    let uncovered = format!(
        r#"{{ result: applicationsForRuntime(runtimeID: "{runtime}") {{ data {{ id status {{ condition }} }} }} }}"#
    );
    agent.ask(&uncovered).await;
    let before = app.statements();
    agent.ask(&uncovered).await;
    assert!(app.statements() > before, "an uncovered query is not kept");
}

crate::on_both_backends!(an_unchanged_answer_costs_no_statement);
