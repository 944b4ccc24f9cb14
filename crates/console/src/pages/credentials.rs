//! What the pages of integration systems and applications share about OAuth2 clients: the
//! wire shape of a system auth as the Director answers it, and the one page that shows a
//! new client's secret.

use askama::Template;
use serde::Deserialize;

use crate::render::Chrome;

/// A system auth of an integration system or application (`auths`, or the answer to
/// `requestClientCredentialsFor…`).
#[derive(Deserialize)]
pub(crate) struct SystemAuth {
    pub(crate) id: String,
    pub(crate) auth: Option<Auth>,
}

#[derive(Deserialize)]
pub(crate) struct Auth {
    pub(crate) credential: Credential,
}

/// An OAuth2 credential's fields (absent for other credentials, and without `auth` for an
/// application's paired clients).
#[derive(Deserialize)]
pub(crate) struct Credential {
    #[serde(rename = "clientId", default)]
    pub(crate) client_id: String,
    #[serde(rename = "clientSecret", default)]
    pub(crate) client_secret: String,
    #[serde(default)]
    pub(crate) url: String,
}

/// One client of an integration system or application, as their pages list it: OAuth2
/// client credentials (the secret was shown once, when they were made) or, for an
/// application, a client paired with a one-time token, which holds certificates.
pub(crate) struct CredentialRow {
    pub(crate) id: String,
    /// The OAuth2 client id ("" for a paired client).
    pub(crate) client_id: String,
    pub(crate) url: String,
}

impl SystemAuth {
    /// The OAuth2 credential, if the auth has one.
    pub(crate) fn credential(self) -> Option<Credential> {
        self.auth.map(|a| a.credential)
    }

    /// Its row in a list of clients (never the secret).
    pub(crate) fn row(self) -> CredentialRow {
        let id = self.id.clone();
        let credential = self.credential();
        CredentialRow {
            id,
            client_id: credential
                .as_ref()
                .map(|c| c.client_id.clone())
                .unwrap_or_default(),
            url: credential.map(|c| c.url).unwrap_or_default(),
        }
    }
}

/// The answer to a credentials request (of an integration system or an application): the
/// only page that ever shows the secret.
#[derive(Template)]
#[template(path = "credentials.html")]
pub(crate) struct CredentialsPage {
    pub(crate) chrome: Chrome,
    pub(crate) owner_name: String,
    /// The owner's page.
    pub(crate) back_href: String,
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    pub(crate) url: String,
}

impl CredentialsPage {
    /// The page for a client just made for `owner_name`, whose page is `back_href`.
    pub(crate) fn shown(
        chrome: Chrome,
        owner_name: String,
        back_href: String,
        requested: SystemAuth,
    ) -> CredentialsPage {
        let credential = requested.credential();
        CredentialsPage {
            chrome,
            owner_name,
            back_href,
            client_id: credential
                .as_ref()
                .map(|c| c.client_id.clone())
                .unwrap_or_default(),
            client_secret: credential
                .as_ref()
                .map(|c| c.client_secret.clone())
                .unwrap_or_default(),
            url: credential.map(|c| c.url).unwrap_or_default(),
        }
    }
}
