//! Pairing through the token-secured Connector over real HTTPS: a one-time token from the
//! Director, `configuration`, a CSR signed into a certificate that the mTLS listener accepts;
//! and the refusals: reused, expired, missing or wrong-kind tokens, wrong subjects, bad CSRs.

use base64::Engine;
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, PKCS_ECDSA_P256_SHA256};
use serde_json::{Value, json};
use sextant_domain::{OneTimeToken, OneTimeTokenKind, TenantId};

use crate::helpers::{Backend, TestApp, assert_error_code};

pub(crate) async fn connector(
    app: &TestApp,
    token: Option<&str>,
    query: &str,
    vars: Value,
) -> (u16, Value) {
    let mut request = app
        .client
        .post(format!("{}/connector/graphql", app.base))
        .json(&json!({"query": query, "variables": vars}));
    if let Some(token) = token {
        request = request.header("Connector-Token", token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub(crate) const CONFIGURATION: &str = "{ configuration { token { token } certificateSigningRequestInfo { subject keyAlgorithm } managementPlaneInfo { directorURL certificateSecuredConnectorURL } } }";
const SIGN: &str = "mutation($csr: String!) { signCertificateSigningRequest(csr: $csr) { certificateChain caCertificate clientCertificate } }";

async fn pairing_token(app: &TestApp, app_id: &str) -> String {
    app.gql(
        "mutation($id: ID!) { requestOneTimeTokenForApplication(id: $id) { token } }",
        json!({"id": app_id}),
    )
    .await["requestOneTimeTokenForApplication"]["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A CSR (base64 of PEM) for the subject string `configuration` handed out, with `cn`
/// replacing its CN if given.
fn csr(key: &KeyPair, subject: &str, cn: Option<&str>) -> String {
    let mut dn = DistinguishedName::new();
    for part in subject.split(',') {
        let (name, value) = part.split_once('=').unwrap();
        let ty = match name {
            "O" => DnType::OrganizationName,
            "OU" => DnType::OrganizationalUnitName,
            "L" => DnType::LocalityName,
            "ST" => DnType::StateOrProvinceName,
            "C" => DnType::CountryName,
            "CN" => DnType::CommonName,
            other => panic!("unexpected attribute {other}"),
        };
        let value = if name == "CN" {
            cn.unwrap_or(value)
        } else {
            value
        };
        dn.push(ty, value);
    }
    let mut params = CertificateParams::default();
    params.distinguished_name = dn;
    let pem = params.serialize_request(key).unwrap().pem().unwrap();
    base64::engine::general_purpose::STANDARD.encode(pem)
}

fn decode(b64: &Value) -> String {
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap())
            .unwrap(),
    )
    .unwrap()
}

async fn an_application_pairs_and_its_certificate_opens_the_mtls_listener(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;
    let token = pairing_token(&app, &app_id).await;

    let (status, body) = connector(&app, Some(&token), CONFIGURATION, json!({})).await;
    assert_eq!(status, 200);
    let config = &body["data"]["configuration"];
    let client_id = app
        .gql(
            "query($a: ID!) { application(id: $a) { auths { id } } }",
            json!({"a": app_id}),
        )
        .await["application"]["auths"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let subject = config["certificateSigningRequestInfo"]["subject"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        subject,
        format!("O=Org,OU=OrgUnit,L=locality,ST=province,C=DE,CN={client_id}")
    );
    assert_eq!(
        config["certificateSigningRequestInfo"]["keyAlgorithm"],
        "ecdsa-p256"
    );
    let mtls = format!("https://localhost:{}", app.server().mtls_addr.port());
    assert_eq!(
        config["managementPlaneInfo"],
        json!({"directorURL": format!("{mtls}/director/graphql"),
               "certificateSecuredConnectorURL": format!("{mtls}/connector/graphql")})
    );
    // The pairing token is used up.
    let (_, again) = connector(&app, Some(&token), CONFIGURATION, json!({})).await;
    assert!(
        assert_error_code(&again, "INVALID_TOKEN").contains("token is invalid"),
        "{again}"
    );

    let csr_token = config["token"]["token"].as_str().unwrap().to_owned();
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let (_, body) = connector(
        &app,
        Some(&csr_token),
        SIGN,
        json!({"csr": csr(&key, &subject, None)}),
    )
    .await;
    let result = &body["data"]["signCertificateSigningRequest"];
    let client_pem = decode(&result["clientCertificate"]);
    let ca_pem = decode(&result["caCertificate"]);
    assert_eq!(
        decode(&result["certificateChain"]),
        format!("{client_pem}{ca_pem}")
    );
    assert_eq!(
        ca_pem,
        std::fs::read_to_string(app.server().data_dir.join("ca.crt")).unwrap()
    );
    let der = rustls_pki_types_der(&client_pem);
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    assert!(
        cert.subject()
            .to_string()
            .ends_with(&format!("CN={client_id}"))
    );
    assert!(!cert.is_ca());

    // The CSR token is used up too.
    let (_, again) = connector(
        &app,
        Some(&csr_token),
        SIGN,
        json!({"csr": csr(&key, &subject, None)}),
    )
    .await;
    assert!(
        assert_error_code(&again, "INVALID_TOKEN").contains("token is invalid"),
        "{again}"
    );

    // The certificate opens the mTLS listener.
    let identity =
        reqwest::Identity::from_pem(format!("{client_pem}{}", key.serialize_pem()).as_bytes())
            .unwrap();
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap()])
        .identity(identity)
        .build()
        .unwrap();
    let response = client.get(format!("{mtls}/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

pub(crate) fn rustls_pki_types_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

async fn tokens_are_single_use_and_of_their_kind(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;

    // No token, an unknown token.
    let (status, _) = connector(&app, None, CONFIGURATION, json!({})).await;
    assert_eq!(status, 401);
    let (_, body) = connector(&app, Some("made-up"), CONFIGURATION, json!({})).await;
    assert!(
        assert_error_code(&body, "INVALID_TOKEN").contains("token is invalid"),
        "{body}"
    );

    // A pairing token cannot sign, and is not used up by trying.
    let token = pairing_token(&app, &app_id).await;
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let fake_subject = "O=Org,OU=OrgUnit,L=locality,ST=province,C=DE,CN=x";
    let (_, body) = connector(
        &app,
        Some(&token),
        SIGN,
        json!({"csr": csr(&key, fake_subject, None)}),
    )
    .await;
    assert!(
        assert_error_code(&body, "INVALID_TOKEN").contains("token is invalid"),
        "{body}"
    );
    let (_, body) = connector(&app, Some(&token), CONFIGURATION, json!({})).await;
    let config = body["data"]["configuration"].clone();
    let csr_token = config["token"]["token"].as_str().unwrap().to_owned();
    let subject = config["certificateSigningRequestInfo"]["subject"]
        .as_str()
        .unwrap()
        .to_owned();

    // A CSR token is no pairing token (and survives the attempt).
    let (_, body) = connector(&app, Some(&csr_token), CONFIGURATION, json!({})).await;
    assert!(
        assert_error_code(&body, "INVALID_TOKEN").contains("token is invalid"),
        "{body}"
    );

    // Refused CSRs leave the CSR token usable: wrong CN, other subject fields, garbage,
    // a bad signature.
    let (_, body) = connector(
        &app,
        Some(&csr_token),
        SIGN,
        json!({"csr": csr(&key, &subject, Some("someone-else"))}),
    )
    .await;
    assert_eq!(
        assert_error_code(&body, "INVALID_CSR"),
        "CSR: Invalid common name provided."
    );
    let other_org = subject.replace("O=Org", "O=Evil");
    let (_, body) = connector(
        &app,
        Some(&csr_token),
        SIGN,
        json!({"csr": csr(&key, &other_org, None)}),
    )
    .await;
    assert!(
        assert_error_code(&body, "INVALID_CSR").starts_with("CSR: invalid subject"),
        "{body}"
    );
    let (_, body) = connector(&app, Some(&csr_token), SIGN, json!({"csr": "not base64!"})).await;
    assert!(
        assert_error_code(&body, "INVALID_CSR").starts_with("CSR:"),
        "{body}"
    );
    let good = csr(&key, &subject, None);
    let mut pem = decode(&json!(good));
    let at = pem.len() / 2;
    let flipped = if &pem[at..at + 1] == "A" { "B" } else { "A" };
    pem.replace_range(at..at + 1, flipped);
    let tampered = base64::engine::general_purpose::STANDARD.encode(pem);
    let (_, body) = connector(&app, Some(&csr_token), SIGN, json!({"csr": tampered})).await;
    assert!(
        assert_error_code(&body, "INVALID_CSR").starts_with("CSR:"),
        "{body}"
    );
    let (_, body) = connector(&app, Some(&csr_token), SIGN, json!({"csr": good})).await;
    assert!(body.get("errors").is_none(), "{body}");

    // revokeCertificate is for certificates only.
    let token = pairing_token(&app, &app_id).await;
    let (_, body) = connector(
        &app,
        Some(&token),
        "mutation { revokeCertificate }",
        json!({}),
    )
    .await;
    assert!(
        assert_error_code(&body, "CERTIFICATE_REQUIRED").contains("client certificate"),
        "{body}"
    );
}

async fn expired_tokens_do_not_pair(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;
    pairing_token(&app, &app_id).await;
    let client_id = app
        .gql(
            "query($a: ID!) { application(id: $a) { auths { id } } }",
            json!({"a": app_id}),
        )
        .await["application"]["auths"][0]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let expired = "expired-token-for-the-test";
    let now = time::OffsetDateTime::now_utc();
    let mut tx = app.server().store.write().await.unwrap();
    tx.insert_one_time_token(&OneTimeToken {
        hash: sextant_auth::secret_hash(expired),
        kind: OneTimeTokenKind::Application,
        client_id,
        tenant: TenantId::DEFAULT,
        created_at: now - time::Duration::minutes(10),
        expires_at: now - time::Duration::minutes(5),
        parent_serial: None,
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let (_, body) = connector(&app, Some(expired), CONFIGURATION, json!({})).await;
    assert!(
        assert_error_code(&body, "INVALID_TOKEN").contains("token is invalid"),
        "{body}"
    );
}

async fn fifty_parallel_configurations_with_one_token_one_wins(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;
    let token = pairing_token(&app, &app_id).await;
    let app = std::sync::Arc::new(app);
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let app = app.clone();
            let token = token.clone();
            tokio::spawn(
                async move { connector(&app, Some(&token), CONFIGURATION, json!({})).await },
            )
        })
        .collect();
    let mut wins = 0;
    for task in tasks {
        let (status, body) = task.await.unwrap();
        assert_eq!(status, 200);
        if body["data"]["configuration"]["token"]["token"].is_string() {
            wins += 1;
        } else {
            assert!(
                assert_error_code(&body, "INVALID_TOKEN").contains("token is invalid"),
                "{body}"
            );
        }
    }
    assert_eq!(wins, 1);
}

/// Pairs the application or runtime and returns an HTTPS client holding its certificate, and
/// its client id.
pub(crate) async fn paired(app: &TestApp, kind: &str, id: &str) -> (reqwest::Client, String) {
    let (client, client_id, _) = paired_with_pem(app, kind, id).await;
    (client, client_id)
}

/// [`paired`], answering the identity (certificate and key, PEM) instead of the id.
async fn paired_with_identity(
    app: &TestApp,
    kind: &str,
    id: &str,
) -> (reqwest::Client, String, String) {
    let (client, client_id, _, identity) = paired_full(app, kind, id).await;
    (client, client_id, identity)
}

/// [`paired`], also answering the certificate (PEM).
async fn paired_with_pem(app: &TestApp, kind: &str, id: &str) -> (reqwest::Client, String, String) {
    let (client, client_id, pem, _) = paired_full(app, kind, id).await;
    (client, client_id, pem)
}

/// Pairs: client, client id, certificate PEM, identity PEM.
pub(crate) async fn paired_full(
    app: &TestApp,
    kind: &str,
    id: &str,
) -> (reqwest::Client, String, String, String) {
    let token = app
        .gql(
            &format!(
                "mutation($id: ID!) {{ t: requestOneTimeTokenFor{kind}(id: $id) {{ token }} }}"
            ),
            json!({"id": id}),
        )
        .await["t"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, body) = connector(app, Some(&token), CONFIGURATION, json!({})).await;
    let config = &body["data"]["configuration"];
    let subject = config["certificateSigningRequestInfo"]["subject"]
        .as_str()
        .unwrap()
        .to_owned();
    let client_id = subject.rsplit("CN=").next().unwrap().to_owned();
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let (_, body) = connector(
        app,
        Some(config["token"]["token"].as_str().unwrap()),
        SIGN,
        json!({"csr": csr(&key, &subject, None)}),
    )
    .await;
    let result = &body["data"]["signCertificateSigningRequest"];
    let cert_pem = decode(&result["clientCertificate"]);
    let identity_pem = format!("{cert_pem}{}", key.serialize_pem());
    let identity = reqwest::Identity::from_pem(identity_pem.as_bytes()).unwrap();
    let ca = decode(&result["caCertificate"]);
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca.as_bytes()).unwrap()])
        .identity(identity)
        .build()
        .unwrap();
    (client, client_id, cert_pem, identity_pem)
}

/// Whether the mTLS listener refuses the client: 401 right after a revocation, or at the
/// handshake once the CRL (refreshed every 2 s) lists its certificate.
async fn refused(app: &TestApp, client: &reqwest::Client, query: &str) -> bool {
    let request = client
        .post(format!(
            "https://localhost:{}/director/graphql",
            app.server().mtls_addr.port()
        ))
        .json(&json!({"query": query}));
    match request.send().await {
        Ok(response) => response.status().as_u16() == 401,
        Err(_) => true,
    }
}

pub(crate) async fn mtls_gql(
    app: &TestApp,
    client: &reqwest::Client,
    headers: &[(&str, &str)],
    query: &str,
    vars: Value,
) -> (u16, Value) {
    let mut request = client
        .post(format!(
            "https://localhost:{}/director/graphql",
            app.server().mtls_addr.port()
        ))
        .json(&json!({"query": query, "variables": vars}));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn certificates_act_as_their_application_or_runtime(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let own = app.register_app("own", json!({})).await;
    let other = app.register_app("other", json!({})).await;
    let (client, client_id) = paired(&app, "Application", &own).await;
    let (_, other_client_id) = paired(&app, "Application", &other).await;

    let query = "query($o: ID!) { applications { data { id } } other: application(id: $o) { id } }";
    let (status, body) = mtls_gql(&app, &client, &[], query, json!({"o": other})).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["data"]["applications"]["data"],
        json!([{"id": own}]),
        "{body}"
    );
    assert!(body["data"]["other"].is_null());
    let (_, body) = mtls_gql(
        &app,
        &client,
        &[],
        "mutation($a: ID!) { setApplicationLabel(applicationID: $a, key: \"k\", value: 1) { key } }",
        json!({"a": own}),
    )
    .await;
    assert!(body.get("errors").is_none(), "{body}");

    // Tenant header: its own tenant only.
    let own_tenant = TenantId::DEFAULT.to_string();
    let (status, _) = mtls_gql(
        &app,
        &client,
        &[("Tenant", &own_tenant)],
        query,
        json!({"o": other}),
    )
    .await;
    assert_eq!(status, 200);
    let (other_tenant, _) = app.other_tenant();
    let (status, _) = mtls_gql(
        &app,
        &client,
        &[("Tenant", &other_tenant.0.to_string())],
        query,
        json!({"o": other}),
    )
    .await;
    assert_eq!(status, 403);

    // Headers that claim an identity change nothing.
    let forged = [
        ("Authorization", format!("Bearer {}", app.admin_token)),
        ("Client-Id-From-Certificate", other_client_id.clone()),
        ("Client-Id-From-Token", other_client_id.clone()),
        (
            "Certificate-Data",
            format!("Hash=00;Subject=\"CN={other_client_id}\""),
        ),
    ];
    let forged: Vec<(&str, &str)> = forged.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let (status, body) = mtls_gql(&app, &client, &forged, query, json!({"o": other})).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["data"]["applications"]["data"],
        json!([{"id": own}]),
        "{body}"
    );
    assert!(body["data"]["other"].is_null());

    // Deleting its client ends the certificate's access at once.
    app.gql(
        "mutation($id: ID!) { deleteSystemAuthForApplication(authID: $id) { id } }",
        json!({"id": client_id}),
    )
    .await;
    let (status, _) = mtls_gql(&app, &client, &[], query, json!({"o": other})).await;
    assert_eq!(status, 401);

    // A runtime's certificate asks for its own applications (both are in DEFAULT).
    let runtime = app
        .register_runtime("rt", json!({"scenarios": ["DEFAULT"]}))
        .await;
    let (client, _) = paired(&app, "Runtime", &runtime).await;
    let (_, body) = mtls_gql(
        &app,
        &client,
        &[],
        "query($r: ID!) { applicationsForRuntime(runtimeID: $r) { totalCount } }",
        json!({"r": runtime}),
    )
    .await;
    assert_eq!(
        body["data"]["applicationsForRuntime"]["totalCount"], 2,
        "{body}"
    );
}

async fn mtls_connector(
    app: &TestApp,
    client: &reqwest::Client,
    query: &str,
    vars: Value,
) -> (u16, Value) {
    let response = client
        .post(format!(
            "https://localhost:{}/connector/graphql",
            app.server().mtls_addr.port()
        ))
        .json(&json!({"query": query, "variables": vars}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Renewal and revocation over the certificate-secured Connector (Compass's
/// TestFullConnectorFlow, steps 2 to 5).
async fn renewal_and_revocation_over_mtls(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;
    let (client, client_id) = paired(&app, "Application", &app_id).await;

    let (status, body) = mtls_connector(&app, &client, CONFIGURATION, json!({})).await;
    assert_eq!(status, 200, "{body}");
    let config = &body["data"]["configuration"];
    let subject = config["certificateSigningRequestInfo"]["subject"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(subject.ends_with(&format!("CN={client_id}")));
    let mtls = format!("https://localhost:{}", app.server().mtls_addr.port());
    assert_eq!(
        config["managementPlaneInfo"]["directorURL"],
        json!(format!("{mtls}/director/graphql"))
    );

    // Renewal: a new key, the same subject; another CN is refused.
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let (_, body) = mtls_connector(
        &app,
        &client,
        SIGN,
        json!({"csr": csr(&key, &subject, Some("other"))}),
    )
    .await;
    assert_eq!(
        assert_error_code(&body, "INVALID_CSR"),
        "CSR: Invalid common name provided."
    );
    let (_, body) = mtls_connector(
        &app,
        &client,
        SIGN,
        json!({"csr": csr(&key, &subject, None)}),
    )
    .await;
    let result = &body["data"]["signCertificateSigningRequest"];
    let renewed_pem = decode(&result["clientCertificate"]);
    let ca = decode(&result["caCertificate"]);
    let renewed = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca.as_bytes()).unwrap()])
        .identity(
            reqwest::Identity::from_pem(format!("{renewed_pem}{}", key.serialize_pem()).as_bytes())
                .unwrap(),
        )
        .build()
        .unwrap();

    let probe = "{ applications { totalCount } }";
    assert_eq!(mtls_gql(&app, &renewed, &[], probe, json!({})).await.0, 200);

    // Revoking the old certificate: it is refused from the next request on, and so is the
    // certificate renewed from it (whoever holds a leaked certificate cannot keep a renewal).
    let (_, body) =
        mtls_connector(&app, &client, "mutation { revokeCertificate }", json!({})).await;
    assert_eq!(body["data"]["revokeCertificate"], true, "{body}");
    assert_eq!(mtls_gql(&app, &client, &[], probe, json!({})).await.0, 401);
    let (status, body) = mtls_connector(&app, &client, CONFIGURATION, json!({})).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(mtls_gql(&app, &renewed, &[], probe, json!({})).await.0, 401);
    let (status, _) = mtls_connector(&app, &renewed, CONFIGURATION, json!({})).await;
    assert_eq!(status, 401);
}

pub(crate) async fn is_revoked(app: &TestApp, cert_pem: &str) -> bool {
    let der = rustls_pki_types_der(cert_pem);
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    let mut tx = app.server().store.read().await.unwrap();
    tx.issued_certificate(cert.raw_serial())
        .await
        .unwrap()
        .unwrap()
        .revoked
}

/// Unregistering the owner, or deleting the client, revokes its certificates (recorded as
/// such, e.g. for CRLs), and they are refused.
async fn unregistering_or_deleting_the_client_revokes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;
    let (client, _, pem) = paired_with_pem(&app, "Application", &app_id).await;
    let (other_client, other_id, other_pem) = paired_with_pem(&app, "Application", &app_id).await;
    assert!(!is_revoked(&app, &pem).await);

    app.gql(
        "mutation($id: ID!) { deleteSystemAuthForApplication(authID: $id) { id } }",
        json!({"id": other_id}),
    )
    .await;
    assert!(is_revoked(&app, &other_pem).await);
    assert!(
        !is_revoked(&app, &pem).await,
        "only that client's certificates"
    );
    let probe = "{ applications { totalCount } }";
    assert!(refused(&app, &other_client, probe).await);
    assert_eq!(mtls_gql(&app, &client, &[], probe, json!({})).await.0, 200);

    app.gql(
        "mutation($id: ID!) { unregisterApplication(id: $id) { id } }",
        json!({"id": app_id}),
    )
    .await;
    assert!(is_revoked(&app, &pem).await);
    assert!(refused(&app, &client, probe).await);

    let runtime = app.register_runtime("rt", json!({})).await;
    let (_, _, pem) = paired_with_pem(&app, "Runtime", &runtime).await;
    app.gql(
        "mutation($id: ID!) { unregisterRuntime(id: $id) { id } }",
        json!({"id": runtime}),
    )
    .await;
    assert!(is_revoked(&app, &pem).await);
}

/// Two servers sharing one PostgreSQL database (and the CA, as replicas do): a certificate
/// revoked through one is refused by the other at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_through_one_replica_is_refused_by_another() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let app_id = app.register_app("app", json!({})).await;
    let (client, _) = paired(&app, "Application", &app_id).await;

    // The second replica: the same database, a copy of the first one's data directory.
    let replica = app.start_replica().await;
    let on_replica = |path: &str| format!("https://localhost:{}{path}", replica.mtls_addr.port());
    let probe = json!({"query": "{ applications { totalCount } }"});
    let status = |r: reqwest::Response| r.status().as_u16();
    let before = client
        .post(on_replica("/director/graphql"))
        .json(&probe)
        .send()
        .await
        .unwrap();
    assert_eq!(status(before), 200, "the replica accepts the certificate");

    let (_, body) =
        mtls_connector(&app, &client, "mutation { revokeCertificate }", json!({})).await;
    assert_eq!(body["data"]["revokeCertificate"], true);
    let after = client
        .post(on_replica("/director/graphql"))
        .json(&probe)
        .send()
        .await
        .unwrap();
    assert_eq!(status(after), 401, "refused by the other replica at once");
    replica.stop().await;
}

/// The CA's CRL lists revoked certificates, signed by the CA.
async fn the_crl_lists_revoked_certificates(backend: Backend) {
    use x509_parser::prelude::FromDer;
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;
    let (client, _, pem) = paired_with_pem(&app, "Application", &app_id).await;
    let (_, _, kept) = paired_with_pem(&app, "Application", &app_id).await;
    let serial_of = |pem: &str| {
        let der = rustls_pki_types_der(pem);
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        cert.raw_serial().to_vec()
    };
    let fetch = || async {
        let response = app.get("/connector/crl").await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/pkix-crl");
        response.bytes().await.unwrap().to_vec()
    };
    let der = fetch().await;
    let (_, crl) = x509_parser::revocation_list::CertificateRevocationList::from_der(&der).unwrap();
    assert_eq!(crl.iter_revoked_certificates().count(), 0);

    mtls_connector(&app, &client, "mutation { revokeCertificate }", json!({})).await;
    let der = fetch().await;
    let (_, crl) = x509_parser::revocation_list::CertificateRevocationList::from_der(&der).unwrap();
    let listed: Vec<Vec<u8>> = crl
        .iter_revoked_certificates()
        .map(|r| r.raw_serial().to_vec())
        .collect();
    assert_eq!(listed, vec![serial_of(&pem)]);
    assert!(!listed.contains(&serial_of(&kept)));
    let ca_pem = std::fs::read_to_string(app.server().data_dir.join("ca.crt")).unwrap();
    let ca_der = rustls_pki_types_der(&ca_pem);
    let (_, ca) = x509_parser::parse_x509_certificate(&ca_der).unwrap();
    assert!(crl.verify_signature(ca.public_key()).is_ok());
}

/// A revoked certificate is refused at the TLS handshake within 5 seconds (new connections;
/// open ones are refused per request at once), without a restart; others are not.
async fn revoked_certificates_are_refused_at_the_handshake(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let app_id = app.register_app("app", json!({})).await;
    let (client, _, identity) = paired_with_identity(&app, "Application", &app_id).await;
    let (_, _, kept) = paired_with_identity(&app, "Application", &app_id).await;
    let ca = std::fs::read_to_string(app.server().data_dir.join("ca.crt")).unwrap();
    let url = format!(
        "https://localhost:{}/healthz",
        app.server().mtls_addr.port()
    );
    // A new connection each time: a pooled one was accepted before the revocation.
    let handshake = |identity: String| {
        let ca = ca.clone();
        let url = url.clone();
        async move {
            let client = reqwest::Client::builder()
                .tls_certs_only([reqwest::Certificate::from_pem(ca.as_bytes()).unwrap()])
                .identity(reqwest::Identity::from_pem(identity.as_bytes()).unwrap())
                .build()
                .unwrap();
            client
                .get(&url)
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
        }
    };
    assert!(handshake(identity.clone()).await);

    let (_, body) =
        mtls_connector(&app, &client, "mutation { revokeCertificate }", json!({})).await;
    assert_eq!(body["data"]["revokeCertificate"], true);
    let started = std::time::Instant::now();
    while handshake(identity.clone()).await {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "still accepted at the handshake after 5 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(
        handshake(kept).await,
        "other certificates are still accepted"
    );
}

crate::on_both_backends!(
    revoked_certificates_are_refused_at_the_handshake,
    the_crl_lists_revoked_certificates,
    unregistering_or_deleting_the_client_revokes,
    renewal_and_revocation_over_mtls,
    certificates_act_as_their_application_or_runtime,
    an_application_pairs_and_its_certificate_opens_the_mtls_listener,
    tokens_are_single_use_and_of_their_kind,
    expired_tokens_do_not_pair,
    fifty_parallel_configurations_with_one_token_one_wins,
);

/// What the CA decides about a CSR, whatever the CSR asks for: a CSR asking to be a CA gets a
/// plain client certificate (which cannot issue certificates the mTLS listener accepts), and
/// the key policy (ECDSA P-256, RSA 2048 to 4096 bits) holds end to end.
mod csr_policy {
    use rcgen::{
        BasicConstraints, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyUsagePurpose, PKCS_RSA_SHA256,
        PublicKeyData, RsaKeySize, SanType, SerialNumber, SignatureAlgorithm, SigningKey,
    };
    use x509_parser::num_bigint::BigUint;
    use x509_parser::prelude::FromDer;

    use super::*;

    /// `configuration` with a fresh pairing token of a new application: (the application's
    /// id, the subject to ask for, the CSR token).
    async fn configured(app: &TestApp) -> (String, String, String) {
        let app_id = app.register_app("app", json!({})).await;
        let token = pairing_token(app, &app_id).await;
        let (status, body) = connector(app, Some(&token), CONFIGURATION, json!({})).await;
        assert_eq!(status, 200, "{body}");
        let config = &body["data"]["configuration"];
        let subject = config["certificateSigningRequestInfo"]["subject"]
            .as_str()
            .unwrap()
            .to_owned();
        let csr_token = config["token"]["token"].as_str().unwrap().to_owned();
        (app_id, subject, csr_token)
    }

    /// A CSR (base64 of PEM) for the subject string `configuration` handed out, signed by
    /// `key`, with `tweak` applied to its parameters.
    fn csr_with(
        key: &impl SigningKey,
        subject: &str,
        tweak: impl FnOnce(&mut CertificateParams),
    ) -> String {
        let mut params = CertificateParams::default();
        params.distinguished_name = distinguished_name(subject);
        tweak(&mut params);
        let pem = params.serialize_request(key).unwrap().pem().unwrap();
        base64::engine::general_purpose::STANDARD.encode(pem)
    }

    fn distinguished_name(subject: &str) -> DistinguishedName {
        let mut dn = DistinguishedName::new();
        for part in subject.split(',') {
            let (name, value) = part.split_once('=').unwrap();
            let ty = match name {
                "O" => DnType::OrganizationName,
                "OU" => DnType::OrganizationalUnitName,
                "L" => DnType::LocalityName,
                "ST" => DnType::StateOrProvinceName,
                "C" => DnType::CountryName,
                "CN" => DnType::CommonName,
                other => panic!("unexpected attribute {other}"),
            };
            dn.push(ty, value);
        }
        dn
    }

    /// An HTTPS client for the mTLS listener presenting `identity_pem` (certificates, then
    /// the key).
    fn mtls_client(app: &TestApp, identity_pem: &str) -> reqwest::Client {
        let ca = std::fs::read(app.server().data_dir.join("ca.crt")).unwrap();
        reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
            .identity(reqwest::Identity::from_pem(identity_pem.as_bytes()).unwrap())
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .unwrap()
    }

    const PROBE: &str = "{ applications { data { id } } }";

    /// A CSR that asks to be a CA, to sign certificates and CRLs, to be a server and for names
    /// is signed for the expected subject, into a certificate that is none of these. A leaf
    /// certificate signed with its key, claiming its subject and even its serial (which the
    /// server would admit if the chain were accepted), is refused by the mTLS listener.
    async fn a_csr_asking_to_be_a_ca_gets_a_client_certificate_that_cannot_issue(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (app_id, subject, csr_token) = configured(&app).await;
        let client_id = subject.rsplit("CN=").next().unwrap().to_owned();
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let request = csr_with(&key, &subject, |p| {
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            p.key_usages = vec![
                KeyUsagePurpose::KeyCertSign,
                KeyUsagePurpose::CrlSign,
                KeyUsagePurpose::DigitalSignature,
            ];
            p.extended_key_usages = vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::Any,
            ];
            p.subject_alt_names = vec![
                SanType::DnsName("localhost".try_into().unwrap()),
                SanType::DnsName("evil.example.com".try_into().unwrap()),
                SanType::IpAddress("127.0.0.1".parse().unwrap()),
                SanType::URI("spiffe://evil/admin".try_into().unwrap()),
            ];
        });
        let (status, body) = connector(&app, Some(&csr_token), SIGN, json!({"csr": request})).await;
        assert_eq!(status, 200);
        assert!(body.get("errors").is_none(), "{body}");
        let issued_pem =
            decode(&body["data"]["signCertificateSigningRequest"]["clientCertificate"]);
        let der = rustls_pki_types_der(&issued_pem);
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();

        assert_eq!(cert.subject().to_string(), subject.replace(',', ", "));
        assert!(!cert.is_ca());
        if let Some(bc) = cert.basic_constraints().unwrap() {
            assert!(!bc.value.ca, "basicConstraints says CA");
            assert_eq!(bc.value.path_len_constraint, None);
        }
        let ku = cert.key_usage().unwrap().expect("a key usage").value;
        assert!(!ku.key_cert_sign() && !ku.crl_sign(), "{ku:?}");
        let eku = cert.extended_key_usage().unwrap().expect("an EKU").value;
        assert!(eku.client_auth, "{eku:?}");
        assert!(
            !eku.server_auth
                && !eku.any
                && !eku.code_signing
                && !eku.email_protection
                && !eku.time_stamping
                && !eku.ocsp_signing
                && eku.other.is_empty(),
            "only clientAuth: {eku:?}"
        );
        assert!(
            cert.subject_alternative_name().unwrap().is_none(),
            "no names from the CSR"
        );
        assert_eq!(cert.public_key().raw, key.subject_public_key_info());

        // The certificate itself is a good client certificate.
        let own = mtls_client(&app, &format!("{issued_pem}{}", key.serialize_pem()));
        let (status, body) = mtls_gql(&app, &own, &[], PROBE, json!({})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["data"]["applications"]["data"],
            json!([{"id": app_id}])
        );

        // Acting as an intermediate: a leaf with the same subject and serial, signed with the
        // issued certificate's key, presented with the issued certificate as its chain.
        let issuer = Issuer::from_ca_cert_pem(&issued_pem, &key).unwrap();
        let leaf_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = CertificateParams::default();
        params.distinguished_name = distinguished_name(&subject);
        params.serial_number = Some(SerialNumber::from_slice(cert.raw_serial()));
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        let leaf = params.signed_by(&leaf_key, &issuer).unwrap();
        let (_, parsed) = x509_parser::parse_x509_certificate(leaf.der()).unwrap();
        assert_eq!(parsed.raw_serial(), cert.raw_serial());
        assert!(
            parsed
                .subject()
                .to_string()
                .ends_with(&format!("CN={client_id}"))
        );
        let forged = mtls_client(
            &app,
            &format!("{}{issued_pem}{}", leaf.pem(), leaf_key.serialize_pem()),
        );
        let result = forged
            .post(format!(
                "https://localhost:{}/director/graphql",
                app.server().mtls_addr.port()
            ))
            .json(&json!({"query": PROBE}))
            .send()
            .await;
        match result {
            // Refused at the handshake (the expected way: the chain does not verify).
            Err(_) => {}
            Ok(response) => {
                let status = response.status().as_u16();
                let body = response.text().await.unwrap_or_default();
                assert_eq!(
                    status, 401,
                    "a certificate issued by a client is accepted: {body}"
                );
            }
        }
    }

    /// RSA end to end: 1024 and 8192 bits are refused with a clear message and leave the CSR
    /// token usable; 4096 bits, with that same token, pairs, and the certificate is a client
    /// of the certificate-secured Director.
    async fn rsa_4096_pairs_while_rsa_1024_and_8192_are_refused(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let (app_id, subject, csr_token) = configured(&app).await;

        // RSA 1024: aws-lc neither generates nor loads keys below 2048 bits, so this CSR is
        // signed by hand (PKCS #1 v1.5, SHA-256) with a fixed test key.
        let small = Rsa1024::new();
        let (status, body) = connector(
            &app,
            Some(&csr_token),
            SIGN,
            json!({"csr": csr_with(&small, &subject, |_| {})}),
        )
        .await;
        assert_eq!(status, 200);
        assert!(
            assert_error_code(&body, "INVALID_CSR")
                .starts_with("CSR: unsupported key: RSA with 1024 bits"),
            "{body}"
        );

        // RSA 8192: rcgen generates at most 4096 bits and generating 8192 takes close to a
        // minute, so the key is a fixed test key; aws-lc signs with it. The CSR is valid.
        let large = KeyPair::from_pem(RSA_8192_KEY).unwrap();
        let request = csr_with(&large, &subject, |_| {});
        let pem = decode(&json!(request));
        let der = rustls_pki_types_der(&pem);
        let (_, parsed) =
            x509_parser::certification_request::X509CertificationRequest::from_der(&der).unwrap();
        assert!(parsed.verify_signature().is_ok(), "a valid 8192-bit CSR");
        let (status, body) = connector(&app, Some(&csr_token), SIGN, json!({"csr": request})).await;
        assert_eq!(status, 200);
        assert!(
            assert_error_code(&body, "INVALID_CSR")
                .starts_with("CSR: unsupported key: RSA with 8192 bits"),
            "{body}"
        );

        // RSA 4096 with the same token.
        let key = tokio::task::spawn_blocking(|| {
            KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_4096).unwrap()
        })
        .await
        .unwrap();
        let (status, body) = connector(
            &app,
            Some(&csr_token),
            SIGN,
            json!({"csr": csr_with(&key, &subject, |_| {})}),
        )
        .await;
        assert_eq!(status, 200);
        assert!(body.get("errors").is_none(), "{body}");
        let cert_pem = decode(&body["data"]["signCertificateSigningRequest"]["clientCertificate"]);
        let der = rustls_pki_types_der(&cert_pem);
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        assert_eq!(cert.public_key().raw, key.subject_public_key_info());
        assert_eq!(cert.public_key().parsed().unwrap().key_size(), 4096);
        assert_eq!(cert.subject().to_string(), subject.replace(',', ", "));

        // Now the token is used up.
        let (_, again) = connector(
            &app,
            Some(&csr_token),
            SIGN,
            json!({"csr": csr_with(&key, &subject, |_| {})}),
        )
        .await;
        assert!(
            assert_error_code(&again, "INVALID_TOKEN").contains("token is invalid"),
            "{again}"
        );

        // The RSA certificate calls the certificate-secured Director as its application.
        let client = mtls_client(&app, &format!("{cert_pem}{}", key.serialize_pem()));
        let (status, body) = mtls_gql(&app, &client, &[], PROBE, json!({})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["data"]["applications"]["data"],
            json!([{"id": app_id}])
        );
    }

    crate::on_both_backends!(
        a_csr_asking_to_be_a_ca_gets_a_client_certificate_that_cannot_issue,
        rsa_4096_pairs_while_rsa_1024_and_8192_are_refused,
    );

    /// A fixed 1024-bit RSA key for tests (modulus and private exponent, hex; e = 65537),
    /// signing PKCS #1 v1.5 with SHA-256 by plain modular exponentiation.
    struct Rsa1024 {
        n: BigUint,
        d: BigUint,
        /// `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`
        public: Vec<u8>,
    }

    const RSA_1024_N: &str = "\
    c0f7fcd944eb57dec31fcd5bb887f98ac244c795abe248ddeb56e928e1bb8b46\
    76a3a934f41ef316dd06d7c3b77367a7a1a9ea7bdb3d580e3e2a7f93f00a38fd\
    927c569cd8d3bd4d6541b49fc9a199749b8412270b9d67a4fdc6687c9d23a31b\
    34dbb50cedfb4853f958714e630f9ff89b1085c1751a0db2306b042e6d965a59";
    const RSA_1024_D: &str = "\
    665b64a0af0112f413966becca1e3e4ccf2d829caeb6f225dcee95f0dc8409a5\
    8fcad23747829f393276adbea031b3fae432e83158a2da717ba23957f48cc79b\
    350bb0146706bbfb20e3bf0dabe355d6c73f9ace8205b2a1ab2bf92e4df10a81\
    1de1685e9fd911f67148ba2382927da06c3757e939cfbdac79770ebbc1e0730d";

    impl Rsa1024 {
        fn new() -> Self {
            let n = BigUint::parse_bytes(RSA_1024_N.as_bytes(), 16).unwrap();
            let d = BigUint::parse_bytes(RSA_1024_D.as_bytes(), 16).unwrap();
            assert_eq!(n.bits(), 1024);
            let integer = |bytes: &[u8]| {
                let mut content = bytes.to_vec();
                if content[0] & 0x80 != 0 {
                    content.insert(0, 0);
                }
                der_tlv(0x02, &content)
            };
            let mut fields = integer(&n.to_bytes_be());
            fields.extend(integer(&[0x01, 0x00, 0x01]));
            let public = der_tlv(0x30, &fields);
            // A key that is not a pair would make the refusal below meaningless.
            let probe = BigUint::from(0x1234_5678_u32);
            assert_eq!(
                probe.modpow(&d, &n).modpow(&BigUint::from(65537_u32), &n),
                probe
            );
            Rsa1024 { n, d, public }
        }
    }

    /// A DER tag-length-value (the lengths here stay below 65536).
    fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        match content.len() {
            len @ 0..0x80 => out.push(len as u8),
            len @ 0x80..0x100 => out.extend([0x81, len as u8]),
            len => out.extend([0x82, (len >> 8) as u8, len as u8]),
        }
        out.extend_from_slice(content);
        out
    }

    impl PublicKeyData for Rsa1024 {
        fn der_bytes(&self) -> &[u8] {
            &self.public
        }

        fn algorithm(&self) -> &'static SignatureAlgorithm {
            &PKCS_RSA_SHA256
        }
    }

    impl SigningKey for Rsa1024 {
        fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
            // SHA-256 from the workspace's one crypto provider (through rustls).
            let sha256 = rustls::crypto::aws_lc_rs::cipher_suite::TLS13_AES_128_GCM_SHA256
                .tls13()
                .unwrap()
                .common
                .hash_provider;
            assert_eq!(
                sha256.algorithm(),
                rustls::crypto::hash::HashAlgorithm::SHA256
            );
            // EMSA-PKCS1-v1_5: 00 01 FF… 00 DigestInfo(SHA-256, hash).
            const DIGEST_INFO: [u8; 19] = [
                0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x01, 0x05, 0x00, 0x04, 0x20,
            ];
            let k = 128;
            let mut em = vec![0x00, 0x01];
            em.resize(k - DIGEST_INFO.len() - 32 - 1, 0xff);
            em.push(0x00);
            em.extend_from_slice(&DIGEST_INFO);
            em.extend_from_slice(sha256.hash(msg).as_ref());
            let signature = BigUint::from_bytes_be(&em)
                .modpow(&self.d, &self.n)
                .to_bytes_be();
            let mut out = vec![0; k - signature.len()];
            out.extend(signature);
            Ok(out)
        }
    }

    /// A fixed 8192-bit RSA key for tests only (`openssl genpkey -algorithm RSA -pkeyopt
    /// rsa_keygen_bits:8192`).
    const RSA_8192_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIISQQIBADANBgkqhkiG9w0BAQEFAASCEiswghInAgEAAoIEAQDg8lB+lHh9wahG
3J5ujozoSp1jh+SeS5ypjUhHBBDkHjPOegLq0UDYN03g40ptdTupf9sydnKsDIHj
q4KuzDYLn+NcrQXjvGejzxmpVBaZD3dBpEZDdBRp0xNzrIFx7SgevVz2r8ml8E3c
x7noha+xU1Ydt9KnGVFylPelyo2iKlkobEIMTkLCf/TNmXBZb5BDGADHSjAvoBsW
u7N76CV9H6jt1ZTMT3Puf5/CvYcBuBwXQg9LLCcfajvc+HZE5SMYfc5QjvSfsTo7
vdERLxM6q0c8JZUnazupE7+PtEGnSaODv1EWTdK5yzlUjx7QHsnEUWeFlZ7ZFFkT
a4xtenkJwXmh4GCaSu+bPuczuezo/H0tnqAaqmjZfafljSEFtCVl4NFc4TqmLUK2
ZhU0lhrUhbvgHF7/fSX97bT4zVJ5EJimSdLYHY7dWejMQdYSAvMjN209vnywDYHt
MNrn898Cp4vNE1DxLck6xuOnotn3xo+CA/dfGHcTOX7Jgc3P7/mh0KkLECxuan4d
KdAgIN1YyCVN3c8WcKPayZe1hDbNe25fsRYgOKSBPil7LKmyZpo+YyK6QORKMr+Y
83KqDHWc/nhdiSNN57PDfVrGkMZn5oTba9wBD08f0DlmF9sUsSq0eOvAueP00qhC
eBTVRk1NXtE9CR8csWsTOsuJ664nQXvC01bZ/l+PE+5rCCGwjTPW+N954C2mIXBV
t9z9NE3NTZFl+hNFrR1Wm730Y9fr1PnZftRaEXC81etN2rPXc1m4BPl/DswpJhqu
bgMDGjpNahRmygFcNlQc89K72EQaxqTKeysp1v8sWx9Kl4v+iL+oeYl5DFJ62Ec8
X+J2FvTdg3DpREKgGzVTvjqBFGSWa2AF9Pf0w7kGLJOOWQT+N0hMOf9i6jxiBHyk
p1FpVCXmy8QfRMjlj4AOMcAPBCZfqJgoiuVV1qh11vrIzuw1ULp9u+4r6moVSPNM
H1vZt2xjy+JWK8yHwRvRtSMsyy2XqheHIgMu7bMqbQ0/Q4CMB6eZS+WKq4DwlIFq
dBuKH/sKjrbUCOoT6VVB/cENXrXxRV7hdewFLgxf6PSuYECPGTI0ZQ4XeUljz34H
e592nCUme8vjS+R2r5uNNuG0S8V+bvcT469Ycy8z5Ka4JEx6lCmrnFJ6D3UbXl+2
3uIIQ1ZeqZeBLBrUYClQY5vq8J3BFrFIERjeOoF3NmEtV5H4mTUwAqU8F2TlaIbZ
Q/i3Z/2uDz/mI5rI2UkZ317pPhOmDs8I4C7N8b/DQNtryPO0zWHS3gmFwYZC7lwL
CteIbp4CfpghiVcCnlRhj9on4lJw9PlbyU+pdHqDrhwzslClrNSCDajPUa30pivd
y7i+P6+5AgMBAAECggP/DvUlKuh6SShAJV7Xnna5OVvrVXLz0jW06XoM/Qj8iujU
TuCrLhT2KWpsvXYCjmegIXDZM/Ba6dulO8n3bG3tnm+JHVTYWwxU1+bnsNTsZe+n
JyTLEutZcCRY8mmXjwGY9P3z8Iqc73GcpIvR4k0BZ5TLwjnCk8KhCr10XResXvNm
S8P+WoGrKPJNlOnqq6qt/oJOc6wvk7VRurcR7Jnab/Gwz8KvnHHx4J5htYt8ACcV
K3a+3wxn02NOdNGcUXh2tDupU6ZcY58ZoxmB6nnfmRiQWGmy+319LnVWEzJXzirL
unzJ4becf+EgoyeEDbtyus+AXlvI9D2agCpDsgPs/NYsRijCcjo37rfdJ9Nd3Aju
BCBfYiC4hqZ9FQaBvRO3rrdKHV0id8dnxVBtJC8c08qzof77I5lAORyD2qpYHTS9
Tt0CiwrgeuMoV7J9YNgi0rp54GEtI4fCZ5SvVsjDegbM+VvJoyicm8Yd3TB8zeuO
2YTp/3o+E6ZE5RWrE//bNqdSCp6lyg7iAncoNvqypfSpEf6cWApflQ+vr4ryX8Mh
AkeP2c7TIX8dwwGMjPkLa4NO9JOWPXAWzWwc6CYmIFAojeEiCUwe5/JQ1u7scQfd
NnQeVa3jSWL9s+lK6A+Ctf1rr7xPiTgEYPK+Es2IeUVO9fRlUZSR1cb1/AFv6mZh
0nhY5bJ+e/ooSBChR9tR4SZ6slEHwcvgqdlP2OsUkCb66tbreEo3dL1q4sqDEW8Z
AgyyYf/iSBRiAuTMqB14bayvrITIuu0cbhxon3tl4MvlPiCJLfPMIpVHrYG4ZziW
E1SP1pUdrlSqvYCBkV6PXGN+PYfXi8MX4bdCOKaBVgUObFvFzMTvfyp/Fdugy7m0
lAI9vXEuysq37omUwXBfwmscOTZ8Xc64O2irSN/hcK3PgILqP/Ci3R1iClRPAjEA
GSOUzP+8C2Gv0vSXZNzjmgs0y0PeUfwd40W1M543x3RDlqG0SfKrCmTbaC1x686X
n7ENlUlcm3ALvINfMR8rZPkHE3D8N6GyXX5XvhLzo9K3Ri4b+l0/ZtOu5Mlkkkhe
FJgK0dPd3V4Z6/yX/gZYU5xyHYs8mXxNrptX8hzACKJDDAHH1oblomCPV2NQQ/ms
+crIjIdl86yRxM/FEuOa10ve32WZo9YzKOEMh/FfwJmMP++ihblVbXu6c2/qPGHF
iOqagl5pAI7YTLujLyLKSb/bUafhis7T/oW/Vv8sCNV7qviWrTNRPesn0nIzq665
dVPecZUSZC8Th+DlbUbNRwa2rCvov3HDsZhOObCnlxc5uuafLR+1LE4PjWcdMfU5
Uu5AgkCumR5Ga1ODdbIsSzDhCa9MQGmjQm3XQq4NAoICAQD5vaNgrpItEFuZPP2m
0AkJN6Z9wH0i1gyTXDjJqNvUBal3eaJy/2hk1A+Qtr75MH6SNnAeDldMm3mGWeXZ
E3n39uTcqy/R8OPjtkY1hXK1bjLkghTsfG9fyeHrbsvKvv16WQdkTS90DwmR3BP9
geuW18nWYLaYHBzEna5CvpbQk85bQ1LnhoS4EcA9GuTI891f9LPRkfPx9Rtc5Arr
h2ji2es71Y11CKMJAzogmzKj/oJ+1CWazF2oXKuBAyz7wttFffhIWrAkn+UoltLP
qChAiagqngJv3ll3MWkauEIBCjcltzVAt4K0Rfks5PlHzfF8Gn+0TV/nbxrVe0ya
sGyqYmZD+nBKQtURNh8duXe5+WzyRgi0c0KamQZTJL99lNDTQ6SuH+TgzkWBLrhW
EgODLXeLFZhRopmt7R3htzvD8cdQ9J4QQ8I76NM3vj7nUOHXvVr90Rb5WdYBcxXZ
s+AXOHxgjDoU+MU840+6Qrx0SkI3tUzGLRzwyIrvUO8K7i1D/F3bMu+/rlatKoFB
J6yYQZR9dYNwqOGbAFUTB0oZ6a1heDZB2mFFrQNt8PALCqzgX6SRE5qYmnuNzMJh
hAaomssHkqIYye/wWZQ+MXyBfeFJ4tLJ/hhWy7XiCgf5svQNCQc/0JSmz27+bU0C
PjKeiR9bF16WtM97swXwllhejQKCAgEA5pWYDVryGpL54H/Nmu8SNL3ZHqTfzTXO
eySS7YQm+pKVcAhYtUFn2sAKJeFM22GTe/3PIqJSq1pN9YeNEAJwdqHkoE2K2GZQ
OSE/wnQE2rax4FnxfaLGRr+BPJWjtde2LzY15dKfWKtHiPJL5k1Ew5m/OYdmmsyX
PMiHLoEn+L45RE4ESKd7tRH7W7ZN5IRJn+cR9zzZ00QIgkFJdneHvxZpVRI+oT5p
YqEz47n+Nb2xKfakszp6TtqGS8CHwAUME910OsSgAJ6Jg+jA4wCwAtwi9NGrbioa
eOSrPyFX3l7a1qPzK5lR2Yi/5MRlCu08rY32Hv/+DDgDspWedLfQV4uSYZmVjShm
1yFoFJVphUh4W4e0CN46v4wpFHXkZTf6a37z98MDYLrj4J7Nnu11x9HtLONF9/1w
sTa3lq09/UISILdeDTeHvvgbBKqdgfq5aeaRyMShBUPy+5NoGZV9F4jGoc0ZzPQJ
8VIzfpIKMNTiAVUr6vtqTHd1QpxNap/2pORi49758H/ePi7IOMVLVUYEEuxUG6P7
Xu36pMS2JkmXQ+oAu4oUTW92mvrgpMII756Jv+2om2wEVlsBhF62S7fBHQmzN//P
aUY0pO29klJw6Qkz0puo45ZYVS3IHzdINPyx4ZcuTZMFNdHcPBcVGGQ/cZV+noeG
UqmY3ZKSUN0CggIBAImWqs33H11oZ66S5YPjlTbYzAb353kryB3fbwHa39F9lRHX
l2IXyGHUWwb1R11uFC1lhHtqlzoDZf5YxMLFcirkgM36Ggxl1Id9wkx2Su4d2jf+
Wpy3KXzycl8M2YXHl0qyhdoClCQyrKkJQJIn461lETPkcHR4+HhyDrGC4v/ijovF
GYWonLH0RZ7klCsJ/2qAHBlXebhRu1N/52w/W8+vE2QRkS9rJLcwafPQzSOAclCB
fH4+HVNGSs52+29wuPEeJ41lOSnUVaH5BgeVsydrL5TbHKiZLVz3gdpQrTx5bkx/
FP2knIPJETBkrdmbYnFm//hLsIyGr5fxqBCJJjTwpTrKXNbs3wnucVIk/gsdmaIY
Z29TGNyndc6UrlL3i9z4pV+w/p3DxpMXNENnBTxd7kBYE2TWWihyPEZAdtLK/25g
djyrt/TdnpBVZb521xXOorS3XxrdHYQK7XzVFp50ZkGiv9USAUg8S45oef7vcm/S
mIuOCyW0tqaGRkwVUCbmgKbk9yT5XZNlmXRV8UaoyrAb7+A/ipukoTosh+yiyvyq
B+pb7789RGhrlzPeG8Q5rSaoUEHGyk8jAexLmoeFUFnJtThG+MPH9l4VUWzd9yKH
rm3OaYZYEMqJkD9HEiGkWbQUq/EC0zmk6gpUTfr9vKKoy1noH28dACa+Dc15AoIC
AEC8GL8PHE8nmi1T1AY+Pg8+iVkYEpjLFVfvEazK4CKSyo90WGsynJSGO5Mc6HXi
tAQoYmGnzqu6o45d6tVmyeoUU1pJysQsHTOcyQivh7lbdx60QZ7y9tVf6El4/UgM
8mHYx1LpScEb/O5Oj85tPPPpEw10nPKyo3b2GTWOHwmvZeZuPLelBY71KGs8CCwy
k3Tn61xM4h50yCrBZ31x21NjWFkA0UJ1giKlfSreyaaOxdExJFYJAdNneDKGL9ZR
1G0zS/E/yGfEGnlE+/n+9GspIEs5HfbErT/pesYzdza/zJJb3uYLmjYHNVBlbrSd
m95hr4pOdiU6CJe3d4/vFvetAICUHK9Pe2fEQjMdK0225ctUks+2jCnAkLvkySU9
jPlm39lcD3O1pEooazPGGL3rirmCaN9RcLTf1rTfmDqktPAoaqgtQdf0UamCuMuH
90vq5lzGDyqqQ+orHRupoz/bL2C3cxneHXh5imlrWJ8S9QxIvBaxVMt48husQ/O+
SwFJ+RVeQS8qxtsQSTfe8+JR0Mz7OjW0WNry1t4xN64SFPyFEoWUI1UGCPdDnZPD
wbx79tJCR4ay0Zjo3ckqyeUCBp4/XehH0hQNGLSA5irRKE/UPI9REh4q1Eu9maRh
4cy2cL4TsnUm5FySuVDJbiu14TXjMXQSOjy0zmzOPHOlAoICAHsH+1m6ch2ECXQ3
GmYvihAEJrWZtrZcGoBzJc+3ZMYO7FBHaHr9YFGkEXh+LJE1KdlhHm+HGd1ZEDZ2
ZU5rP4UrsxGLwnbiMZgvYPLQg2yf8x+Pqk8BvwqKq/21pOdRInkNXnoWwMOS1lvV
Uzabk6GZ/0ADht4CZKSYP+BggyAPNNNxPMuq6K4fxiAWxfPL02S1tRG8qf1l9I2k
RYvuhBJApUIdrw+aVdnOSQ67uqzD6fW4/e6KgcWUGmoJmG+j9URtzv/crdJcIWl5
qo9K4wQavGtkqCvueNddbqEJ/SqqfCBBFU3ImkJ54TNyeMdM3B/63bV0A9RYuj7w
yL9I/bzjNKnMebAAsxDisRVoGIL3HrHkkmT8MVSvwwV8rH/xlHTmkEAjyVj1TUuz
y+6ugmyIG0EM7QIBuj4nybhLaYUVrbqkr/GTCjM0RUws+61Tb71xWCs7skz7Pb/j
COOYI5x1rmb/LKOBJOGmAX9RBxHcrQamYLQPyasJVLD+oI8iCy81hV1MNIOHFqXy
m++dwogNRCUtyeFHP4SFHcuDwOmnIRRY/Ld8PFtxV1JeZiQTKt1UFLgq+ZKYeexh
sH12UiOmD1gvEMY46S3wPxlqtiG1G8AWEQMROiuoH7mJN4pVIEZgYrkgsEFFBmQo
lAIYswAgGexmmJubMsjOmmXE0aPb
-----END PRIVATE KEY-----
";
}
