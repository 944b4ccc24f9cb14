//! The Connector's GraphQL schema (Compass's): `configuration`,
//! `signCertificateSigningRequest` and `revokeCertificate`.

use std::sync::Arc;
use std::time::Duration;

use async_graphql::{Context, EmptySubscription, Object, Schema, SimpleObject};
use base64::Engine;
use sextant_domain::{IssuedCertificateRecord, OneTimeToken, OneTimeTokenKind};
use sextant_pki::{CertificateAuthority, ClientSubject};
use sextant_store::Store;

use crate::error::{ConnectorError, to_graphql};
use crate::identity::Caller;

/// The Connector's executable schema.
pub type ConnectorSchema = Schema<Query, Mutation, EmptySubscription>;

/// What the Connector needs to know.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The certificate-secured Director (`managementPlaneInfo.directorURL`).
    pub director_url: String,
    /// The certificate-secured Connector (`managementPlaneInfo.certificateSecuredConnectorURL`).
    pub certificate_secured_connector_url: String,
    /// How long the CSR token `configuration` hands out is valid.
    pub csr_token_ttl: Duration,
    /// How long an issued client certificate is valid.
    pub certificate_validity: Duration,
    /// The subject attributes every client certificate gets besides its CN.
    pub subject: SubjectTemplate,
    /// The CA certificates (PEM) a client should trust, handed out as `caCertificate`: the
    /// signing CA, followed during a CA rotation by the previous one (which still issues the
    /// listeners' certificate until it is retired).
    pub trusted_cas_pem: String,
    /// What one request may cost.
    pub limits: sextant_graphql_cost::Limits,
}

/// O, OU, L, ST and C of client certificates (Compass's chart values by default).
#[derive(Clone, Debug)]
pub struct SubjectTemplate {
    pub organization: String,
    pub organizational_unit: String,
    pub locality: String,
    pub province: String,
    pub country: String,
}

impl Default for SubjectTemplate {
    fn default() -> Self {
        SubjectTemplate {
            organization: "Org".into(),
            organizational_unit: "OrgUnit".into(),
            locality: "locality".into(),
            province: "province".into(),
            country: "DE".into(),
        }
    }
}

impl SubjectTemplate {
    fn for_client(&self, client_id: uuid::Uuid) -> ClientSubject {
        ClientSubject {
            common_name: client_id.to_string(),
            organization: self.organization.clone(),
            organizational_unit: self.organizational_unit.clone(),
            locality: self.locality.clone(),
            province: self.province.clone(),
            country: self.country.clone(),
        }
    }
}

/// The key algorithm `configuration` advertises: clients should make P-256 keys (RSA 2048 to
/// 4096 is accepted too).
pub const KEY_ALGORITHM: &str = "ecdsa-p256";

fn builder(
    limits: sextant_graphql_cost::Limits,
) -> async_graphql::SchemaBuilder<Query, Mutation, EmptySubscription> {
    Schema::build(Query, Mutation, EmptySubscription)
        .extension(sextant_graphql_cost::Cost(limits))
        .limit_depth(6)
}

/// Builds the schema.
pub fn schema(
    store: Arc<dyn Store>,
    ca: Arc<CertificateAuthority>,
    settings: Settings,
) -> ConnectorSchema {
    builder(settings.limits)
        .data(store)
        .data(ca)
        .data(settings)
        .finish()
}

/// The SDL, as `sextant schema connector` prints it.
pub fn sdl() -> String {
    builder(sextant_graphql_cost::Limits::DEFAULT)
        .finish()
        .sdl()
}

/// Attaches the caller to a request.
pub fn prepare(request: async_graphql::Request, caller: Caller) -> async_graphql::Request {
    request.data(caller)
}

fn now_micros() -> time::OffsetDateTime {
    let now = time::OffsetDateTime::now_utc();
    now.replace_nanosecond(now.nanosecond() / 1_000 * 1_000)
        .unwrap_or(now)
}

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[derive(SimpleObject)]
pub struct Token {
    pub token: String,
}

#[derive(SimpleObject)]
pub struct CertificationResult {
    /// The client certificate followed by the CA certificate, PEM, base64.
    pub certificate_chain: String,
    /// The CA certificate, PEM, base64.
    pub ca_certificate: String,
    /// The client certificate, PEM, base64.
    pub client_certificate: String,
}

#[derive(SimpleObject)]
pub struct ManagementPlaneInfo {
    #[graphql(name = "directorURL")]
    pub director_url: Option<String>,
    #[graphql(name = "certificateSecuredConnectorURL")]
    pub certificate_secured_connector_url: Option<String>,
}

#[derive(SimpleObject)]
pub struct CertificateSigningRequestInfo {
    pub subject: String,
    pub key_algorithm: String,
}

#[derive(SimpleObject)]
pub struct Configuration {
    pub token: Option<Token>,
    pub certificate_signing_request_info: Option<CertificateSigningRequestInfo>,
    pub management_plane_info: Option<ManagementPlaneInfo>,
}

pub struct Query;

#[Object]
impl Query {
    /// Uses up a pairing token and answers a CSR token, the subject to request and where the
    /// certificate-secured APIs are.
    async fn configuration(&self, ctx: &Context<'_>) -> async_graphql::Result<Configuration> {
        let store = ctx.data::<Arc<dyn Store>>()?;
        let settings = ctx.data::<Settings>()?;
        let caller = ctx.data::<Caller>()?;
        configuration(store.as_ref(), settings, caller)
            .await
            .map_err(to_graphql)
    }
}

async fn configuration(
    store: &dyn Store,
    settings: &Settings,
    caller: &Caller,
) -> Result<Configuration, ConnectorError> {
    let sextant_auth::NewSecret {
        secret: csr_token,
        hash: csr_hash,
    } = sextant_auth::new_one_time_token().map_err(ConnectorError::internal)?;
    let now = now_micros();
    let ttl = time::Duration::try_from(settings.csr_token_ttl).map_err(ConnectorError::internal)?;
    let mut tx = store.write().await?;
    // A pairing token is used up; a certificate (renewal) just asks again, and the CSR
    // token remembers it, so what the token buys is revoked with it.
    let (client_id, tenant, parent_serial) = match caller {
        Caller::Token(hash) => {
            let pairing = tx
                .redeem_one_time_token(
                    hash,
                    &[OneTimeTokenKind::Application, OneTimeTokenKind::Runtime],
                    now,
                )
                .await?
                .ok_or(ConnectorError::InvalidToken)?;
            // Whoever handed the token out sees that it was used, and when.
            tx.record_token_used(pairing.client_id, now).await?;
            (pairing.client_id, pairing.tenant, None)
        }
        Caller::Certificate {
            client_id,
            tenant,
            serial,
        } => (*client_id, *tenant, Some(serial.clone())),
    };
    tx.insert_one_time_token(&OneTimeToken {
        hash: csr_hash,
        kind: OneTimeTokenKind::Csr,
        client_id,
        tenant,
        created_at: now,
        expires_at: now + ttl,
        parent_serial,
    })
    .await
    .map_err(|_| ConnectorError::InvalidToken)?;
    tx.commit().await?;
    Ok(Configuration {
        token: Some(Token { token: csr_token }),
        certificate_signing_request_info: Some(CertificateSigningRequestInfo {
            subject: settings
                .subject
                .for_client(client_id.into_untyped())
                .to_compass_string(),
            key_algorithm: KEY_ALGORITHM.to_owned(),
        }),
        management_plane_info: Some(ManagementPlaneInfo {
            director_url: Some(settings.director_url.clone()),
            certificate_secured_connector_url: Some(
                settings.certificate_secured_connector_url.clone(),
            ),
        }),
    })
}

pub struct Mutation;

#[Object]
impl Mutation {
    /// Signs a CSR (base64 of a PEM `CERTIFICATE REQUEST`) with a CSR token. The token is used
    /// up only if a certificate is issued.
    async fn sign_certificate_signing_request(
        &self,
        ctx: &Context<'_>,
        csr: String,
    ) -> async_graphql::Result<CertificationResult> {
        let store = ctx.data::<Arc<dyn Store>>()?;
        let ca = ctx.data::<Arc<CertificateAuthority>>()?;
        let settings = ctx.data::<Settings>()?;
        let caller = ctx.data::<Caller>()?;
        sign(store.as_ref(), ca, settings, caller, &csr)
            .await
            .map_err(to_graphql)
    }

    /// Revokes the calling certificate and every certificate renewed from it
    /// (certificate-secured Connector only). From the next request on, every server sharing
    /// the database refuses them.
    async fn revoke_certificate(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        let caller = ctx.data::<Caller>()?;
        let store = ctx.data::<Arc<dyn Store>>()?;
        revoke(store.as_ref(), caller).await.map_err(to_graphql)
    }
}

async fn sign(
    store: &dyn Store,
    ca: &CertificateAuthority,
    settings: &Settings,
    caller: &Caller,
    csr: &str,
) -> Result<CertificationResult, ConnectorError> {
    if csr.len() > 2 * sextant_pki::MAX_CSR_PEM_BYTES {
        return Err(ConnectorError::InvalidCsr("CSR: it is too large".into()));
    }
    let pem = base64::engine::general_purpose::STANDARD
        .decode(csr.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| {
            ConnectorError::InvalidCsr("CSR: not base64 of a PEM CERTIFICATE REQUEST".into())
        })?;
    let now = now_micros();
    let mut tx = store.write().await?;
    // A CSR token is used up; a certificate renews itself (same subject). A renewal
    // records the certificate it renews, so revoking that one revokes this one.
    let (client_id, tenant, parent_serial) = match caller {
        Caller::Token(hash) => {
            let token = tx
                .redeem_one_time_token(hash, &[OneTimeTokenKind::Csr], now)
                .await?
                .ok_or(ConnectorError::InvalidToken)?;
            (token.client_id, token.tenant, token.parent_serial)
        }
        Caller::Certificate {
            client_id,
            tenant,
            serial,
        } => (*client_id, *tenant, Some(serial.clone())),
    };
    let subject = settings.subject.for_client(client_id.into_untyped());
    // On a refused CSR the transaction is dropped: the token stays.
    let issued = ca
        .sign_client_csr(&pem, &subject, settings.certificate_validity)
        .map_err(|e| ConnectorError::InvalidCsr(e.to_string()))?;
    tx.insert_issued_certificate(&IssuedCertificateRecord {
        serial: issued.serial.clone(),
        client_id,
        tenant,
        not_before: issued.not_before,
        not_after: issued.not_after,
        issued_at: now,
        issuer: ca.fingerprint().to_vec(),
        parent_serial,
    })
    .await?;
    tx.commit().await?;
    let chain = format!("{}{}", issued.cert_pem, ca.cert_pem());
    Ok(CertificationResult {
        certificate_chain: b64(&chain),
        ca_certificate: b64(&settings.trusted_cas_pem),
        client_certificate: b64(&issued.cert_pem),
    })
}

async fn revoke(store: &dyn Store, caller: &Caller) -> Result<bool, ConnectorError> {
    let Caller::Certificate { serial, tenant, .. } = caller else {
        return Err(ConnectorError::CertificateRequired);
    };
    let mut tx = store.write().await?;
    let revoked = tx.revoke_certificate(serial, now_micros()).await?;
    // Whoever cached this certificate as valid checks it again.
    tx.bump_config_epoch(*tenant).await?;
    tx.commit().await?;
    Ok(revoked)
}
