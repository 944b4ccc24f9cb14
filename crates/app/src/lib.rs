//! The application client: what an application (a Rust program, or `sextant app`) uses to
//! take part in the seed's flows.
//!
//! - **Pairing** ([`AppClient::pair`]): a one-time token from `requestOneTimeTokenForApplication`
//!   (the raw token with the Connector's URL, or Compass's `rawEncoded`: base64 of
//!   `{"token", "connectorURL"}`) is redeemed at the token-secured Connector
//!   (`configuration` with `Connector-Token`, a P-256 key, a CSR for exactly the subject given,
//!   `signCertificateSigningRequest` with the CSR token). Key, certificate, CA bundle and
//!   `state.json` go into the state directory (0700, files 0600, written atomically; see
//!   [`state`]). The Director then tells the application who it is: an application sees only
//!   itself among the applications, so its id is recorded in the state (the certificate's
//!   CN is a client id, not the application's id). A restart resumes without a token
//!   ([`AppClient::open`]); a spent token is remembered by its hash and refused locally.
//! - **Renewal**: at two thirds of the certificate's life (checked whenever the client is
//!   opened, and continuously by [`AppClient::keep_renewed`]) or on demand
//!   ([`AppClient::renew`]), through the certificate-secured Connector over mTLS.
//! - **Registration** ([`register::register`], [`Manifest`]): APIs, event APIs and documents
//!   through the certificate-secured Director as the application itself; idempotent by name.
//! - **Configuration** ([`AppClient::pull_configuration`]): the pull variant of "get
//!   configuration for assigned runtimes": the application's scenarios and
//!   `eventingConfiguration.defaultURL`, saved as `configuration.json`.
//! - **Webhooks** ([`webhook::WebhookListener`]): the Application Webhook API, signed
//!   notifications verified and handled once per event id; [`webhook::ClientHandler`] answers
//!   credential requests with `setAPIAuth` and configuration changes with a pull.
//! - **Events** ([`AppClient::send_event`]): Kyma events to a runtime's event gateway with the
//!   application's client certificate, trusting the management plane's runtime serving CA.
//!
//! ```no_run
//! # async fn example() -> Result<(), sextant_app::AppError> {
//! use std::path::Path;
//! use sextant_app::{AppClient, PairOptions};
//!
//! let client = AppClient::pair(
//!     Path::new("./app-state"),
//!     PairOptions { token: Some("<rawEncoded>".into()), ..PairOptions::default() },
//! )
//! .await?;
//! let config = client.pull_configuration(None).await?;
//! println!("events go to {:?}", config.event_url);
//! # Ok(())
//! # }
//! ```
//!
//! Must not know: runtimes' agents or the server's internals. It depends on `sextant-client`
//! and talks to the management plane only over its public APIs, as any application would.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod client;
pub mod config;
mod error;
mod http;
pub mod register;
pub mod state;
pub mod webhook;

pub use client::{AppClient, Identity, OneTimeToken, PairOptions};
pub use config::{AppConfiguration, AssignedRuntime, Event};
pub use error::AppError;
pub use register::{Manifest, Registered};
pub use sextant_client::certs::{CertError, CertificateInfo};
pub use sextant_client::chain;
pub use state::{AppState, StateError, read_state};
pub use webhook::{ClientHandler, CredentialSource, WebhookEvent, WebhookHandler, WebhookListener};

/// Pretty JSON of a value (what `sextant app` prints).
pub fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
