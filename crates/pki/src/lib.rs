//! The built-in certificate authority of Sextant.
//!
//! Everything here is a pure function over PEM/DER values: the crate does no file or network
//! I/O, so the caller decides where keys and certificates live (database, disk, secret store).
//!
//! What it does:
//! - [`generate_ca`] creates the self-signed root CA, and [`CertificateAuthority`] loads it
//!   back and issues server certificates for the listeners
//!   ([`CertificateAuthority::issue_server_certificate`]).
//! - [`CertificateAuthority::sign_client_csr`] signs a client's CSR for the Connector: it
//!   verifies the CSR's signature, accepts only ECDSA P-256 or RSA 2048–4096 keys and exactly
//!   the expected subject, and sets every other field itself.
//! - [`CertificateAuthority::sign_serving_csr`] signs a runtime's CSR for its event gateway's
//!   TLS server certificate (with a CA of its own, the runtime serving CA): the runtime's id
//!   as a URI name, only names the [`ServingNamePolicy`] binds to that runtime, serverAuth
//!   only; [`serving_certificate_runtime`] reads the runtime back for a client to check.
//! - [`generate_signing_key`] and [`public_key_pem`] handle the ES256 key used to sign JWTs.
//! - [`certificate_summary`] reads validity, names and serial out of a stored certificate so
//!   the caller can decide whether to re-issue it.
//!
//! All keys are ECDSA P-256 and all cryptography goes through aws-lc-rs (via rcgen and
//! rustls), the single crypto provider of the workspace.
#![forbid(unsafe_code)]

mod ca;
mod crl;
mod csr;
mod error;
mod identity;
mod keys;
mod serial;
mod serving;
mod summary;

pub use ca::{CertificateAuthority, CertifiedKey, generate_ca};
pub use csr::{ClientKey, ClientSubject, CsrError, IssuedCertificate, MAX_CSR_PEM_BYTES};
pub use error::PkiError;
pub use identity::{ClaimedIdentity, IdentityError, client_certificate_identity};
pub use keys::{generate_signing_key, public_key_pem};
pub use serving::{
    MAX_SERVING_NAMES, ServingError, ServingIdentityError, ServingNameError, ServingNamePolicy,
    check_serving_names, runtime_uri, serving_certificate_runtime,
};
pub use summary::{CertificateSummary, certificate_summary};
