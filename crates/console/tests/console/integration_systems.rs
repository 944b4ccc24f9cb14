//! Integration systems in the console: register, list (pages), detail, client credentials
//! (the secret shown once), delete; scopes and tenants as the Director's.

use std::collections::HashSet;

use reqwest::StatusCode;
use sextant_domain::TenantId;
use sextant_test_support::on_both_backends;

use crate::helpers::{
    ALL_SCOPES, Backend, Browser, TestServer, integration_system, integration_system_count,
    register_integration_system,
};

async fn register_see_request_credentials_and_delete(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut browser = Browser::signed_in(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;
    let form = browser.get("/console/integration-systems/new").await;
    assert_eq!(form.status, StatusCode::OK);
    let csrf = form.csrf();

    let page = browser
        .post(
            "/console/integration-systems",
            &[
                ("csrf", &csrf),
                ("name", "erp-sync"),
                ("description", "Keeps the ERP in step"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let location = page.location().unwrap().to_owned();
    let id = location
        .strip_prefix("/console/integration-systems/")
        .unwrap()
        .to_owned();
    assert_eq!(
        integration_system(&server, &id).await,
        Some(("erp-sync".to_owned(), 0))
    );
    let detail = browser.get(&location).await;
    assert_eq!(detail.status, StatusCode::OK);
    assert!(detail.body.contains("Keeps the ERP in step"));
    assert!(detail.body.contains("Request client credentials"));
    let list = browser.get("/console/integration-systems").await;
    assert_eq!(
        list.linked("integration-system", "/console/integration-systems/"),
        vec![id.clone()]
    );

    // Credentials: the secret on the answer, and on no page after.
    let page = browser
        .post(&format!("{location}/credentials"), &[("csrf", &csrf)])
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(page.headers["cache-control"], "no-store");
    let client_id = page.text_of("client-id").unwrap();
    let secret = page.text_of("client-secret").unwrap();
    assert!(!client_id.is_empty() && secret.len() >= 16, "{}", page.body);
    let token_url = page.text_of("token-url").unwrap();
    assert!(token_url.ends_with("/oauth2/token"), "{token_url}");
    assert_eq!(
        integration_system(&server, &id).await,
        Some(("erp-sync".to_owned(), 1))
    );
    // The secret works: the token endpoint grants a token for it.
    let client = reqwest::Client::builder()
        .tls_certs_only([
            reqwest::Certificate::from_pem(&std::fs::read(server.ca_path()).unwrap()).unwrap(),
        ])
        .build()
        .unwrap();
    let grant = client
        .post(server.url("/oauth2/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs([
                    ("grant_type", "client_credentials"),
                    ("client_id", client_id.as_str()),
                    ("client_secret", secret.as_str()),
                ])
                .finish(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(grant.status(), StatusCode::OK);
    let detail = browser.get(&location).await;
    assert!(detail.body.contains(&client_id));
    assert!(!detail.body.contains(&secret));

    // Delete, with the name typed.
    let delete = format!("{location}/delete");
    let page = browser
        .post(&delete, &[("csrf", &csrf), ("confirm_name", "erp")])
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("id=\"delete-error\""));
    assert!(integration_system(&server, &id).await.is_some());
    let page = browser
        .post(&delete, &[("csrf", &csrf), ("confirm_name", "erp-sync")])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(page.location(), Some("/console/integration-systems"));
    assert_eq!(integration_system(&server, &id).await, None);
    assert_eq!(browser.get(&location).await.status, StatusCode::NOT_FOUND);
}

async fn a_refused_registration_shows_why_and_changes_nothing(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut browser = Browser::signed_in(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;
    let csrf = browser.csrf().await;
    let page = browser
        .post(
            "/console/integration-systems",
            &[("csrf", &csrf), ("name", "Not A Name!")],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("id=\"register-error\""), "{}", page.body);
    assert_eq!(page.input("name").as_deref(), Some("Not A Name!"));
    assert_eq!(integration_system_count(&server).await, 0);
}

async fn the_list_pages_forward_and_back(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut all = HashSet::new();
    for i in 0..60 {
        all.insert(register_integration_system(&server, &format!("system-{i:03}")).await);
    }
    let mut browser = Browser::signed_in(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;
    let first = browser.get("/console/integration-systems").await;
    assert!(first.body.contains("60 integration systems"));
    let first_ids = first.linked("integration-system", "/console/integration-systems/");
    assert_eq!(first_ids.len(), 50);
    let second = browser.get(&first.rel("next").unwrap()).await;
    let second_ids = second.linked("integration-system", "/console/integration-systems/");
    assert_eq!(second_ids.len(), 10);
    assert!(second.rel("next").is_none());
    let seen: HashSet<_> = first_ids.iter().chain(&second_ids).cloned().collect();
    assert_eq!(seen, all);
    let back = browser.get(&second.rel("prev").unwrap()).await;
    assert_eq!(
        back.linked("integration-system", "/console/integration-systems/"),
        first_ids
    );
}

async fn integration_systems_follow_scopes_and_tenants(backend: Backend) {
    let server = TestServer::start(backend).await;
    let id = register_integration_system(&server, "erp-sync").await;
    let path = format!("/console/integration-systems/{id}");

    let mut reader =
        Browser::signed_in(&server, &[TenantId::DEFAULT], "integration_system:read").await;
    let list = reader.get("/console/integration-systems").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(!list.body.contains("/console/integration-systems/new"));
    let detail = reader.get(&path).await;
    assert_eq!(detail.status, StatusCode::OK);
    assert!(!detail.body.contains("/credentials"));
    assert!(!detail.body.contains("/delete"));
    assert_eq!(
        reader.get("/console/integration-systems/new").await.status,
        StatusCode::FORBIDDEN
    );
    let csrf = detail.csrf();
    let page = reader
        .post(
            "/console/integration-systems",
            &[("csrf", &csrf), ("name", "forged")],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let page = reader
        .post(&format!("{path}/credentials"), &[("csrf", &csrf)])
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
    assert!(!page.body.contains("client-secret"));
    let page = reader
        .post(
            &format!("{path}/delete"),
            &[("csrf", &csrf), ("confirm_name", "erp-sync")],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert_eq!(
        integration_system(&server, &id).await,
        Some(("erp-sync".to_owned(), 0))
    );
    assert_eq!(integration_system_count(&server).await, 1);

    // Another tenant: not found, and nothing it posts reaches the system.
    let other = TenantId(uuid::Uuid::new_v4());
    let mut stranger = Browser::signed_in(&server, &[other], ALL_SCOPES).await;
    let csrf = stranger.csrf().await;
    assert_eq!(stranger.get(&path).await.status, StatusCode::NOT_FOUND);
    let page = stranger
        .post(&format!("{path}/credentials"), &[("csrf", &csrf)])
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let page = stranger
        .post(
            &format!("{path}/delete"),
            &[("csrf", &csrf), ("confirm_name", "erp-sync")],
        )
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(
        stranger
            .get("/console/integration-systems")
            .await
            .linked("integration-system", "/console/integration-systems/")
            .is_empty()
    );
    assert_eq!(
        integration_system(&server, &id).await,
        Some(("erp-sync".to_owned(), 0))
    );
}

on_both_backends!(
    register_see_request_credentials_and_delete,
    a_refused_registration_shows_why_and_changes_nothing,
    the_list_pages_forward_and_back,
    integration_systems_follow_scopes_and_tenants,
);
