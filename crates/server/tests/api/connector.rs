//! Pairing through the token-secured Connector over real HTTPS: a one-time token from the
//! Director, `configuration`, a CSR signed into a certificate that the mTLS listener accepts;
//! and the refusals: reused, expired, missing or wrong-kind tokens, wrong subjects, bad CSRs.

use base64::Engine;
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, PKCS_ECDSA_P256_SHA256};
use serde_json::{Value, json};
use sextant_domain::{OneTimeToken, OneTimeTokenKind, TenantId};

use crate::helpers::{Backend, TestApp, error_of};

async fn connector(app: &TestApp, token: Option<&str>, query: &str, vars: Value) -> (u16, Value) {
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

const CONFIGURATION: &str = "{ configuration { token { token } certificateSigningRequestInfo { subject keyAlgorithm } managementPlaneInfo { directorURL certificateSecuredConnectorURL } } }";
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
    assert!(error_of(&again).contains("token is invalid"), "{again}");

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
    assert!(error_of(&again).contains("token is invalid"), "{again}");

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

fn rustls_pki_types_der(pem: &str) -> Vec<u8> {
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
    assert!(error_of(&body).contains("token is invalid"), "{body}");

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
    assert!(error_of(&body).contains("token is invalid"), "{body}");
    let (_, body) = connector(&app, Some(&token), CONFIGURATION, json!({})).await;
    let config = body["data"]["configuration"].clone();
    let csr_token = config["token"]["token"].as_str().unwrap().to_owned();
    let subject = config["certificateSigningRequestInfo"]["subject"]
        .as_str()
        .unwrap()
        .to_owned();

    // A CSR token is no pairing token (and survives the attempt).
    let (_, body) = connector(&app, Some(&csr_token), CONFIGURATION, json!({})).await;
    assert!(error_of(&body).contains("token is invalid"), "{body}");

    // Refused CSRs leave the CSR token usable: wrong CN, other subject fields, garbage,
    // a bad signature.
    let (_, body) = connector(
        &app,
        Some(&csr_token),
        SIGN,
        json!({"csr": csr(&key, &subject, Some("someone-else"))}),
    )
    .await;
    assert_eq!(error_of(&body), "CSR: Invalid common name provided.");
    let other_org = subject.replace("O=Org", "O=Evil");
    let (_, body) = connector(
        &app,
        Some(&csr_token),
        SIGN,
        json!({"csr": csr(&key, &other_org, None)}),
    )
    .await;
    assert!(
        error_of(&body).starts_with("CSR: invalid subject"),
        "{body}"
    );
    let (_, body) = connector(&app, Some(&csr_token), SIGN, json!({"csr": "not base64!"})).await;
    assert!(error_of(&body).starts_with("CSR:"), "{body}");
    let good = csr(&key, &subject, None);
    let mut pem = decode(&json!(good));
    let at = pem.len() / 2;
    let flipped = if &pem[at..at + 1] == "A" { "B" } else { "A" };
    pem.replace_range(at..at + 1, flipped);
    let tampered = base64::engine::general_purpose::STANDARD.encode(pem);
    let (_, body) = connector(&app, Some(&csr_token), SIGN, json!({"csr": tampered})).await;
    assert!(error_of(&body).starts_with("CSR:"), "{body}");
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
    assert!(error_of(&body).contains("client certificate"), "{body}");
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
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let (_, body) = connector(&app, Some(expired), CONFIGURATION, json!({})).await;
    assert!(error_of(&body).contains("token is invalid"), "{body}");
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
            assert!(error_of(&body).contains("token is invalid"), "{body}");
        }
    }
    assert_eq!(wins, 1);
}

/// Pairs the application or runtime and returns an HTTPS client holding its certificate, and
/// its client id.
async fn paired(app: &TestApp, kind: &str, id: &str) -> (reqwest::Client, String) {
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
async fn paired_full(
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

async fn mtls_gql(
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
    assert_eq!(error_of(&body), "CSR: Invalid common name provided.");
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

    // Revoking the old certificate: it is refused from the next request on; the renewed one
    // keeps working.
    let (_, body) =
        mtls_connector(&app, &client, "mutation { revokeCertificate }", json!({})).await;
    assert_eq!(body["data"]["revokeCertificate"], true, "{body}");
    let probe = "{ applications { totalCount } }";
    assert_eq!(mtls_gql(&app, &client, &[], probe, json!({})).await.0, 401);
    let (status, body) = mtls_connector(&app, &client, CONFIGURATION, json!({})).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(mtls_gql(&app, &renewed, &[], probe, json!({})).await.0, 200);
    let (status, _) = mtls_connector(&app, &renewed, CONFIGURATION, json!({})).await;
    assert_eq!(status, 200);
}

async fn is_revoked(app: &TestApp, cert_pem: &str) -> bool {
    let der = rustls_pki_types_der(cert_pem);
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    let mut tx = app.server().store.read().await.unwrap();
    tx.issued_certificate(cert.raw_serial())
        .await
        .unwrap()
        .unwrap()
        .1
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
    assert_eq!(
        mtls_gql(&app, &other_client, &[], probe, json!({})).await.0,
        401
    );
    assert_eq!(mtls_gql(&app, &client, &[], probe, json!({})).await.0, 200);

    app.gql(
        "mutation($id: ID!) { unregisterApplication(id: $id) { id } }",
        json!({"id": app_id}),
    )
    .await;
    assert!(is_revoked(&app, &pem).await);
    assert_eq!(mtls_gql(&app, &client, &[], probe, json!({})).await.0, 401);

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
    let dir = app.db.dir.join("replica");
    std::fs::create_dir_all(&dir).unwrap();
    for file in std::fs::read_dir(&app.server().data_dir).unwrap() {
        let file = file.unwrap();
        if file.file_type().unwrap().is_file() {
            std::fs::copy(file.path(), dir.join(file.file_name())).unwrap();
        }
    }
    let replica = sextant_server::start(sextant_server::ServerConfig {
        data_dir: dir,
        database_url: Some(app.db.url.clone()),
        listen: "127.0.0.1:0".parse().unwrap(),
        mtls_listen: "127.0.0.1:0".parse().unwrap(),
        public_url: None,
        fetch_allow_private: true,
        token_lifetimes: sextant_server::TokenLifetimes::default(),
        certificate_validity: sextant_server::DEFAULT_CERTIFICATE_VALIDITY,
    })
    .await
    .unwrap();
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
