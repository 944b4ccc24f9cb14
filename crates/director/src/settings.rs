//! The Director's [`Settings`], given by the server that serves it.

/// What the Director needs to know about the rest of the server.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Where OAuth2 clients get their tokens (`OAuthCredentialData.url`).
    pub token_url: String,
    /// Where one-time tokens are redeemed (`OneTimeToken.connectorURL`).
    pub connector_url: String,
    /// How long a one-time token for an application is valid (Compass: 5 minutes).
    pub application_token_ttl: std::time::Duration,
    /// How long a one-time token for a runtime is valid (Compass: 60 minutes).
    pub runtime_token_ttl: std::time::Duration,
    /// What one request may cost.
    pub limits: sextant_graphql_cost::Limits,
    /// How large fetched specs may be, and the spec quotas of applications and tenants.
    pub spec_limits: sextant_domain::SpecLimits,
}
