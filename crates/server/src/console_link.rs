//! `sextant admin console-link`'s work: a one-time console login link stored in the
//! database the servers share, and the URL that redeems it.

use std::path::Path;

use sextant_domain::TenantId;
use sextant_store::ConsoleGrant;

use crate::error::ServerError;

/// What a login link grants and where it points.
pub struct ConsoleLink {
    /// The tenants (the first is where the session starts).
    pub tenants: Vec<TenantId>,
    pub scopes: Vec<String>,
    pub subject: String,
    /// The main listener's public URL.
    pub public_url: url::Url,
}

/// Stores a new login link in the database at `database_url` (by default the data
/// directory's SQLite database) and returns the URL that opens it; it can be used once,
/// within [`sextant_console::LINK_TTL`].
pub async fn console_link(
    data_dir: &Path,
    database_url: Option<&str>,
    link: ConsoleLink,
) -> Result<String, ServerError> {
    let url = match database_url {
        Some(url) => url.to_owned(),
        None => format!("sqlite://{}", data_dir.join("sextant.db").display()),
    };
    let store = sextant_store::connect(&url).await?;
    let token = sextant_console::create_login_link(
        store.as_ref(),
        ConsoleGrant {
            subject: link.subject,
            tenants: link.tenants,
            scopes: link.scopes,
        },
        time::OffsetDateTime::now_utc(),
        sextant_console::LINK_TTL,
    )
    .await?;
    Ok(sextant_console::login_url(&link.public_url, &token))
}
