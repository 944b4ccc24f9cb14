//! Who calls the Connector, and who a client certificate on the mTLS listener stands for.
//!
//! A certificate stands for a client only if the CA recorded issuing that very certificate
//! (its serial) to the client its CN names, has not revoked it, and the client still exists:
//! what the certificate claims is checked against the records, never trusted alone. Only the
//! certificate counts; no header can claim an identity.

use sextant_auth::AuthError;
use sextant_domain::{Consumer, SystemAuth, TenantId};
use sextant_store::{IssuedCertificate, Store, StoreError};

/// Who calls: the hash of the token in the `Connector-Token` header, or (on the mTLS
/// listener) a verified, recorded, unrevoked client certificate.
#[derive(Clone, Debug)]
pub enum Caller {
    Token(Vec<u8>),
    Certificate {
        client_id: sextant_domain::SystemAuthId,
        tenant: sextant_domain::TenantId,
        serial: Vec<u8>,
    },
}

/// The caller a `Connector-Token` names, if the token is live (known and unexpired). The token
/// is not used up: the operation redeems it in its own transaction, so it is used up exactly
/// once. A request whose token is not live is refused before its body is read.
pub async fn token_caller(store: &dyn Store, token: &str) -> Result<Option<Caller>, StoreError> {
    let hash = sextant_auth::secret_hash(token);
    let mut tx = store.read().await?;
    let live = tx
        .one_time_token_live(&hash, time::OffsetDateTime::now_utc())
        .await?;
    Ok(live.then_some(Caller::Token(hash)))
}

/// The client a certificate stands for.
#[derive(Clone, Debug)]
pub struct CertificateClient {
    /// The client (system auth) of an application or runtime.
    pub auth: SystemAuth,
    /// Its tenant.
    pub tenant: TenantId,
    /// The certificate's serial.
    pub serial: Vec<u8>,
}

/// The client the certificate `leaf` (DER, as the TLS layer verified it) stands for: its CN is
/// a client id (system auth) of an application or runtime, and the certificate must be one
/// the CA recorded for that client and not revoked. A store failure is
/// [`AuthError::Unavailable`] carrying the store's error, which the server logs when it
/// answers.
pub async fn certificate_client(
    store: &dyn Store,
    leaf: Option<&[u8]>,
) -> Result<CertificateClient, AuthError> {
    let unauthenticated = |m: &str| AuthError::Unauthenticated(m.to_owned());
    let leaf = leaf.ok_or_else(|| unauthenticated("a client certificate is required"))?;
    let sextant_pki::ClaimedIdentity { client_id, serial } =
        sextant_pki::client_certificate_identity(leaf)
            .map_err(|e| unauthenticated(&e.to_string()))?;
    let client_id = sextant_domain::SystemAuthId::from_untyped(client_id);
    let (issued, auth) = async {
        let mut tx = store.read().await?;
        let issued = tx.issued_certificate(&serial).await?;
        let auth = tx.system_auth(client_id).await?;
        Ok::<_, StoreError>((issued, auth))
    }
    .await
    .map_err(|e| AuthError::Unavailable {
        message: "the certificate could not be checked; try again".into(),
        cause: Some(Box::new(e)),
    })?;
    match issued {
        Some(IssuedCertificate {
            client,
            revoked: false,
        }) if client == client_id => {}
        Some(IssuedCertificate { revoked: true, .. }) => {
            return Err(unauthenticated("the client certificate is revoked"));
        }
        _ => return Err(unauthenticated("the client certificate is unknown")),
    }
    let auth = auth.ok_or_else(|| unauthenticated("the client of this certificate was deleted"))?;
    let Some(tenant) = auth.tenant else {
        return Err(unauthenticated(
            "certificates are for applications and runtimes",
        ));
    };
    Ok(CertificateClient {
        auth,
        tenant,
        serial,
    })
}

impl CertificateClient {
    /// The certificate-secured Connector's caller.
    pub fn caller(self) -> Caller {
        Caller::Certificate {
            client_id: self.auth.id,
            tenant: self.tenant,
            serial: self.serial,
        }
    }

    /// The consumer of the certificate-secured Director: the client's application or runtime
    /// with the scopes of its kind, pinned to its tenant. `tenant_header`, the raw `Tenant`
    /// header if the request has one, must name that tenant (else [`AuthError::Forbidden`]).
    pub fn consumer(&self, tenant_header: Option<&[u8]>) -> Result<Consumer, AuthError> {
        if let Some(header) = tenant_header {
            // Read as HTTP's `HeaderValue::to_str` reads it: ASCII or nothing.
            let asked = std::str::from_utf8(header)
                .ok()
                .filter(|h| h.is_ascii())
                .and_then(|h| uuid::Uuid::parse_str(h.trim()).ok());
            if asked != Some(self.tenant.0) {
                return Err(AuthError::Forbidden(
                    "the Tenant header names another tenant than the certificate's".into(),
                ));
            }
        }
        let id = sextant_domain::ConsumerId::from(self.auth.owner);
        Ok(Consumer {
            tenant: self.tenant,
            scopes: sextant_domain::client_scopes(id.kind())
                .iter()
                .map(|s| s.as_str().to_owned())
                .collect(),
            id,
        })
    }
}
