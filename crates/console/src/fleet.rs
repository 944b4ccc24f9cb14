//! What the runtime pages and the dashboard show of runtimes' agents and client
//! certificates, from the Director's `Runtime.agent` and `Runtime.clientCertificate`.

use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::times;

/// An agent not seen for this long is listed on the dashboard as not seen for a while (an
/// agent in a long poll asks at least every minute).
pub const AGENT_STALE_AFTER: time::Duration = time::Duration::minutes(5);

/// The fields a runtime query selects for [`Agent`] and [`Certificate`].
pub(crate) const FIELDS: &str =
    "agent { lastSeenAt configurationCurrent } clientCertificate { serial expiresAt }";

#[derive(Deserialize)]
pub(crate) struct Agent {
    #[serde(rename = "lastSeenAt")]
    last_seen_at: String,
    #[serde(rename = "configurationCurrent")]
    configuration_current: bool,
}

#[derive(Deserialize)]
pub(crate) struct Certificate {
    serial: String,
    #[serde(rename = "expiresAt")]
    expires_at: String,
}

/// A runtime's agent and certificate as a page shows them.
pub(crate) struct Fleet {
    /// When the agent was last seen, or that it never was.
    pub(crate) last_seen: String,
    /// Whether the agent was not seen for [`AGENT_STALE_AFTER`].
    pub(crate) stale: bool,
    /// "Current", "Behind" or "Unknown" (never seen).
    pub(crate) configuration: &'static str,
    /// When the newest valid certificate expires, or that there is none.
    pub(crate) certificate_expires: String,
    pub(crate) certificate_serial: Option<String>,
}

impl Fleet {
    pub(crate) fn of(agent: Option<&Agent>, certificate: Option<&Certificate>) -> Fleet {
        let now = OffsetDateTime::now_utc();
        let stale = agent
            .and_then(|a| OffsetDateTime::parse(&a.last_seen_at, &Rfc3339).ok())
            .is_some_and(|at| now - at > AGENT_STALE_AFTER);
        Fleet {
            last_seen: agent.map_or_else(|| "Never".to_owned(), |a| times::text(&a.last_seen_at)),
            stale,
            configuration: match agent {
                Some(a) if a.configuration_current => "Current",
                Some(_) => "Behind",
                None => "Unknown",
            },
            certificate_expires: certificate.map_or_else(
                || "No valid certificate".to_owned(),
                |c| times::text(&c.expires_at),
            ),
            certificate_serial: certificate.map(|c| c.serial.clone()),
        }
    }
}
