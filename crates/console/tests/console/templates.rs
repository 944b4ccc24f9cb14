//! Application templates in the console: register, list, detail, register an application
//! from one (a field per placeholder), delete; scopes and tenants as the Director's.

use reqwest::StatusCode;
use serde_json::json;
use sextant_domain::TenantId;
use sextant_test_support::on_both_backends;

use crate::helpers::{
    ALL_SCOPES, Backend, Browser, TestServer, application_count, create_template, template_count,
};

async fn register_see_use_and_delete_a_template(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut browser = Browser::signed_in(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;
    let form = browser.get("/console/application-templates/new").await;
    assert_eq!(form.status, StatusCode::OK);
    // Only operators may make global templates.
    assert!(!form.body.contains("GLOBAL"));
    let csrf = form.csrf();

    let page = browser
        .post(
            "/console/application-templates",
            &[
                ("csrf", &csrf),
                ("name", "shop"),
                ("description", "A web shop"),
                (
                    "application_input",
                    r#"{"name": "{{name}}", "providerName": "acme", "description": "Shop at {{url}}", "labels": {"kind": "shop"}}"#,
                ),
                ("placeholders", "name: The shop's name\nurl: Where it is served"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let location = page.location().unwrap().to_owned();
    let id = location
        .strip_prefix("/console/application-templates/")
        .unwrap()
        .to_owned();
    let stored = server
        .director(
            "query($id: ID!) { applicationTemplate(id: $id) { name accessLevel placeholders { name description } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(stored["applicationTemplate"]["name"], "shop");
    assert_eq!(stored["applicationTemplate"]["accessLevel"], "TENANT");
    assert_eq!(
        stored["applicationTemplate"]["placeholders"],
        json!([
            {"name": "name", "description": "The shop's name"},
            {"name": "url", "description": "Where it is served"},
        ])
    );

    let detail = browser.get(&location).await;
    assert_eq!(detail.status, StatusCode::OK);
    assert!(detail.body.contains("A web shop"));
    // One labelled field per placeholder.
    for (n, (name, description)) in [
        ("name", "The shop&#39;s name"),
        ("url", "Where it is served"),
    ]
    .iter()
    .enumerate()
    {
        assert!(
            detail.body.contains(&format!(
                "<label for=\"placeholder-{n}\"><code>{name}</code>: "
            )),
            "{}",
            detail.body
        );
        assert!(
            detail.body.contains(description) || detail.body.contains("The shop&#x27;s name"),
            "{description} in {}",
            detail.body
        );
        assert!(detail.body.contains(&format!(
            "<input id=\"placeholder-{n}\" name=\"value:{name}\""
        )));
    }
    let list = browser.get("/console/application-templates").await;
    assert_eq!(
        list.linked("application-template", "/console/application-templates/"),
        vec![id.clone()]
    );

    // Register an application from it.
    let page = browser
        .post(
            &format!("{location}/register"),
            &[
                ("csrf", &csrf),
                ("value:name", "corner-shop"),
                ("value:url", "https://shop.example.com \"quoted\""),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let app = page
        .location()
        .unwrap()
        .strip_prefix("/console/applications/")
        .unwrap()
        .to_owned();
    let stored = server
        .director(
            "query($id: ID!) { application(id: $id) { name description labels } }",
            json!({"id": app}),
        )
        .await;
    assert_eq!(stored["application"]["name"], "corner-shop");
    assert_eq!(
        stored["application"]["description"],
        "Shop at https://shop.example.com \"quoted\""
    );
    assert_eq!(stored["application"]["labels"]["kind"], "shop");

    // A value the Director refuses: beside the form, values kept, nothing registered.
    let page = browser
        .post(
            &format!("{location}/register"),
            &[
                ("csrf", &csrf),
                ("value:name", "Bad Name!"),
                ("value:url", "x"),
            ],
        )
        .await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    assert!(page.body.contains("id=\"use-error\""));
    assert!(page.body.contains("value=\"Bad Name!\""));
    assert_eq!(application_count(&server).await, 1);

    // Delete, with the name typed.
    let delete = format!("{location}/delete");
    let page = browser
        .post(&delete, &[("csrf", &csrf), ("confirm_name", "sho")])
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(template_count(&server).await, 1);
    let page = browser
        .post(&delete, &[("csrf", &csrf), ("confirm_name", "shop")])
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(template_count(&server).await, 0);
    assert_eq!(browser.get(&location).await.status, StatusCode::NOT_FOUND);
}

async fn a_refused_template_shows_why_and_changes_nothing(backend: Backend) {
    let server = TestServer::start(backend).await;
    let mut browser = Browser::signed_in(&server, &[TenantId::DEFAULT], ALL_SCOPES).await;
    let csrf = browser.csrf().await;
    // Not JSON.
    let page = browser
        .post(
            "/console/application-templates",
            &[
                ("csrf", &csrf),
                ("name", "shop"),
                ("application_input", "{nope"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("id=\"register-error\""));
    assert!(page.body.contains("{nope</textarea>"));
    // A placeholder the input does not use: the Director's refusal.
    let page = browser
        .post(
            "/console/application-templates",
            &[
                ("csrf", &csrf),
                ("name", "shop"),
                (
                    "application_input",
                    r#"{"name": "shop", "providerName": "acme"}"#,
                ),
                ("placeholders", "unused: never used"),
            ],
        )
        .await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    assert!(
        page.text_of("register-error")
            .unwrap()
            .contains("does not use provided placeholder"),
        "{}",
        page.body
    );
    assert_eq!(template_count(&server).await, 0);
}

async fn templates_follow_scopes_and_tenants(backend: Backend) {
    let server = TestServer::start(backend).await;
    let id = create_template(&server, "shop").await;
    let path = format!("/console/application-templates/{id}");

    let mut reader = Browser::signed_in(
        &server,
        &[TenantId::DEFAULT],
        "application_template:read application:read",
    )
    .await;
    let list = reader.get("/console/application-templates").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(!list.body.contains("/console/application-templates/new"));
    let detail = reader.get(&path).await;
    assert_eq!(detail.status, StatusCode::OK);
    assert!(!detail.body.contains("/delete"));
    assert!(!detail.body.contains("/register\""));
    assert_eq!(
        reader
            .get("/console/application-templates/new")
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let csrf = detail.csrf();
    let forged = [
        (
            "/console/application-templates".to_owned(),
            vec![
                ("csrf", csrf.as_str()),
                ("name", "forged"),
                ("application_input", r#"{"name":"x","providerName":"y"}"#),
            ],
        ),
        (
            format!("{path}/register"),
            vec![
                ("csrf", csrf.as_str()),
                ("value:name", "forged"),
                ("value:url", "x"),
            ],
        ),
        (
            format!("{path}/delete"),
            vec![("csrf", csrf.as_str()), ("confirm_name", "shop")],
        ),
    ];
    for (target, fields) in &forged {
        let page = reader.post(target, fields).await;
        assert_eq!(
            page.status,
            StatusCode::FORBIDDEN,
            "{target}: {}",
            page.body
        );
    }
    assert_eq!(template_count(&server).await, 1);
    assert_eq!(application_count(&server).await, 0);

    let other = TenantId(uuid::Uuid::new_v4());
    let mut stranger = Browser::signed_in(&server, &[other], ALL_SCOPES).await;
    let csrf = stranger.csrf().await;
    assert_eq!(stranger.get(&path).await.status, StatusCode::NOT_FOUND);
    let page = stranger
        .post(
            &format!("{path}/register"),
            &[
                ("csrf", &csrf),
                ("value:name", "stolen"),
                ("value:url", "x"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let page = stranger
        .post(
            &format!("{path}/delete"),
            &[("csrf", &csrf), ("confirm_name", "shop")],
        )
        .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(
        stranger
            .get("/console/application-templates")
            .await
            .linked("application-template", "/console/application-templates/")
            .is_empty()
    );
    assert_eq!(template_count(&server).await, 1);
    assert_eq!(application_count(&server).await, 0);
}

on_both_backends!(
    register_see_use_and_delete_a_template,
    a_refused_template_shows_why_and_changes_nothing,
    templates_follow_scopes_and_tenants,
);
