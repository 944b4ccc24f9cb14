//! A browser, as far as the tests need one: a session cookie kept by hand, forms posted
//! with their CSRF token, redirects not followed.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use serde_json::{Value, json};
use sextant_domain::TenantId;
use sextant_store::ConsoleGrant;
pub use sextant_test_server::{Backend, TestServer};
use time::OffsetDateTime;

/// Every user scope but the operator's.
pub const ALL_SCOPES: &str = "application:read application:write application_template:read \
     application_template:write integration_system:read integration_system:write runtime:read \
     runtime:write label_definition:read label_definition:write eventing:manage \
     health_checks:read";

/// A login link's token for `tenants` and `scopes`, made `age` ago (valid 10 minutes).
pub async fn link_made(
    server: &TestServer,
    tenants: &[TenantId],
    scopes: &str,
    age: time::Duration,
) -> String {
    sextant_console::create_login_link(
        server.server().store.as_ref(),
        ConsoleGrant {
            subject: "console-test".into(),
            tenants: tenants.to_vec(),
            scopes: scopes.split_whitespace().map(str::to_owned).collect(),
        },
        OffsetDateTime::now_utc() - age,
        sextant_console::LINK_TTL,
    )
    .await
    .unwrap()
}

/// A fresh login link's token.
pub async fn link(server: &TestServer, tenants: &[TenantId], scopes: &str) -> String {
    link_made(server, tenants, scopes, time::Duration::ZERO).await
}

/// An answer, read whole.
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> Option<&str> {
        self.headers.get(LOCATION).and_then(|v| v.to_str().ok())
    }

    /// The value of the first `<input … name="NAME" value="…">` (attributes in that order,
    /// as the templates write them).
    pub fn input(&self, name: &str) -> Option<String> {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&marker)? + marker.len();
        let end = self.body[start..].find('"')?;
        Some(self.body[start..start + end].to_owned())
    }

    /// The CSRF token the page's forms carry.
    pub fn csrf(&self) -> String {
        self.input("csrf").expect("the page carries a CSRF token")
    }

    /// Every `href="…"` of links with `rel="REL"`, unescaped.
    pub fn rel(&self, rel: &str) -> Option<String> {
        let marker = format!("rel=\"{rel}\" href=\"");
        let start = self.body.find(&marker)? + marker.len();
        let end = self.body[start..].find('"')?;
        Some(
            self.body[start..start + end]
                .replace("&amp;", "&")
                .replace("&#38;", "&"),
        )
    }

    /// The ids of the applications the list shows.
    pub fn application_ids(&self) -> Vec<String> {
        self.linked("application", "/console/applications/")
    }

    /// What follows `prefix` in the `href` of every link of class `class`, in order.
    pub fn linked(&self, class: &str, prefix: &str) -> Vec<String> {
        let marker = format!("class=\"{class}\" href=\"{prefix}");
        self.body
            .match_indices(&marker)
            .map(|(at, _)| {
                let start = at + marker.len();
                let end = self.body[start..].find('"').unwrap();
                self.body[start..start + end].to_owned()
            })
            .collect()
    }

    /// The text of the element with `id="ID"` (up to the next tag), unescaped.
    pub fn text_of(&self, id: &str) -> Option<String> {
        let marker = format!("id=\"{id}\"");
        let at = self.body.find(&marker)?;
        let start = at + self.body[at..].find('>')? + 1;
        let end = start + self.body[start..].find('<')?;
        Some(unescape(&self.body[start..end]))
    }
}

/// HTML text as askama escapes it, back to the text.
pub fn unescape(html: &str) -> String {
    html.replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&#60;", "<")
        .replace("&gt;", ">")
        .replace("&#62;", ">")
        .replace("&amp;", "&")
        .replace("&#38;", "&")
}

/// A browser on the console of one server.
pub struct Browser {
    client: reqwest::Client,
    base: String,
    /// `name=value` of the session cookie, once set.
    pub cookie: Option<String>,
}

impl Browser {
    pub fn new(server: &TestServer) -> Browser {
        let ca = std::fs::read(server.ca_path()).unwrap();
        let client = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Browser {
            client,
            base: server.base.clone(),
            cookie: None,
        }
    }

    async fn read(&mut self, response: reqwest::Response) -> Page {
        let status = response.status();
        let headers = response.headers().clone();
        for value in headers.get_all(SET_COOKIE) {
            let value = value.to_str().unwrap();
            let pair = value.split(';').next().unwrap().trim();
            if pair.ends_with('=') {
                self.cookie = None;
            } else {
                self.cookie = Some(pair.to_owned());
            }
        }
        Page {
            status,
            headers,
            body: response.text().await.unwrap(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let mut request = self.client.get(self.url(path));
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        let response = request.send().await.unwrap();
        self.read(response).await
    }

    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        self.post_with(path, fields, &[]).await
    }

    /// A POST with extra headers (what a browser says about where the form came from).
    pub async fn post_with(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Page {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let mut request = self
            .client
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        self.read(response).await
    }

    /// Redeems a login link as the login page's button does; the session cookie is kept.
    pub async fn sign_in(&mut self, token: &str) -> Page {
        self.post("/console/login", &[("link", token)]).await
    }

    /// Signs in with a fresh link for `tenants` and `scopes`, checking it worked.
    pub async fn signed_in(server: &TestServer, tenants: &[TenantId], scopes: &str) -> Browser {
        let token = link(server, tenants, scopes).await;
        let mut browser = Browser::new(server);
        let page = browser.sign_in(&token).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        assert!(browser.cookie.is_some());
        browser
    }

    /// The CSRF token of the session, as a page shows it.
    pub async fn csrf(&mut self) -> String {
        let page = self.get("/console/").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        page.csrf()
    }
}

/// How many applications the tenant holds, as the administrator's GraphQL says.
pub async fn application_count(server: &TestServer) -> i64 {
    server
        .director("{ applications { totalCount } }", json!({}))
        .await["applications"]["totalCount"]
        .as_i64()
        .unwrap()
}

/// Registers an application as the administrator; answers its id.
pub async fn register(server: &TestServer, name: &str, labels: Value) -> String {
    server
        .director(
            "mutation($in: ApplicationRegisterInput!) { registerApplication(in: $in) { id } }",
            json!({"in": {"name": name, "providerName": "acme", "labels": labels}}),
        )
        .await["registerApplication"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Registers a runtime as the administrator; answers its id.
pub async fn register_runtime(server: &TestServer, name: &str, labels: Value) -> String {
    server
        .director(
            "mutation($in: RuntimeInput!) { registerRuntime(in: $in) { id } }",
            json!({"in": {"name": name, "labels": labels}}),
        )
        .await["registerRuntime"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The scenarios label of an application or runtime (`kind`: `application` or `runtime`),
/// as the administrator's GraphQL says; `Null` without one.
pub async fn scenarios_of(server: &TestServer, kind: &str, id: &str) -> Value {
    server
        .director(
            &format!("query($id: ID!) {{ {kind}(id: $id) {{ labels(key: \"scenarios\") }} }}"),
            json!({"id": id}),
        )
        .await[kind]["labels"]["scenarios"]
        .clone()
}

/// The tenant's scenarios: the `scenarios` definition's enum.
pub async fn defined_scenarios(server: &TestServer) -> Vec<String> {
    let answer = server
        .director(
            r#"{ labelDefinition(key: "scenarios") { schema } }"#,
            json!({}),
        )
        .await;
    let schema: Value =
        serde_json::from_str(answer["labelDefinition"]["schema"].as_str().unwrap()).unwrap();
    schema["items"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// The tenant's label definitions as `key → schema` (the schema's JSON text, or `Null`).
pub async fn label_definitions(server: &TestServer) -> Value {
    let answer = server
        .director("{ labelDefinitions { key schema } }", json!({}))
        .await;
    Value::Object(
        answer["labelDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| (d["key"].as_str().unwrap().to_owned(), d["schema"].clone()))
            .collect(),
    )
}

/// Registers an integration system as the administrator; answers its id.
pub async fn register_integration_system(server: &TestServer, name: &str) -> String {
    server
        .director(
            "mutation($in: IntegrationSystemInput!) { registerIntegrationSystem(in: $in) { id } }",
            json!({"in": {"name": name, "description": "test system"}}),
        )
        .await["registerIntegrationSystem"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The integration system's name and number of credentials; `None` when it is gone.
pub async fn integration_system(server: &TestServer, id: &str) -> Option<(String, usize)> {
    let answer = server
        .director(
            "query($id: ID!) { integrationSystem(id: $id) { name auths { id } } }",
            json!({"id": id}),
        )
        .await;
    let system = answer["integrationSystem"].as_object()?;
    Some((
        system["name"].as_str().unwrap().to_owned(),
        system["auths"].as_array().unwrap().len(),
    ))
}

/// Registers a tenant template as the administrator, with placeholders `name` and `url`;
/// answers its id.
pub async fn create_template(server: &TestServer, name: &str) -> String {
    server
        .director(
            "mutation($in: ApplicationTemplateInput!) { createApplicationTemplate(in: $in) { id } }",
            json!({"in": {
                "name": name,
                "description": "A template",
                "accessLevel": "TENANT",
                "applicationInput": {
                    "name": "{{name}}",
                    "providerName": "acme",
                    "description": "Served at {{url}}",
                },
                "placeholders": [
                    {"name": "name", "description": "The application's name"},
                    {"name": "url", "description": "Where it is served"},
                ],
            }}),
        )
        .await["createApplicationTemplate"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// How many application templates the tenant sees, as the administrator's GraphQL says.
pub async fn template_count(server: &TestServer) -> i64 {
    server
        .director("{ applicationTemplates { totalCount } }", json!({}))
        .await["applicationTemplates"]["totalCount"]
        .as_i64()
        .unwrap()
}

/// How many integration systems the tenant sees, as the administrator's GraphQL says.
pub async fn integration_system_count(server: &TestServer) -> i64 {
    server
        .director("{ integrationSystems { totalCount } }", json!({}))
        .await["integrationSystems"]["totalCount"]
        .as_i64()
        .unwrap()
}

/// A runtime agent that never pairs: a shell script that sleeps (two minutes at most)
/// until the Provisioner stops it, so that an operation waiting for it runs until the
/// server's connect timeout and then fails, as for a real agent that cannot reach the
/// Connector.
pub struct SilentAgent {
    dir: std::path::PathBuf,
}

impl SilentAgent {
    pub fn create() -> SilentAgent {
        use std::os::unix::fs::PermissionsExt;
        let dir =
            std::env::temp_dir().join(format!("sextant-silent-agent-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let program = dir.join("agent");
        std::fs::write(
            &program,
            "#!/bin/sh\n# A runtime agent that never pairs.\ni=0\nwhile [ \"$i\" -lt 120 ]; do sleep 1; i=$((i + 1)); done\n",
        )
        .unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        SilentAgent { dir }
    }

    /// A server whose local runtimes run this agent, each operation waiting
    /// `connect_timeout` for it to pair.
    pub async fn server(&self, backend: Backend, connect_timeout: Duration) -> TestServer {
        let mut setup = sextant_test_server::Setup::default();
        setup.options.agent_program = Some(self.dir.join("agent"));
        setup.options.connect_timeout = Some(connect_timeout);
        setup.options.lease = Some(Duration::from_secs(2));
        TestServer::start_with(backend, setup).await
    }
}

impl Drop for SilentAgent {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Provisioner request as the administrator; answers its `data`, failing on errors.
pub async fn provisioner(server: &TestServer, query: &str, variables: Value) -> Value {
    let body = server
        .graphql(
            "/provisioner/graphql",
            &server.admin_token,
            query,
            variables,
        )
        .await;
    assert!(body["errors"].is_null(), "{body} for {query}");
    body["data"].clone()
}

/// The runtime's last Provisioner operation as `(id, operation, state)`; `None` when the
/// Provisioner knows of none.
pub async fn last_operation(
    server: &TestServer,
    runtime: &str,
) -> Option<(String, String, String)> {
    let data = provisioner(
        server,
        "query($id: String!) { runtimeStatus(id: $id) { lastOperationStatus { id operation state } } }",
        json!({"id": runtime}),
    )
    .await;
    let op = data["runtimeStatus"]["lastOperationStatus"].as_object()?;
    let text = |k: &str| op[k].as_str().unwrap().to_owned();
    Some((text("id"), text("operation"), text("state")))
}

/// How many runtimes the tenant holds, as the administrator's GraphQL says.
pub async fn runtime_count(server: &TestServer) -> i64 {
    server
        .director("{ runtimes { totalCount } }", json!({}))
        .await["runtimes"]["totalCount"]
        .as_i64()
        .unwrap()
}

/// The ids of the application's credentials (a one-time token makes one), as the
/// administrator's GraphQL says.
pub async fn application_auths(server: &TestServer, id: &str) -> usize {
    server
        .director(
            "query($id: ID!) { application(id: $id) { auths { id } } }",
            json!({"id": id}),
        )
        .await["application"]["auths"]
        .as_array()
        .unwrap()
        .len()
}

/// The Connector's `configuration` with a one-time token, as a paired client starts:
/// spends the token.
pub async fn redeem_token(server: &TestServer, token: &str) {
    let ca = std::fs::read(server.ca_path()).unwrap();
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
        .build()
        .unwrap();
    let answer: Value = client
        .post(format!("{}/connector/graphql", server.base))
        .header("Connector-Token", token)
        .json(&json!({"query": "{ configuration { token { token } } }"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        answer["data"]["configuration"]["token"]["token"].is_string(),
        "{answer}"
    );
}

/// Pairs the application as `sextant app pair` does (a one-time token, the Connector's
/// `configuration`, a CSR signed) and answers an HTTPS client presenting the issued
/// certificate.
pub async fn pair_application(server: &TestServer, app: &str) -> reqwest::Client {
    let token = server
        .director(
            "mutation($id: ID!) { requestOneTimeTokenForApplication(id: $id) { token } }",
            json!({"id": app}),
        )
        .await["requestOneTimeTokenForApplication"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    paired_with(server, &token).await
}

/// The application's or runtime's GraphQL over mTLS with its certificate; answers the HTTP
/// status.
pub async fn mtls_probe(server: &TestServer, client: &reqwest::Client) -> u16 {
    client
        .post(server.mtls_url("/director/graphql"))
        .json(&json!({"query": "{ applications { totalCount } }"}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Pairs the runtime as its agent does (a one-time token, the Connector's `configuration`, a
/// CSR signed) and answers an HTTPS client presenting the issued certificate.
pub async fn pair_runtime(server: &TestServer, runtime: &str) -> reqwest::Client {
    let token = server
        .director(
            "mutation($id: ID!) { requestOneTimeTokenForRuntime(id: $id) { token } }",
            json!({"id": runtime}),
        )
        .await["requestOneTimeTokenForRuntime"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    paired_with(server, &token).await
}

/// Pairs with a one-time token; answers an HTTPS client presenting the issued certificate.
async fn paired_with(server: &TestServer, token: &str) -> reqwest::Client {
    let ca = std::fs::read_to_string(server.ca_path()).unwrap();
    let client = sextant_client::http::token_client("console-test", &[ca]).unwrap();
    let url = server.connector_url();
    let configured = sextant_client::connector::configuration(&client, &url, Some(token))
        .await
        .unwrap();
    let request = sextant_client::connector::CertificateRequest::new(
        configured.subject().unwrap(),
        configured.endpoints().unwrap(),
    )
    .unwrap();
    let csr_token = configured.csr_token().unwrap();
    let signed = sextant_client::connector::sign(&client, &url, Some(&csr_token), request.csr())
        .await
        .unwrap();
    let (credentials, _) = request.issued(signed).unwrap();
    sextant_client::http::mtls_client("console-test", &credentials).unwrap()
}

/// The runtime's configuration as its agent asks for it; answers the HTTP status.
pub async fn fetch_configuration(server: &TestServer, agent: &reqwest::Client) -> u16 {
    agent
        .get(server.mtls_url("/runtime/configuration"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}
