//! A client of the management plane, as the Runtime Agent (`sextant-agent`) and the
//! application client (`sextant-app`) both are: what they share to pair, to keep a client
//! certificate, and to call the management plane with it.
//!
//! - [`state`]: the state directory (its layout, files written atomically with mode 0600, the
//!   key, certificate and CA bundle swapped as one so that a crash leaves the old set or the
//!   new one, the one-time tokens already spent).
//! - [`connector`]: the Connector's GraphQL: `configuration` with a one-time token or over
//!   mTLS, a P-256 key and a CSR for the subject it names, `signCertificateSigningRequest`.
//! - [`http`]: HTTPS clients (trusting given CAs, or presenting the client certificate),
//!   GraphQL calls, bounded bodies, and what a failed call was ([`CallError`]).
//! - [`certs`]: keys, CSRs, what a certificate says, SHA-256.
//!
//! It does not know who uses it: nothing here knows runtimes, applications, configuration
//! documents or the Director's schema, and it decides nothing about retrying, re-pairing or
//! giving up; each caller reads a [`CallError`] its own way.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod certs;
pub mod connector;
pub mod http;
pub mod state;

pub use certs::{CertError, CertificateInfo};
pub use http::{CallError, Security, chain};
pub use state::{Connection, Credentials, StateDir, StateError, UsedTokens};
