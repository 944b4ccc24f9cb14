//! Authentication: turns a request's credentials into a [`Consumer`].
//!
//! A bearer token (`Authorization: Bearer <JWT>`, ES256-signed by the server's key) is a
//! user's (issued by `sextant admin token`) or an OAuth2 client's (issued by `/oauth2/token`
//! and resolved against its stored system auth). Client certificates and one-time tokens are
//! resolved by the Connector into the same [`Consumer`] type; authorization never looks at
//! how a consumer authenticated.
//!
//! Must not know: HTTP frameworks, the store, GraphQL. It reads header values and answers
//! consumers; the server decides what a failure answers.
#![forbid(unsafe_code)]

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sextant_domain::{
    Consumer, ConsumerId, Scope, SystemAuth, SystemAuthId, SystemAuthOwner, TenantId,
};
use uuid::Uuid;

/// Issuer claim of every token this server signs.
pub const ISSUER: &str = "sextant";

/// Why a request was not authenticated or not allowed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No credentials, or credentials that are not valid: HTTP 401.
    #[error("unauthenticated: {0}")]
    Unauthenticated(String),
    /// Valid credentials that do not allow what was asked (another tenant): HTTP 403.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The credentials could not be checked right now (the store is unreachable): HTTP 503.
    /// `cause` is for the log, never for the answer.
    #[error("unavailable: {message}")]
    Unavailable {
        message: String,
        #[source]
        cause: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    },
    /// No randomness could be had.
    #[error("no secure randomness available")]
    Random,
    /// The signing key could not be loaded or used.
    #[error("signing key is not usable")]
    Key(#[source] jsonwebtoken::errors::Error),
}

/// The claims of a user token.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    /// The tenant the token acts in when the request names none.
    pub tenant: Uuid,
    /// Further tenants the request may select with the `Tenant` header.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tenants: Vec<Uuid>,
    /// Space-separated scopes, as in Compass's tokens.
    pub scopes: String,
    pub iat: i64,
    pub exp: i64,
    /// Present only in an OAuth2 client's token: who the client is. `sub` is then the client
    /// id (the system auth's id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientClaim>,
}

/// The owner of an OAuth2 client token.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ClientClaim {
    /// `application`, `runtime` or `integration_system`.
    pub kind: String,
    /// The application's, runtime's or integration system's id.
    pub owner: Uuid,
}

fn kind_claim(owner: SystemAuthOwner) -> &'static str {
    match owner {
        SystemAuthOwner::Application(_) => "application",
        SystemAuthOwner::Runtime(_) => "runtime",
        SystemAuthOwner::IntegrationSystem(_) => "integration_system",
    }
}

/// A verified OAuth2 client token, before the check that its system auth still exists.
#[derive(Clone, Debug)]
pub struct ClientToken {
    /// The client id: the system auth the token was issued for.
    pub client_id: SystemAuthId,
    pub claim: ClientClaim,
    pub scopes: Vec<String>,
}

impl ClientToken {
    /// The consumer this token acts as, given its system auth as stored now (`None`: deleted,
    /// and the token with it) and the request's `Tenant` header. Applications and runtimes are
    /// pinned to their tenant; an integration system names its tenant in the header, and the
    /// caller must then check that this tenant granted it access (a store lookup).
    pub fn consumer(
        &self,
        stored: Option<&SystemAuth>,
        tenant_header: Option<&str>,
    ) -> Result<Consumer, AuthError> {
        let stored = stored.ok_or_else(|| {
            AuthError::Unauthenticated("the credentials of this token were deleted".into())
        })?;
        if kind_claim(stored.owner) != self.claim.kind || stored.owner.id() != self.claim.owner {
            return Err(AuthError::Unauthenticated(
                "the token does not match its credentials".into(),
            ));
        }
        let header = match tenant_header.map(str::trim).filter(|t| !t.is_empty()) {
            None => None,
            Some(h) => Some(TenantId(Uuid::parse_str(h).map_err(|_| {
                AuthError::Forbidden(format!("tenant {h:?} is not a valid tenant ID"))
            })?)),
        };
        let tenant = match (stored.tenant, header) {
            (Some(pinned), None) => pinned,
            (Some(pinned), Some(asked)) if asked == pinned => pinned,
            (Some(_), Some(asked)) => {
                return Err(AuthError::Forbidden(format!(
                    "tenant {asked} is not allowed for this {}",
                    stored.owner.kind_name()
                )));
            }
            (None, Some(asked)) => asked,
            (None, None) => {
                return Err(AuthError::Forbidden(
                    "an integration system must name its tenant in the Tenant header".into(),
                ));
            }
        };
        Ok(Consumer {
            tenant,
            scopes: self.scopes.clone(),
            id: ConsumerId::from(stored.owner),
        })
    }
}

/// What a bearer token turned out to be.
#[derive(Clone, Debug)]
pub enum Bearer {
    /// A user (administrator) token: complete in itself.
    User(Consumer),
    /// An OAuth2 client's token: valid only while its system auth exists.
    Client(ClientToken),
}

/// A new secret as handed out once, and the hash that is stored in its place.
#[derive(Clone, Debug)]
pub struct NewSecret {
    /// The secret itself (base64url): shown to its holder, never stored.
    pub secret: String,
    /// Its SHA-256 ([`secret_hash`]), the only form that is stored.
    pub hash: Vec<u8>,
}

/// A new random client secret (256 bits, base64url) and the hash to store.
pub fn new_client_secret() -> Result<NewSecret, AuthError> {
    use aws_lc_rs::rand::SecureRandom;
    use base64::Engine;
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| AuthError::Random)?;
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = secret_hash(&secret);
    Ok(NewSecret { secret, hash })
}

/// A new one-time token (256 random bits, base64url) and the hash to store.
pub fn new_one_time_token() -> Result<NewSecret, AuthError> {
    new_client_secret()
}

/// The stored form of a secret: SHA-256 (the secret is random, so no salt or stretching is
/// needed).
pub fn secret_hash(secret: &str) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret.as_bytes())
        .as_ref()
        .to_vec()
}

/// Compares a presented secret with a stored hash in constant time.
pub fn secret_matches(secret: &str, hash: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(&secret_hash(secret), hash).is_ok()
}

/// Signs user tokens with the server's private key.
pub struct TokenIssuer {
    key: EncodingKey,
}

impl TokenIssuer {
    /// From the PKCS#8 PEM of a P-256 key.
    pub fn from_pem(private_pem: &str) -> Result<TokenIssuer, AuthError> {
        Ok(TokenIssuer {
            key: EncodingKey::from_ec_pem(private_pem.as_bytes()).map_err(AuthError::Key)?,
        })
    }

    /// A token for `subject` in `tenants` (the first is the default) with `scopes`.
    pub fn issue(
        &self,
        subject: &str,
        tenants: &[TenantId],
        scopes: &[String],
        ttl: Duration,
    ) -> Result<String, AuthError> {
        let (first, rest) = tenants
            .split_first()
            .ok_or_else(|| AuthError::Forbidden("a token needs at least one tenant".to_owned()))?;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let claims = Claims {
            iss: ISSUER.to_owned(),
            sub: subject.to_owned(),
            tenant: first.0,
            tenants: rest.iter().map(|t| t.0).collect(),
            scopes: scopes.join(" "),
            iat: now,
            exp: now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX)),
            client: None,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::ES256), &claims, &self.key)
            .map_err(AuthError::Key)
    }
}

impl TokenIssuer {
    /// An access token for an OAuth2 client (the client-credentials grant). An integration
    /// system's token carries the nil tenant: it names its tenant per request (one that
    /// granted it access).
    pub fn issue_client(
        &self,
        auth: &SystemAuth,
        scopes: &[Scope],
        ttl: Duration,
    ) -> Result<String, AuthError> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let claims = Claims {
            iss: ISSUER.to_owned(),
            sub: auth.id.to_string(),
            tenant: auth.tenant.map(|t| t.0).unwrap_or(Uuid::nil()),
            tenants: Vec::new(),
            scopes: scopes
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            iat: now,
            exp: now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX)),
            client: Some(ClientClaim {
                kind: kind_claim(auth.owner).to_owned(),
                owner: auth.owner.id(),
            }),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::ES256), &claims, &self.key)
            .map_err(AuthError::Key)
    }
}

/// Verifies user tokens with the server's public key.
pub struct TokenVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl TokenVerifier {
    /// From the SubjectPublicKeyInfo PEM of the signing key.
    pub fn from_pem(public_pem: &str) -> Result<TokenVerifier, AuthError> {
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = 30;
        Ok(TokenVerifier {
            key: DecodingKey::from_ec_pem(public_pem.as_bytes()).map_err(AuthError::Key)?,
            validation,
        })
    }

    /// Checks signature, algorithm (ES256 only: `none` and HMAC tokens are refused), issuer and
    /// expiry.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| AuthError::Unauthenticated(format!("invalid token: {e}")))
    }

    /// Verifies a bearer token and tells a user's from an OAuth2 client's. A user token is
    /// resolved with the `Tenant` header at once; a client token still needs its system auth.
    pub fn bearer(&self, token: &str, tenant_header: Option<&str>) -> Result<Bearer, AuthError> {
        let claims = self.verify(token)?;
        match claims.client.clone() {
            None => self
                .user_from_claims(claims, tenant_header)
                .map(Bearer::User),
            Some(claim) => Ok(Bearer::Client(ClientToken {
                client_id: claims.sub.parse::<SystemAuthId>().map_err(|_| {
                    AuthError::Unauthenticated("invalid token: bad client id".into())
                })?,
                claim,
                scopes: claims
                    .scopes
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect(),
            })),
        }
    }

    /// Resolves a bearer token and the request's `Tenant` header into a user consumer. The
    /// header may select any tenant the token allows; any other tenant is forbidden. A
    /// client's token is not a user's.
    pub fn user(&self, token: &str, tenant_header: Option<&str>) -> Result<Consumer, AuthError> {
        let claims = self.verify(token)?;
        if claims.client.is_some() {
            return Err(AuthError::Unauthenticated(
                "an OAuth2 client's token is not a user token".into(),
            ));
        }
        self.user_from_claims(claims, tenant_header)
    }

    fn user_from_claims(
        &self,
        claims: Claims,
        tenant_header: Option<&str>,
    ) -> Result<Consumer, AuthError> {
        let tenant = match tenant_header.map(str::trim).filter(|t| !t.is_empty()) {
            None => claims.tenant,
            Some(header) => {
                let wanted = Uuid::parse_str(header).map_err(|_| {
                    AuthError::Forbidden(format!("tenant {header:?} is not a valid tenant ID"))
                })?;
                if wanted != claims.tenant && !claims.tenants.contains(&wanted) {
                    return Err(AuthError::Forbidden(format!(
                        "tenant {wanted} is not allowed for this token"
                    )));
                }
                wanted
            }
        };
        Ok(Consumer {
            tenant: TenantId(tenant),
            scopes: claims
                .scopes
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            id: ConsumerId::User(claims.sub),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sextant_domain::{ApplicationId, ConsumerKind, IntegrationSystemId, RuntimeId};

    // A fixed P-256 key for tests only (made with `openssl ecparam -name prime256v1 -genkey | openssl pkcs8 -topk8 -nocrypt`).
    fn keys() -> (TokenIssuer, TokenVerifier) {
        let (private, public) = test_keys();
        (
            TokenIssuer::from_pem(&private).unwrap(),
            TokenVerifier::from_pem(&public).unwrap(),
        )
    }

    fn test_keys() -> (String, String) {
        (PRIVATE.to_owned(), PUBLIC.to_owned())
    }

    const PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgt59Nbe545SxtO6gW
nILc5Tt/o6nPQryiOj5IOAN1xXWhRANCAATLK3oMkI91TPS8eyv2ivypoZ5IBqpL
VXlsoAyir2Akffvk1C0x1QXOgrsKWvdMvj4/mtSMvg+YVCpLQWEGPoHG
-----END PRIVATE KEY-----
";
    const PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEyyt6DJCPdUz0vHsr9or8qaGeSAaq
S1V5bKAMoq9gJH375NQtMdUFzoK7Clr3TL4+P5rUjL4PmFQqS0FhBj6Bxg==
-----END PUBLIC KEY-----
";

    const OTHER_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgswmk6/fn8r81mdG4
6lW74MGLXCPUCfRo8vSDR4/jqKGhRANCAATov3ymSFoo1Vipih2ZUbYx4huJSXnn
rIpWto5JrPCQ0aVh25xYt5FEX/KjqopjZMP3Gyk6Z/UOBfDt4GNN7Pd6
-----END PRIVATE KEY-----
";

    const T1: TenantId = TenantId(uuid::uuid!("11111111-1111-4111-8111-111111111111"));
    const T2: TenantId = TenantId(uuid::uuid!("22222222-2222-4222-8222-222222222222"));

    #[test]
    fn round_trip_with_default_tenant() {
        let (issuer, verifier) = keys();
        let token = issuer
            .issue(
                "alice",
                &[T1],
                &["application:read".into()],
                Duration::from_secs(60),
            )
            .unwrap();
        let consumer = verifier.user(&token, None).unwrap();
        assert_eq!(consumer.tenant, T1);
        assert_eq!(consumer.scopes, vec!["application:read".to_string()]);
        assert_eq!(consumer.kind(), ConsumerKind::User);
        assert_eq!(consumer.id, ConsumerId::User("alice".into()));
    }

    #[test]
    fn tenant_header_selects_only_allowed_tenants() {
        let (issuer, verifier) = keys();
        let token = issuer
            .issue("a", &[T1, T2], &[], Duration::from_secs(60))
            .unwrap();
        assert_eq!(
            verifier.user(&token, Some(&T2.to_string())).unwrap().tenant,
            T2
        );
        let single = issuer
            .issue("a", &[T1], &[], Duration::from_secs(60))
            .unwrap();
        assert!(matches!(
            verifier.user(&single, Some(&T2.to_string())),
            Err(AuthError::Forbidden(_))
        ));
        assert!(matches!(
            verifier.user(&single, Some("not-a-uuid")),
            Err(AuthError::Forbidden(_))
        ));
    }

    #[test]
    fn forged_expired_and_unsigned_tokens_are_refused() {
        let (issuer, verifier) = keys();
        let token = issuer
            .issue("a", &[T1], &[], Duration::from_secs(60))
            .unwrap();
        // Change a claim (another tenant) and keep the signature: refused.
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let parts: Vec<&str> = token.split('.').collect();
        let mut claims: serde_json::Value =
            serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
        claims["tenant"] = serde_json::json!(T2.0);
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            b64.encode(claims.to_string()),
            parts[2]
        );
        assert!(matches!(
            verifier.verify(&forged),
            Err(AuthError::Unauthenticated(_))
        ));
        // A well-formed token signed by another key: refused.
        let other_key = jsonwebtoken::encode(
            &Header::new(Algorithm::ES256),
            &serde_json::from_value::<Claims>(claims).unwrap(),
            &EncodingKey::from_ec_pem(OTHER_PRIVATE.as_bytes()).unwrap(),
        )
        .unwrap();
        assert!(verifier.verify(&other_key).is_err());
        // alg=none, as Compass's tests used: refused.
        let header = b64.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let payload = b64.encode(
            serde_json::json!({"iss":"sextant","sub":"x","tenant":T1.0,"scopes":"application:write","iat":0,"exp":i64::MAX/2}).to_string(),
        );
        assert!(verifier.verify(&format!("{header}.{payload}.")).is_err());
        // Expired beyond the leeway.
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let claims = Claims {
            iss: ISSUER.into(),
            sub: "a".into(),
            tenant: T1.0,
            tenants: vec![],
            scopes: String::new(),
            iat: now - 7200,
            exp: now - 3600,
            client: None,
        };
        let expired = jsonwebtoken::encode(
            &Header::new(Algorithm::ES256),
            &claims,
            &EncodingKey::from_ec_pem(PRIVATE.as_bytes()).unwrap(),
        )
        .unwrap();
        assert!(verifier.verify(&expired).is_err());
        assert!(verifier.verify("garbage").is_err());
    }

    fn system_auth(owner: SystemAuthOwner, tenant: Option<TenantId>) -> SystemAuth {
        SystemAuth {
            id: SystemAuthId::new_v4(),
            tenant,
            owner,
            secret_hash: Some(secret_hash("s")),
            created_at: time::OffsetDateTime::now_utc(),
        }
    }

    fn client(verifier: &TokenVerifier, token: &str) -> ClientToken {
        match verifier.bearer(token, None).unwrap() {
            Bearer::Client(c) => c,
            Bearer::User(_) => panic!("a client token was taken for a user's"),
        }
    }

    #[test]
    fn client_tokens_act_as_their_owner_in_its_tenant_only() {
        let (issuer, verifier) = keys();
        let app = Uuid::new_v4();
        let auth = system_auth(
            SystemAuthOwner::Application(ApplicationId::from_untyped(app)),
            Some(T1),
        );
        let token = issuer
            .issue_client(&auth, &[Scope::ApplicationRead], Duration::from_secs(60))
            .unwrap();
        let c = client(&verifier, &token);
        assert_eq!(c.client_id, auth.id);
        let consumer = c.consumer(Some(&auth), None).unwrap();
        assert_eq!(consumer.kind(), ConsumerKind::Application);
        assert_eq!(
            consumer.id,
            ConsumerId::Application(ApplicationId::from_untyped(app))
        );
        assert_eq!(consumer.tenant, T1);
        assert_eq!(consumer.scopes, vec!["application:read".to_string()]);
        assert!(c.consumer(Some(&auth), Some(&T1.0.to_string())).is_ok());
        assert!(matches!(
            c.consumer(Some(&auth), Some(&T2.0.to_string())),
            Err(AuthError::Forbidden(_))
        ));
        // Deleted credentials, or credentials now of another owner, end the token.
        assert!(matches!(
            c.consumer(None, None),
            Err(AuthError::Unauthenticated(_))
        ));
        let moved = SystemAuth {
            owner: SystemAuthOwner::Runtime(RuntimeId::from_untyped(app)),
            ..auth.clone()
        };
        assert!(c.consumer(Some(&moved), None).is_err());
        // A client token is no user token.
        assert!(verifier.user(&token, None).is_err());
    }

    #[test]
    fn integration_systems_name_their_tenant() {
        let (issuer, verifier) = keys();
        let auth = system_auth(
            SystemAuthOwner::IntegrationSystem(IntegrationSystemId::new_v4()),
            None,
        );
        let token = issuer
            .issue_client(&auth, &[Scope::ApplicationRead], Duration::from_secs(60))
            .unwrap();
        let c = client(&verifier, &token);
        assert!(matches!(
            c.consumer(Some(&auth), None),
            Err(AuthError::Forbidden(_))
        ));
        let consumer = c.consumer(Some(&auth), Some(&T2.0.to_string())).unwrap();
        assert_eq!(consumer.tenant, T2);
        assert_eq!(consumer.kind(), ConsumerKind::IntegrationSystem);
    }

    #[test]
    fn client_secrets_are_random_and_checked_by_hash() {
        let NewSecret {
            secret: a,
            hash: hash_a,
        } = new_client_secret().unwrap();
        let b = new_client_secret().unwrap().secret;
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(secret_matches(&a, &hash_a));
        assert!(!secret_matches(&b, &hash_a));
        assert!(!secret_matches("", &hash_a));
        assert!(!secret_matches(&a, b"short"));
    }
}
