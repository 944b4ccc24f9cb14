//! Issue 13 (8), revocation that evicts the holder: revoking a certificate revokes the
//! certificates renewed from it; an application or runtime cannot create credentials for
//! itself; `revokeAllCredentialsFor*` revokes every credential of one at once.

use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256};
use serde_json::{Value, json};

use crate::connector::is_revoked;
use crate::helpers::{Backend, TestApp, assert_error_code};
use crate::oauth::{access_token, credentials_for};
use crate::rotation::{Paired, SIGN, csr_for, mtls_url, pair_as, renew, revoke};

/// A Director request over mTLS with a new connection: its status, or `None` when the
/// handshake is refused.
async fn mtls_status(app: &TestApp, paired: &Paired) -> Option<u16> {
    paired
        .client(&paired.trusted_pem)
        .post(mtls_url(app, "/director/graphql"))
        .json(&json!({"query": "{ applications { totalCount } }"}))
        .send()
        .await
        .ok()
        .map(|r| r.status().as_u16())
}

async fn refused(app: &TestApp, paired: &Paired) -> bool {
    matches!(mtls_status(app, paired).await, None | Some(401))
}

/// Renews through the certificate-secured `configuration`'s CSR token, spent at the
/// token-secured Connector (the other way a certificate obtains a successor).
async fn renew_with_csr_token(app: &TestApp, paired: &Paired) -> Paired {
    let body: Value = paired
        .client(&paired.trusted_pem)
        .post(mtls_url(app, "/connector/graphql"))
        .json(&json!({"query": "{ configuration { token { token } certificateSigningRequestInfo { subject } } }"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let config = &body["data"]["configuration"];
    let token = config["token"]["token"].as_str().unwrap();
    let subject = config["certificateSigningRequestInfo"]["subject"]
        .as_str()
        .unwrap();
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let body: Value = app
        .client
        .post(format!("{}/connector/graphql", app.base))
        .header("Connector-Token", token)
        .json(&json!({"query": SIGN, "variables": {"csr": csr_for(subject, &key)}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let result = &body["data"]["signCertificateSigningRequest"];
    let unb64 = |v: &Value| {
        use base64::Engine as _;
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(v.as_str().unwrap())
                .unwrap(),
        )
        .unwrap()
    };
    Paired {
        cert_pem: unb64(&result["clientCertificate"]),
        key_pem: key.serialize_pem(),
        trusted_pem: unb64(&result["caCertificate"]),
    }
}

async fn revoking_a_certificate_revokes_its_renewals(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let shop = app.register_app("shop", json!({})).await;
    let first = pair_as(&app, "Application", &shop).await;
    // A chain of renewals, each from the one before, and one through a CSR token.
    let second = renew(&app, &first, &first.trusted_pem).await;
    let third = renew(&app, &second, &second.trusted_pem).await;
    let by_token = renew_with_csr_token(&app, &second).await;
    // An unrelated pairing of the same application stays.
    let other = pair_as(&app, "Application", &shop).await;
    for paired in [&first, &second, &third, &by_token, &other] {
        assert_eq!(mtls_status(&app, paired).await, Some(200));
    }

    // The leaked certificate in the middle of the chain is revoked: it and everything
    // renewed from it is refused; what it was renewed from, and the other pairing, are not.
    revoke(&app, &second, &second.trusted_pem).await;
    for paired in [&second, &third, &by_token] {
        assert!(is_revoked(&app, &paired.cert_pem).await);
        assert!(refused(&app, paired).await);
    }
    assert!(!is_revoked(&app, &first.cert_pem).await);
    assert_eq!(mtls_status(&app, &first).await, Some(200));
    assert_eq!(mtls_status(&app, &other).await, Some(200));

    // Revoking the root takes the whole chain.
    revoke(&app, &first, &first.trusted_pem).await;
    assert!(refused(&app, &first).await);
    assert_eq!(mtls_status(&app, &other).await, Some(200));

    // A revoked certificate renews nothing.
    let body = third
        .client(&third.trusted_pem)
        .post(mtls_url(&app, "/connector/graphql"))
        .json(&json!({"query": "{ configuration { token { token } } }"}))
        .send()
        .await;
    if let Ok(response) = body {
        assert_eq!(response.status().as_u16(), 401);
    }
}

/// How many system auths the application and the runtime have.
async fn auth_counts(app: &TestApp, shop: &str, runtime: &str) -> (usize, usize) {
    let data = app
        .gql(
            "query($a: ID!, $r: ID!) { application(id: $a) { auths { id } } runtime(id: $r) { auths { id } } }",
            json!({"a": shop, "r": runtime}),
        )
        .await;
    (
        data["application"]["auths"].as_array().unwrap().len(),
        data["runtime"]["auths"].as_array().unwrap().len(),
    )
}

/// An application or runtime, with its OAuth2 token or its certificate, cannot create
/// OAuth2 clients or pairing tokens for itself; users still can.
async fn applications_and_runtimes_cannot_create_credentials_for_themselves(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let shop = app.register_app("shop", json!({})).await;
    let runtime = app.register_runtime("rt", json!({})).await;
    let (shop_client, shop_secret) = credentials_for(&app, "Application", &shop).await;
    let (rt_client, rt_secret) = credentials_for(&app, "Runtime", &runtime).await;
    let shop_token = access_token(&app, &shop_client, &shop_secret).await;
    let rt_token = access_token(&app, &rt_client, &rt_secret).await;
    let shop_cert = pair_as(&app, "Application", &shop).await;
    let rt_cert = pair_as(&app, "Runtime", &runtime).await;
    let before = auth_counts(&app, &shop, &runtime).await;
    assert_eq!(before, (2, 2));

    for (kind, id) in [("Application", &shop), ("Runtime", &runtime)] {
        for mutation in [
            format!(
                "mutation($id: ID!) {{ m: requestClientCredentialsFor{kind}(id: $id) {{ id }} }}"
            ),
            format!(
                "mutation($id: ID!) {{ m: requestOneTimeTokenFor{kind}(id: $id) {{ token }} }}"
            ),
        ] {
            let (token, cert) = if kind == "Application" {
                (&shop_token, &shop_cert)
            } else {
                (&rt_token, &rt_cert)
            };
            let body = app.gql_as(token, &mutation, json!({"id": id})).await;
            assert!(
                assert_error_code(&body, "FORBIDDEN").contains("cannot create credentials"),
                "{mutation}: {body}"
            );
            let body: Value = cert
                .client(&cert.trusted_pem)
                .post(mtls_url(&app, "/director/graphql"))
                .json(&json!({"query": mutation, "variables": {"id": id}}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert!(
                assert_error_code(&body, "FORBIDDEN").contains("cannot create credentials"),
                "{mutation} with a certificate: {body}"
            );
        }
    }
    assert_eq!(
        auth_counts(&app, &shop, &runtime).await,
        before,
        "nothing was created"
    );
    // Users still can.
    credentials_for(&app, "Application", &shop).await;
    credentials_for(&app, "Runtime", &runtime).await;
    assert_eq!(auth_counts(&app, &shop, &runtime).await, (3, 3));
}

async fn one_mutation_revokes_every_credential(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let shop = app.register_app("shop", json!({})).await;
    let bystander = app.register_app("bystander", json!({})).await;
    let (client, secret) = credentials_for(&app, "Application", &shop).await;
    let token = access_token(&app, &client, &secret).await;
    let paired = pair_as(&app, "Application", &shop).await;
    let renewed = renew(&app, &paired, &paired.trusted_pem).await;
    let unused = app
        .gql(
            "mutation($id: ID!) { requestOneTimeTokenForApplication(id: $id) { token } }",
            json!({"id": shop}),
        )
        .await["requestOneTimeTokenForApplication"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (by_client, by_secret) = credentials_for(&app, "Application", &bystander).await;
    let bystander_token = access_token(&app, &by_client, &by_secret).await;
    let bystander_cert = pair_as(&app, "Application", &bystander).await;
    let own_query = "query($id: ID!) { application(id: $id) { id } }";
    let body = app.gql_as(&token, own_query, json!({"id": shop})).await;
    assert!(body.get("errors").is_none(), "{body}");

    // Out of reach: another tenant, another application's token, a runtime.
    let revoke_all = "mutation($id: ID!) { r: revokeAllCredentialsForApplication(id: $id) { systemAuths certificates } }";
    let (_, other_tenant) = app.other_tenant();
    let body = app
        .gql_as(&other_tenant, revoke_all, json!({"id": shop}))
        .await;
    assert!(
        assert_error_code(&body, "NOT_FOUND").contains("does not exist"),
        "{body}"
    );
    let body = app
        .gql_as(&bystander_token, revoke_all, json!({"id": shop}))
        .await;
    assert!(
        assert_error_code(&body, "NOT_FOUND").contains("does not exist"),
        "{body}"
    );
    let body = app
        .gql_as(
            &other_tenant,
            revoke_all,
            json!({"id": uuid::Uuid::new_v4()}),
        )
        .await;
    assert!(
        assert_error_code(&body, "NOT_FOUND").contains("does not exist"),
        "{body}"
    );
    assert_eq!(
        mtls_status(&app, &renewed).await,
        Some(200),
        "nothing revoked yet"
    );

    let data = app.gql(revoke_all, json!({"id": shop})).await;
    // The OAuth2 client, the paired client and the client of the unused token.
    assert_eq!(data["r"]["systemAuths"], 3, "{data}");
    assert_eq!(data["r"]["certificates"], 2, "{data}");

    let response = app
        .post(Some(&token), None, own_query, json!({"id": shop}))
        .await;
    assert_eq!(response.status().as_u16(), 401, "the access token is dead");
    for cert in [&paired, &renewed] {
        assert!(is_revoked(&app, &cert.cert_pem).await);
        assert!(refused(&app, cert).await);
    }
    let body: Value = app
        .client
        .post(format!("{}/connector/graphql", app.base))
        .header("Connector-Token", &unused)
        .json(&json!({"query": "{ configuration { token { token } } }"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        body["data"].is_null() || body["data"]["configuration"].is_null(),
        "{body}"
    );
    let data = app
        .gql(
            "query($id: ID!) { application(id: $id) { auths { id } } }",
            json!({"id": shop}),
        )
        .await;
    assert_eq!(data["application"]["auths"], json!([]));
    // The bystander keeps everything.
    let body = app
        .gql_as(&bystander_token, own_query, json!({"id": bystander}))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(mtls_status(&app, &bystander_cert).await, Some(200));

    // The same for a runtime; a runtime may evict itself, not another one.
    let runtime = app.register_runtime("rt", json!({})).await;
    let other_rt = app.register_runtime("other", json!({})).await;
    let (rt_client, rt_secret) = credentials_for(&app, "Runtime", &runtime).await;
    let rt_token = access_token(&app, &rt_client, &rt_secret).await;
    let rt_cert = pair_as(&app, "Runtime", &runtime).await;
    let revoke_rt = "mutation($id: ID!) { r: revokeAllCredentialsForRuntime(id: $id) { systemAuths certificates } }";
    let body = app
        .gql_as(&rt_token, revoke_rt, json!({"id": other_rt}))
        .await;
    assert!(
        assert_error_code(&body, "NOT_FOUND").contains("does not exist"),
        "{body}"
    );
    let body = app
        .gql_as(&rt_token, revoke_rt, json!({"id": runtime}))
        .await;
    assert_eq!(
        body["data"]["r"],
        json!({"systemAuths": 2, "certificates": 1}),
        "{body}"
    );
    assert!(refused(&app, &rt_cert).await);
    let response = app
        .post(
            Some(&rt_token),
            None,
            "{ runtimes { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(response.status().as_u16(), 401);
}

crate::on_both_backends!(
    revoking_a_certificate_revokes_its_renewals,
    applications_and_runtimes_cannot_create_credentials_for_themselves,
    one_mutation_revokes_every_credential,
);
