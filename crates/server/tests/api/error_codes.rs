//! The codes clients depend on, for the main refusals of each API: the Connector's GraphQL
//! `extensions.code`, the token endpoint's RFC 6749 `error`, and the HTTP APIs'
//! `errors[0].extensions.code` beside their status.

use serde_json::{Value, json};

use crate::connector::{CONFIGURATION, connector};
use crate::helpers::{Backend, TestApp};
use crate::oauth::credentials_for;
use crate::rotation::{mtls_url, pair_as};

fn graphql_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no code in {body}"))
}

/// Status and `errors[0].extensions.code` of an HTTP API's answer.
async fn status_and_code(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert!(body["errors"][0]["message"].is_string(), "{body}");
    (status, graphql_code(&body).to_owned())
}

async fn the_connector_answers_codes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;

    let (status, body) = connector(&app, Some("made-up"), CONFIGURATION, json!({})).await;
    assert_eq!((status, graphql_code(&body)), (200, "INVALID_TOKEN"));

    let token = app
        .gql(
            "mutation($id: ID!) { t: requestOneTimeTokenForApplication(id: $id) { token } }",
            json!({"id": app_id}),
        )
        .await["t"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    // A live token of the wrong kind passes the check before parsing; the operation refuses.
    let (_, body) = connector(
        &app,
        Some(&token),
        "mutation { signCertificateSigningRequest(csr: \"eA==\") { clientCertificate } }",
        json!({}),
    )
    .await;
    assert_eq!(graphql_code(&body), "INVALID_TOKEN", "{body}");
    let (_, body) = connector(
        &app,
        Some(&token),
        "mutation { revokeCertificate }",
        json!({}),
    )
    .await;
    assert_eq!(graphql_code(&body), "CERTIFICATE_REQUIRED", "{body}");
    let (_, body) = connector(&app, Some(&token), CONFIGURATION, json!({})).await;
    let csr_token = body["data"]["configuration"]["token"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, body) = connector(
        &app,
        Some(&csr_token),
        "mutation { signCertificateSigningRequest(csr: \"not base64!\") { clientCertificate } }",
        json!({}),
    )
    .await;
    assert_eq!(graphql_code(&body), "INVALID_CSR", "{body}");
    // A used token is refused before parsing, with the same code.
    let (_, body) = connector(&app, Some(&token), CONFIGURATION, json!({})).await;
    assert_eq!(graphql_code(&body), "INVALID_TOKEN", "{body}");

    let response = app
        .client
        .post(format!("{}/connector/graphql", app.base))
        .json(&json!({"query": CONFIGURATION}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        status_and_code(response).await,
        (401, "UNAUTHENTICATED".into())
    );
}

/// POSTs a token request with the client's id and secret in HTTP Basic.
async fn token_request(app: &TestApp, id: &str, secret: &str, form: &str) -> (u16, Value) {
    let response = app
        .client
        .post(format!("{}/oauth2/token", app.base))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .basic_auth(id, Some(secret))
        .body(form.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn the_token_endpoint_answers_rfc_6749_codes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;
    let (id, secret) = credentials_for(&app, "Application", &app_id).await;
    let grant = "grant_type=client_credentials";
    for (id, secret, form, status, code) in [
        (id.as_str(), "wrong", grant, 401, "invalid_client"),
        (
            "not-a-client",
            secret.as_str(),
            grant,
            401,
            "invalid_client",
        ),
        (
            &id,
            &secret,
            "grant_type=password",
            400,
            "unsupported_grant_type",
        ),
        (
            &id,
            &secret,
            "scope=application:read",
            400,
            "invalid_request",
        ),
        (
            &id,
            &secret,
            "grant_type=client_credentials&scope=runtime:write",
            400,
            "invalid_scope",
        ),
    ] {
        let (answered, body) = token_request(&app, id, secret, form).await;
        assert_eq!(
            (answered, body["error"].as_str()),
            (status, Some(code)),
            "{form}: {body}"
        );
        assert!(body["error_description"].is_string(), "{body}");
    }
    let (status, body) = token_request(&app, &id, &secret, grant).await;
    assert_eq!(status, 200, "{body}");
}

async fn the_runtime_api_answers_codes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let runtime = app.register_runtime("rt", json!({})).await;
    let app_id = app.register_app("app", json!({})).await;
    let application = pair_as(&app, "Application", &app_id).await;
    let as_application = application.client(&application.trusted_pem);
    let paired = pair_as(&app, "Runtime", &runtime).await;
    let as_runtime = paired.client(&paired.trusted_pem);

    // An application's certificate is no runtime's.
    for path in [
        "/runtime/configuration",
        &format!("/runtime/application-clients/{}", uuid::Uuid::new_v4()),
    ] {
        let response = as_application
            .get(mtls_url(&app, path))
            .send()
            .await
            .unwrap();
        assert_eq!(
            status_and_code(response).await,
            (403, "FORBIDDEN".into()),
            "{path}"
        );
    }
    let response = as_application
        .post(mtls_url(&app, "/connector/runtime/serving-certificate"))
        .json(&json!({"csr": "", "names": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(status_and_code(response).await, (403, "FORBIDDEN".into()));

    // What the runtime's configuration does not name.
    for path in [
        format!("/runtime/specs/{}", "0".repeat(64)),
        format!("/runtime/application-clients/{}", uuid::Uuid::new_v4()),
    ] {
        let response = as_runtime.get(mtls_url(&app, &path)).send().await.unwrap();
        assert_eq!(
            status_and_code(response).await,
            (404, "NOT_FOUND".into()),
            "{path}"
        );
    }
    let response = as_runtime
        .post(mtls_url(&app, "/connector/runtime/serving-certificate"))
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(status_and_code(response).await, (400, "BAD_REQUEST".into()));

    // A deleted runtime's certificate.
    app.gql(
        "mutation($id: ID!) { unregisterRuntime(id: $id) { id } }",
        json!({"id": runtime}),
    )
    .await;
    let response = as_runtime
        .get(mtls_url(&app, "/runtime/configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        status_and_code(response).await,
        (401, "UNAUTHENTICATED".into())
    );
}

async fn the_graphql_endpoints_refuse_with_codes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let url = format!("{}/director/graphql", app.base);
    let response = app
        .client
        .post(&url)
        .json(&json!({"query": "{ applications { totalCount } }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    assert_eq!(
        status_and_code(response).await,
        (401, "UNAUTHENTICATED".into())
    );
    let token = app.token(&[sextant_domain::TenantId::DEFAULT], &["application:read"]);
    let response = app
        .client
        .post(&url)
        .bearer_auth(&token)
        .header("Content-Type", "text/plain")
        .body("{ applications { totalCount } }")
        .send()
        .await
        .unwrap();
    assert_eq!(
        status_and_code(response).await,
        (415, "UNSUPPORTED_MEDIA_TYPE".into())
    );
    let response = app
        .client
        .post(&url)
        .bearer_auth(&token)
        .header("Tenant", uuid::Uuid::new_v4().to_string())
        .json(&json!({"query": "{ applications { totalCount } }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(status_and_code(response).await, (403, "FORBIDDEN".into()));
}

crate::on_both_backends!(
    the_connector_answers_codes,
    the_token_endpoint_answers_rfc_6749_codes,
    the_runtime_api_answers_codes,
    the_graphql_endpoints_refuse_with_codes,
);
