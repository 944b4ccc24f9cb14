//! The Connector: pairing with one-time tokens, certificate signing by the built-in CA, and the
//! rules of the certificates it issues (identity on the mTLS listener, revocation, CA
//! rotation). The server composes these; this crate does no HTTP.
//!
//! Flow: an administrator gets a one-time token from the Director
//! (`requestOneTimeTokenFor*`). The client calls `configuration` with it in the
//! `Connector-Token` header: the token is used up and a CSR token, the subject to request and
//! the certificate-secured URLs come back. The client sends its CSR with the CSR token to
//! `signCertificateSigningRequest` and gets its certificate.
//!
//! Invariants:
//! - A token is redeemed inside the write transaction that records what it bought (the CSR
//!   token, the issued certificate): it is used up exactly when the step succeeds, and of
//!   concurrent redemptions exactly one wins.
//! - A pairing token is no CSR token and the other way round; a token of the wrong kind is not
//!   used up by the attempt.
//! - The CA decides every field of a certificate but the public key (see
//!   `sextant_pki::CertificateAuthority::sign_client_csr`).
//! - A client certificate stands for a client only while the CA's record of it says so
//!   (issued to that client, not revoked, the client not deleted): [`certificate_client`].
//!
//! Modules: `graphql` (the schema), `error` (its errors and their codes), `identity` (who calls), `revocation` (CRLs and their
//! watcher), `rotation` (trusted CAs, retiring the previous one).
#![forbid(unsafe_code)]

mod error;
mod graphql;
mod identity;
mod revocation;
mod rotation;

pub use error::{ConnectorError, refused_token};
pub use graphql::{
    CertificateSigningRequestInfo, CertificationResult, Configuration, ConnectorSchema,
    KEY_ALGORITHM, ManagementPlaneInfo, Mutation, Query, Settings, SubjectTemplate, Token, prepare,
    schema, sdl,
};
pub use identity::{Caller, CertificateClient, certificate_client, token_caller};
pub use revocation::{
    CRL_NEXT_UPDATE, CrlError, REVOCATION_CHECK_INTERVAL, RevocationListener, RevocationWatcher,
    WatchError, current_crl,
};
pub use rotation::{Retirement, TrustedCas, clients_depending_on_other_cas};
