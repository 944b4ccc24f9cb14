//! The Connector's GraphQL schema (Compass's): `configuration`,
//! `signCertificateSigningRequest` and `revokeCertificate`.

use std::sync::Arc;
use std::time::Duration;

use async_graphql::{Context, EmptySubscription, ErrorExtensions, Object, Schema, SimpleObject};
use base64::Engine;
use sextant_domain::{IssuedCertificateRecord, OneTimeToken, OneTimeTokenKind};
use sextant_pki::{CertificateAuthority, ClientSubject};
use sextant_store::Store;

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

fn error(code: &'static str, message: impl Into<String>) -> async_graphql::Error {
    async_graphql::Error::new(message.into()).extend_with(|_, e| e.set("code", code))
}

/// A failure the caller cannot act on: logged with its causes, answered as `INTERNAL`.
fn internal<E: std::error::Error + 'static>(e: E) -> async_graphql::Error {
    tracing::error!(error = %sextant_domain::ErrorChain(&e), "connector: internal error");
    error("INTERNAL", "internal error")
}

/// The answer to a request whose token is refused before it is parsed: the same error
/// (`INVALID_TOKEN`) an operation answers for a token it cannot redeem.
pub fn refused_token() -> async_graphql::Response {
    let refused = invalid_token();
    let mut error = async_graphql::ServerError::new(refused.message, None);
    error.extensions = refused.extensions;
    async_graphql::Response::from_errors(vec![error])
}

fn invalid_token() -> async_graphql::Error {
    error(
        "INVALID_TOKEN",
        "the token is invalid, expired, already used, or not meant for this step",
    )
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
        let (csr_token, csr_hash) = sextant_auth::new_one_time_token().map_err(internal)?;
        let now = now_micros();
        let ttl = time::Duration::try_from(settings.csr_token_ttl).map_err(internal)?;
        let mut tx = store.write().await.map_err(internal)?;
        // A pairing token is used up; a certificate (renewal) just asks again, and the CSR
        // token remembers it, so what the token buys is revoked with it.
        let (client_id, tenant, parent_serial) = match ctx.data::<Caller>()? {
            Caller::Token(hash) => {
                let pairing = tx
                    .redeem_one_time_token(
                        hash,
                        &[OneTimeTokenKind::Application, OneTimeTokenKind::Runtime],
                        now,
                    )
                    .await
                    .map_err(internal)?
                    .ok_or_else(invalid_token)?;
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
        .map_err(|_| invalid_token())?;
        tx.commit().await.map_err(internal)?;
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
        if csr.len() > 2 * sextant_pki::MAX_CSR_PEM_BYTES {
            return Err(error("INVALID_CSR", "CSR: it is too large"));
        }
        let pem = base64::engine::general_purpose::STANDARD
            .decode(csr.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| {
                error(
                    "INVALID_CSR",
                    "CSR: not base64 of a PEM CERTIFICATE REQUEST",
                )
            })?;
        let now = now_micros();
        let mut tx = store.write().await.map_err(internal)?;
        // A CSR token is used up; a certificate renews itself (same subject). A renewal
        // records the certificate it renews, so revoking that one revokes this one.
        let (client_id, tenant, parent_serial) = match ctx.data::<Caller>()? {
            Caller::Token(hash) => {
                let token = tx
                    .redeem_one_time_token(hash, &[OneTimeTokenKind::Csr], now)
                    .await
                    .map_err(internal)?
                    .ok_or_else(invalid_token)?;
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
            .map_err(|e| error("INVALID_CSR", e.to_string()))?;
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
        .await
        .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        let chain = format!("{}{}", issued.cert_pem, ca.cert_pem());
        Ok(CertificationResult {
            certificate_chain: b64(&chain),
            ca_certificate: b64(&settings.trusted_cas_pem),
            client_certificate: b64(&issued.cert_pem),
        })
    }

    /// Revokes the calling certificate and every certificate renewed from it
    /// (certificate-secured Connector only). From the next request on, every server sharing
    /// the database refuses them.
    async fn revoke_certificate(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        let Caller::Certificate { serial, tenant, .. } = ctx.data::<Caller>()? else {
            return Err(error(
                "CERTIFICATE_REQUIRED",
                "revokeCertificate needs the client certificate: call the certificate-secured Connector",
            ));
        };
        let store = ctx.data::<Arc<dyn Store>>()?;
        let mut tx = store.write().await.map_err(internal)?;
        let revoked = tx
            .revoke_certificate(serial, now_micros())
            .await
            .map_err(internal)?;
        // Whoever cached this certificate as valid checks it again.
        tx.bump_config_epoch(*tenant).await.map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        Ok(revoked)
    }
}
