//! The rules of system auths: making client credentials and pairing tokens, finding one for
//! deletion within the consumer's reach, revoking every credential of an owner, and revoking
//! one certificate of an application's client.

use sextant_auth::NewSecret;
use sextant_domain::{
    DomainError, OneTimeToken, OneTimeTokenKind, SystemAuth as DomainSystemAuth, SystemAuthOwner,
    TenantId,
};
use sextant_domain::{RuntimeId, SystemAuthId};
use sextant_store::{ApplicationCertificate, CertificatesOf, OwnerKind, Tx};

use crate::clock::now_micros;
use crate::confine::{self, Reach};
use crate::error::internal;
use crate::system_auths::wire::{ClientCertificate, RevokedCredentials};

type Result<T> = std::result::Result<T, DomainError>;

/// Creates client credentials for an owner that the caller has checked.
pub async fn create(
    tx: &mut dyn Tx,
    tenant: Option<TenantId>,
    owner: SystemAuthOwner,
    hash: Vec<u8>,
) -> Result<DomainSystemAuth> {
    let auth = DomainSystemAuth {
        id: SystemAuthId::new_v4(),
        tenant,
        owner,
        secret_hash: Some(hash),
        created_at: now_micros(),
    };
    tx.insert_system_auth(&auth).await.map_err(internal)?;
    Ok(auth)
}

/// Loads a system auth for deletion through the mutation of `expected` kind: it must exist in
/// the caller's tenant (integration systems: owned by it) and belong to that kind of object.
pub async fn for_deletion(
    tx: &mut dyn Tx,
    tenant: TenantId,
    reach: Reach,
    id: SystemAuthId,
    expected: OwnerKind,
) -> Result<DomainSystemAuth> {
    let missing = || DomainError::not_found("system auth", id);
    let auth = tx
        .system_auth(id)
        .await
        .map_err(internal)?
        .ok_or_else(missing)?;
    if auth.tenant.is_some_and(|t| t != tenant) {
        return Err(missing());
    }
    // Out of the consumer's reach looks like missing, before anything about the owner shows.
    let reachable = match auth.owner {
        SystemAuthOwner::Application(app) => {
            match confine::writable_app(tx, tenant, reach, app).await {
                Ok(()) => true,
                Err(DomainError::NotFound(_)) => false,
                Err(other) => return Err(other),
            }
        }
        SystemAuthOwner::Runtime(runtime) => confine::runtime_credentials(reach, runtime).is_ok(),
        SystemAuthOwner::IntegrationSystem(system) => {
            match confine::integration_system_credentials(tx, tenant, reach, system).await {
                Ok(()) => true,
                Err(DomainError::NotFound(_) | DomainError::Forbidden(_)) => false,
                Err(other) => return Err(other),
            }
        }
    };
    if !reachable {
        return Err(missing());
    }
    if OwnerKind::of(auth.owner) != expected {
        return Err(DomainError::Invalid(format!(
            "system auth with ID \"{id}\" belongs to {} {}, not to {}",
            article(auth.owner.kind_name()),
            auth.owner.kind_name(),
            match expected {
                OwnerKind::Application => "an application",
                OwnerKind::Runtime => "a runtime",
                OwnerKind::IntegrationSystem => "an integration system",
            }
        )));
    }
    Ok(auth)
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// A new client secret, and its hash.
pub fn new_secret() -> Result<NewSecret> {
    sextant_auth::new_client_secret().map_err(|e| DomainError::Internal(Box::new(e)))
}

/// A pairing token as made: the client it pairs (not a secret: `oneTimeTokenStatus` reads
/// the token's state by it) and when it expires.
#[derive(Clone, Copy, Debug)]
pub struct Pairing {
    pub client_id: SystemAuthId,
    pub expires_at: time::OffsetDateTime,
}

/// Creates a secretless system auth for the owner (its id becomes the client id the
/// Connector puts into the certificate) and a one-time token that pairs it.
pub async fn pairing_token(
    tx: &mut dyn Tx,
    tenant: TenantId,
    owner: SystemAuthOwner,
    kind: OneTimeTokenKind,
    hash: Vec<u8>,
    ttl: std::time::Duration,
) -> Result<Pairing> {
    let auth = DomainSystemAuth {
        id: SystemAuthId::new_v4(),
        tenant: Some(tenant),
        owner,
        secret_hash: None,
        created_at: now_micros(),
    };
    tx.insert_system_auth(&auth).await.map_err(internal)?;
    let now = now_micros();
    let ttl = time::Duration::try_from(ttl).map_err(|e| DomainError::Internal(Box::new(e)))?;
    let expires_at = now + ttl;
    tx.insert_one_time_token(&OneTimeToken {
        hash,
        kind,
        client_id: auth.id,
        tenant,
        created_at: now,
        expires_at,
        parent_serial: None,
    })
    .await
    .map_err(internal)?;
    Ok(Pairing {
        client_id: auth.id,
        expires_at,
    })
}

/// A new one-time token, and its hash.
pub fn new_token() -> Result<NewSecret> {
    sextant_auth::new_one_time_token().map_err(|e| DomainError::Internal(Box::new(e)))
}

/// Revokes every certificate of the owner's clients and deletes the clients (their one-time
/// tokens go with them), in the caller's transaction.
pub async fn revoke_all(
    tx: &mut dyn Tx,
    tenant: TenantId,
    owner: SystemAuthOwner,
) -> Result<RevokedCredentials> {
    let certificates = tx
        .revoke_certificates_of(tenant, CertificatesOf::Owner(owner), now_micros())
        .await
        .map_err(internal)?;
    let system_auths = tx
        .delete_system_auths_of(tenant, owner)
        .await
        .map_err(internal)?;
    Ok(RevokedCredentials {
        system_auths,
        certificates,
    })
}

/// A one-time token that pairs the runtime's agent through the Connector, valid for `ttl`;
/// stored as a hash, returned in the clear.
pub async fn runtime_pairing_token(
    tx: &mut dyn Tx,
    tenant: TenantId,
    runtime: RuntimeId,
    ttl: std::time::Duration,
) -> Result<String> {
    Ok(runtime_pairing(tx, tenant, runtime, ttl).await?.0)
}

/// [`runtime_pairing_token`] with the pairing it made (what `requestOneTimeTokenForRuntime`
/// answers).
pub async fn runtime_pairing(
    tx: &mut dyn Tx,
    tenant: TenantId,
    runtime: RuntimeId,
    ttl: std::time::Duration,
) -> Result<(String, Pairing)> {
    if tx
        .runtime(tenant, runtime)
        .await
        .map_err(internal)?
        .is_none()
    {
        return Err(DomainError::not_found("runtime", runtime));
    }
    let NewSecret {
        secret: token,
        hash,
    } = new_token()?;
    let pairing = pairing_token(
        tx,
        tenant,
        SystemAuthOwner::Runtime(runtime),
        OneTimeTokenKind::Runtime,
        hash,
        ttl,
    )
    .await?;
    Ok((token, pairing))
}

/// A certificate serial as written in the API: hexadecimal (either case), at most 32 bytes.
pub fn parse_serial(text: &str) -> Result<Vec<u8>> {
    let text = text.trim();
    let hex = |c: u8| {
        char::from(c)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    };
    let bytes = text.as_bytes();
    let parsed: Option<Vec<u8>> = if bytes.is_empty() || bytes.len() > 64 {
        None
    } else {
        bytes
            .chunks(2)
            .map(|pair| match pair {
                [high, low] => Some((hex(*high)? << 4) | hex(*low)?),
                _ => None,
            })
            .collect()
    };
    parsed.ok_or_else(|| {
        DomainError::Invalid(format!(
            "serial {text:?}: not a certificate serial (hexadecimal)"
        ))
    })
}

/// Revokes a certificate of one of the tenant's applications' clients (and those renewed
/// from it) if the consumer may change the application; answers it as it now stands.
pub async fn revoke_application_certificate(
    tx: &mut dyn Tx,
    tenant: TenantId,
    reach: Reach,
    serial: Vec<u8>,
) -> Result<ApplicationCertificate> {
    let missing = || DomainError::not_found("client certificate", ClientCertificate::hex(&serial));
    let certificate = tx
        .application_certificate(tenant, &serial)
        .await
        .map_err(internal)?
        .ok_or_else(missing)?;
    // Out of reach looks like missing: the answer names no application.
    confine::writable_app(tx, tenant, reach, certificate.application)
        .await
        .map_err(|e| match e {
            DomainError::NotFound(_) => missing(),
            other => other,
        })?;
    let now = now_micros();
    tx.revoke_certificate(&serial, now)
        .await
        .map_err(internal)?;
    Ok(ApplicationCertificate {
        revoked_at: certificate.revoked_at.or(Some(now)),
        ..certificate
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_are_hexadecimal_bytes() {
        assert_eq!(parse_serial("00fF1a").ok(), Some(vec![0x00, 0xff, 0x1a]));
        assert_eq!(parse_serial(" 0a ").ok(), Some(vec![0x0a]));
        for bad in ["", "0", "0g", "+f", "not hex", &"00".repeat(33)] {
            assert!(
                matches!(parse_serial(bad), Err(DomainError::Invalid(_))),
                "{bad:?}"
            );
        }
    }
}
