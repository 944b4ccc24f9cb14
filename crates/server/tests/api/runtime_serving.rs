//! The event gateway's serving certificate: only a runtime's own certificate gets one, it is
//! signed by the runtime serving CA (never by the CA of clients and of the management
//! plane's listeners), for serverAuth only, with checked names; and the client lookup that
//! tells an event gateway which application a client certificate stands for.

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, PKCS_ECDSA_P256_SHA256};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp};
use crate::rotation::{Paired, pair_as};

fn mtls_url(app: &TestApp, path: &str) -> String {
    format!("https://localhost:{}{path}", app.server().mtls_addr.port())
}

fn csr(key: &KeyPair) -> String {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, "events.rt.local");
    params.serialize_request(key).unwrap().pem().unwrap()
}

async fn request_serving(app: &TestApp, client: &reqwest::Client, body: Value) -> (u16, Value) {
    let response = client
        .post(mtls_url(app, "/connector/runtime/serving-certificate"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn verifies(ca_pem: &str, cert_pem: &str, name: &str) -> bool {
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(ca.unwrap()).unwrap();
    }
    let verifier = WebPkiServerVerifier::builder_with_provider(
        std::sync::Arc::new(roots),
        std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
    )
    .build()
    .unwrap();
    let der = CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap();
    verifier
        .verify_server_cert(
            &der,
            &[],
            &ServerName::try_from(name.to_owned()).unwrap(),
            &[],
            UnixTime::now(),
        )
        .is_ok()
}

/// A server whose runtimes get `<runtime id>.rt.test`, and loopback names if `loopback`.
async fn spawn_with_domain(backend: Backend, loopback: bool) -> TestApp {
    TestApp::spawn_with(
        backend,
        sextant_server::ServerOptions {
            runtime_serving_names: Some(
                sextant_server::ServingNamePolicy::new(&["rt.test".to_owned()], loopback).unwrap(),
            ),
            ..sextant_server::ServerOptions::default()
        },
    )
    .await
}

async fn a_runtime_gets_a_serving_certificate_of_the_serving_ca(backend: Backend) {
    let app = spawn_with_domain(backend, true).await;
    let runtime = app.register_runtime("rt", json!({})).await;
    let paired: Paired = pair_as(&app, "Runtime", &runtime).await;
    let client = paired.client(&paired.trusted_pem);
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let own = format!("{runtime}.rt.test");
    let (status, body) = request_serving(
        &app,
        &client,
        json!({"csr": csr(&key), "names": [own, "127.0.0.1"]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let cert = body["certificate"].as_str().unwrap();

    // The CA is public, on both listeners, and is the one the answer names.
    let main_ca = app
        .client
        .get(format!("{}/connector/runtime-serving-ca", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mtls_ca = client
        .get(mtls_url(&app, "/connector/runtime-serving-ca"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(main_ca, mtls_ca);
    assert_eq!(body["caCertificate"].as_str().unwrap(), main_ca);
    assert!(verifies(&main_ca, cert, &own));
    assert!(verifies(&main_ca, cert, "127.0.0.1"));
    assert!(
        !verifies(&main_ca, cert, "localhost"),
        "only the names asked"
    );
    assert!(
        !verifies(&paired.trusted_pem, cert, &own),
        "the client CA did not sign it"
    );
    assert_ne!(main_ca, paired.trusted_pem);

    let der = CertificateDer::from_pem_slice(cert.as_bytes()).unwrap();
    let (_, parsed) = x509_parser::parse_x509_certificate(&der).unwrap();
    assert_eq!(parsed.subject().to_string(), format!("CN={runtime}"));
    assert_eq!(
        sextant_pki::serving_certificate_runtime(&der)
            .unwrap()
            .to_string(),
        runtime,
        "the runtime's id is a URI name of the certificate"
    );
    assert!(!parsed.is_ca());
    let eku = parsed.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.server_auth && !eku.client_auth && eku.other.is_empty());
    let lifetime =
        parsed.validity().not_after.timestamp() - parsed.validity().not_before.timestamp();
    let expected = sextant_server::DEFAULT_CERTIFICATE_VALIDITY.as_secs() as i64 + 300;
    assert!(
        (lifetime - expected).abs() < 120,
        "validity as for clients: {lifetime}"
    );
}

async fn only_runtimes_get_one_and_only_for_good_requests(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let runtime = app.register_runtime("rt", json!({})).await;
    let application = app.register_app("shop", json!({})).await;
    let rt = pair_as(&app, "Runtime", &runtime).await;
    let shop = pair_as(&app, "Application", &application).await;
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let good = json!({"csr": csr(&key), "names": ["localhost"]});

    let (status, body) = request_serving(&app, &shop.client(&shop.trusted_pem), good.clone()).await;
    assert_eq!(status, 403, "an application's certificate: {body}");

    let client = rt.client(&rt.trusted_pem);
    for (bad, what) in [
        (json!({"csr": "not a csr", "names": ["localhost"]}), "CSR"),
        (json!({"csr": csr(&key), "names": []}), "names"),
        (
            json!({"csr": csr(&key), "names": ["*.rt.local"]}),
            "wildcards",
        ),
        (json!({"csr": csr(&key), "names": ["bad name"]}), "neither"),
        (
            json!({"csr": csr(&key), "names": (0..11).map(|i| format!("h{i}.local")).collect::<Vec<_>>()}),
            "at most",
        ),
        (json!({"names": ["localhost"]}), "expected"),
    ] {
        let (status, body) = request_serving(&app, &client, bad).await;
        assert_eq!(status, 400, "{body}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(what), "{message}");
    }
    let p384 = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
    let (status, _) = request_serving(
        &app,
        &client,
        json!({"csr": csr(&p384), "names": ["localhost"]}),
    )
    .await;
    assert_eq!(status, 400, "P-384 is not accepted");
    let (status, body) = request_serving(&app, &client, good.clone()).await;
    assert_eq!(status, 200, "{body}");

    // Revoked: refused (on the open connection by the per-request check).
    let body: Value = client
        .post(mtls_url(&app, "/connector/graphql"))
        .json(&json!({"query": "mutation { revokeCertificate }"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"]["revokeCertificate"], true, "{body}");
    // Refused at the handshake already, or by the per-request check.
    if let Ok(response) = client
        .post(mtls_url(&app, "/connector/runtime/serving-certificate"))
        .json(&good)
        .send()
        .await
    {
        assert_eq!(response.status().as_u16(), 401);
    }
}

/// Issue 13 (6): a runtime gets a serving certificate only for names bound to it, never for
/// another runtime's (of its tenant or another) or any other host.
async fn only_names_bound_to_the_runtime_are_issued(backend: Backend) {
    let app = spawn_with_domain(backend, false).await;
    let runtime = app.register_runtime("rt", json!({})).await;
    let neighbour = app.register_runtime("neighbour", json!({})).await;
    let (_, other_token) = app.other_tenant();
    let foreign = app
        .gql_as(
            &other_token,
            "mutation { registerRuntime(in: {name: \"evil\"}) { id } }",
            json!({}),
        )
        .await["data"]["registerRuntime"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let rt = pair_as(&app, "Runtime", &runtime).await;
    let client = rt.client(&rt.trusted_pem);
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    for name in [
        format!("{neighbour}.rt.test"),
        format!("{foreign}.rt.test"),
        format!("{runtime}.rt.test.evil.example"),
        format!("{runtime}.other.test"),
        "rt.test".to_owned(),
        "events.shop.example".to_owned(),
        "127.0.0.1".to_owned(),
        "localhost".to_owned(),
        "::1".to_owned(),
    ] {
        let (status, body) = request_serving(
            &app,
            &client,
            json!({"csr": csr(&key), "names": [format!("{runtime}.rt.test"), name]}),
        )
        .await;
        assert_eq!(status, 403, "{name}: {body}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("not bound to this runtime"), "{message}");
    }
    let (status, body) = request_serving(
        &app,
        &client,
        json!({"csr": csr(&key), "names": [format!("{}.RT.test", runtime.to_uppercase())]}),
    )
    .await;
    assert_eq!(status, 200, "its own name, in any case: {body}");

    // The default: no domain, loopback names (the local provider's runtimes).
    let app = TestApp::spawn(backend).await;
    let runtime = app.register_runtime("rt", json!({})).await;
    let rt = pair_as(&app, "Runtime", &runtime).await;
    let client = rt.client(&rt.trusted_pem);
    let (status, body) = request_serving(
        &app,
        &client,
        json!({"csr": csr(&key), "names": ["127.0.0.1", "localhost"]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    for name in [
        format!("{runtime}.rt.test"),
        "events.shop.example".to_owned(),
    ] {
        let (status, body) =
            request_serving(&app, &client, json!({"csr": csr(&key), "names": [name]})).await;
        assert_eq!(status, 403, "{body}");
    }
}

async fn a_runtime_learns_which_application_a_client_is(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.define_scenarios(&["SHOP"]).await;
    let runtime = app
        .register_runtime("rt", json!({"scenarios": ["SHOP"]}))
        .await;
    let shop = app
        .register_app("shop", json!({"scenarios": ["SHOP"]}))
        .await;
    let other = app
        .register_app("other", json!({"scenarios": ["DEFAULT"]}))
        .await;
    let rt = pair_as(&app, "Runtime", &runtime).await;
    let shop_paired = pair_as(&app, "Application", &shop).await;
    let other_paired = pair_as(&app, "Application", &other).await;
    let client_id = |p: &Paired| {
        let der = CertificateDer::from_pem_slice(p.cert_pem.as_bytes()).unwrap();
        sextant_pki::client_certificate_identity(&der)
            .unwrap()
            .client_id
            .to_string()
    };
    let lookup = |client: reqwest::Client, id: String| {
        let url = mtls_url(&app, &format!("/runtime/application-clients/{id}"));
        async move {
            let response = client.get(url).send().await.unwrap();
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let client = rt.client(&rt.trusted_pem);
    let (status, body) = lookup(client.clone(), client_id(&shop_paired)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["applicationID"], shop);
    assert_eq!(body["applicationName"], "shop");
    let (status, _) = lookup(client.clone(), client_id(&other_paired)).await;
    assert_eq!(status, 404, "outside the runtime's scenarios");
    let (status, _) = lookup(client.clone(), client_id(&rt)).await;
    assert_eq!(status, 404, "a runtime's client is no application");
    let (status, _) = lookup(client, "nonsense".into()).await;
    assert_eq!(status, 404);
    let (status, _) = lookup(
        shop_paired.client(&shop_paired.trusted_pem),
        client_id(&shop_paired),
    )
    .await;
    assert_eq!(status, 403, "only runtimes ask");
}

crate::on_both_backends!(
    a_runtime_gets_a_serving_certificate_of_the_serving_ca,
    only_runtimes_get_one_and_only_for_good_requests,
    only_names_bound_to_the_runtime_are_issued,
    a_runtime_learns_which_application_a_client_is,
);
