//! `/console/applications/{id}/connect`: connecting an application. A POST asks the Director
//! for a one-time token (`requestOneTimeTokenForApplication`) and answers the token, its
//! Connector, its expiry, the `sextant app pair` command and the openssl/curl steps; the
//! token is shown on that answer only. The page then follows the token's state
//! (`oneTimeTokenStatus`, by the id of the client it pairs, never by the token) in a
//! fragment that htmx polls every two seconds until the token is used or expired.
//!
//! Without JavaScript the page shows the absolute expiry and the state it was rendered
//! with; with it, `countdown.js` (an embedded asset, no inline script) counts the expiry
//! down in the fragment while the token is unused.

use askama::Template;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use crate::error::ConsoleError;
use crate::form;
use crate::graphql::{self, Refusal};
use crate::render::{self, Chrome, not_found, read_refused, to_login};
use crate::session::{self, Session};
use crate::state::ConsoleState;
use crate::times;

/// The token as its page shows it, on the answer to the POST that made it.
pub(crate) struct TokenView {
    token: String,
    connector_url: String,
    /// RFC 3339, for `<time datetime>` and the countdown.
    expires_at: String,
    /// The same, for people.
    expires_text: String,
    pair_command: String,
    openssl_steps: String,
}

/// A token's state as its fragment shows it.
pub(crate) struct StatusView {
    /// `UNUSED`, `USED` or `EXPIRED`.
    state: String,
    used_at: String,
    used_text: String,
    /// RFC 3339 while the token is unused (the countdown's target), else "".
    expires_at: String,
    /// The same, for people.
    expires_text: String,
    /// The fragment's own URL, which it polls while the token is unused.
    href: String,
}

impl StatusView {
    fn polls(&self) -> bool {
        self.state == "UNUSED"
    }
}

#[derive(Template)]
#[template(path = "application_connect.html")]
struct ConnectPage {
    chrome: Chrome,
    id: String,
    name: String,
    token: Option<TokenView>,
    status: Option<StatusView>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "application_connect_status.html")]
struct StatusFragment {
    status: StatusView,
}

/// The fragment that replaces the state when it cannot be shown; it does not poll.
#[derive(Template)]
#[template(path = "application_connect_message.html")]
struct StatusMessage {
    message: String,
    page_href: String,
}

#[derive(Deserialize)]
struct NameAnswer {
    application: Option<Named>,
}

#[derive(Deserialize)]
struct Named {
    id: String,
    name: String,
}

/// The application's id and name as `session` sees it; `None` when it does not exist or is
/// out of reach.
async fn application(
    state: &ConsoleState,
    session: &Session,
    id: &str,
) -> Result<Result<Option<Named>, Vec<Refusal>>, ConsoleError> {
    if uuid::Uuid::parse_str(id).is_err() {
        return Ok(Ok(None));
    }
    match graphql::execute::<NameAnswer>(
        state,
        session.consumer(),
        "query($id: ID!) { application(id: $id) { id name } }",
        json!({ "id": id }),
    )
    .await?
    {
        Ok(answer) => Ok(Ok(answer.application)),
        Err(refusals) if Refusal::is_not_found(&refusals) => Ok(Ok(None)),
        Err(refusals) => Ok(Err(refusals)),
    }
}

/// `GET /console/applications/{id}/connect`: what connecting takes, and the button that
/// issues a token (only for sessions with `application:write`).
pub(crate) async fn show(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    let Some(session) = session::current(&state, &headers).await? else {
        return Ok(to_login());
    };
    match application(&state, &session, &id).await? {
        Ok(Some(app)) => render::html(
            StatusCode::OK,
            &ConnectPage {
                chrome: Chrome::of(&session, "applications"),
                id: app.id,
                name: app.name,
                token: None,
                status: None,
                error: None,
            },
        ),
        Ok(None) => Ok(not_found()),
        Err(refusals) => Ok(read_refused(&refusals)),
    }
}

#[derive(Deserialize)]
struct Issued {
    #[serde(rename = "requestOneTimeTokenForApplication")]
    token: IssuedToken,
}

#[derive(Deserialize)]
struct IssuedToken {
    id: String,
    token: String,
    #[serde(rename = "connectorURL")]
    connector_url: String,
    #[serde(rename = "expiresAt")]
    expires_at: String,
}

const ISSUE: &str = "mutation($id: ID!) { requestOneTimeTokenForApplication(id: $id) { \
    id token connectorURL expiresAt } }";

/// `POST /console/applications/{id}/connect`: a new one-time token, shown this once.
pub(crate) async fn issue(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ConsoleError> {
    let (session, _) = match form::posted(&state, &headers, body).await? {
        Ok(posted) => posted,
        Err(refused) => return Ok(refused),
    };
    let app = match application(&state, &session, &id).await? {
        Ok(Some(app)) => app,
        Ok(None) => return Ok(not_found()),
        Err(refusals) => return Ok(read_refused(&refusals)),
    };
    let mut page = ConnectPage {
        chrome: Chrome::of(&session, "applications"),
        id: app.id,
        name: app.name,
        token: None,
        status: None,
        error: None,
    };
    // The Director decides: the scope, the tenant, the application's existence.
    match graphql::execute::<Issued>(&state, session.consumer(), ISSUE, json!({ "id": id })).await?
    {
        Ok(Issued { token }) => {
            page.status = Some(StatusView {
                state: "UNUSED".to_owned(),
                used_at: String::new(),
                used_text: String::new(),
                expires_at: token.expires_at.clone(),
                expires_text: times::text(&token.expires_at),
                href: status_href(&page.id, &token.id),
            });
            page.token = Some(TokenView {
                pair_command: pair_command(&token.token, &token.connector_url),
                openssl_steps: openssl_steps(&token.token, &token.connector_url),
                expires_text: times::text(&token.expires_at),
                expires_at: token.expires_at,
                token: token.token,
                connector_url: token.connector_url,
            });
            render::html(StatusCode::OK, &page)
        }
        Err(refusals) if Refusal::is_not_found(&refusals) => Ok(not_found()),
        Err(refusals) => {
            page.error = Some(Refusal::messages(&refusals));
            render::html(Refusal::status(&refusals), &page)
        }
    }
}

#[derive(Deserialize)]
struct StatusAnswer {
    #[serde(rename = "oneTimeTokenStatus")]
    status: TokenStatus,
}

#[derive(Deserialize)]
struct TokenStatus {
    state: String,
    #[serde(rename = "applicationID")]
    application_id: Option<String>,
    #[serde(rename = "usedAt")]
    used_at: Option<String>,
    #[serde(rename = "expiresAt")]
    expires_at: Option<String>,
}

const STATUS: &str = "query($id: ID!) { oneTimeTokenStatus(id: $id) { \
    state applicationID usedAt expiresAt } }";

fn message(status: StatusCode, text: &str, app_id: &str) -> Result<Response, ConsoleError> {
    render::html(
        status,
        &StatusMessage {
            message: text.to_owned(),
            page_href: page_href(app_id),
        },
    )
}

/// `GET /console/applications/{id}/connect/{token}`: the state of the token whose id (the
/// client it pairs) is `token`, as a fragment that htmx polls while the token is unused.
pub(crate) async fn status(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path((app_id, token_id)): Path<(String, String)>,
) -> Result<Response, ConsoleError> {
    let Some(session) = session::current(&state, &headers).await? else {
        return message(
            StatusCode::UNAUTHORIZED,
            "The console session ended; sign in again to follow the token.",
            &app_id,
        );
    };
    let missing = || {
        message(
            StatusCode::NOT_FOUND,
            "There is no such one-time token.",
            &app_id,
        )
    };
    if uuid::Uuid::parse_str(&app_id).is_err() || uuid::Uuid::parse_str(&token_id).is_err() {
        return missing();
    }
    match graphql::execute::<StatusAnswer>(
        &state,
        session.consumer(),
        STATUS,
        json!({ "id": token_id }),
    )
    .await?
    {
        // Another application's token is not this page's to show.
        Ok(StatusAnswer { status }) if status.application_id.as_deref() == Some(&app_id) => {
            let used_at = status.used_at.unwrap_or_default();
            render::html(
                StatusCode::OK,
                &StatusFragment {
                    status: StatusView {
                        state: status.state,
                        used_text: times::text(&used_at),
                        used_at,
                        expires_text: status
                            .expires_at
                            .as_deref()
                            .map(times::text)
                            .unwrap_or_default(),
                        expires_at: status.expires_at.unwrap_or_default(),
                        href: status_href(&app_id, &token_id),
                    },
                },
            )
        }
        Ok(_) => missing(),
        Err(refusals) if Refusal::is_not_found(&refusals) => missing(),
        Err(refusals) => message(
            StatusCode::FORBIDDEN,
            &Refusal::messages(&refusals),
            &app_id,
        ),
    }
}

fn page_href(app_id: &str) -> String {
    format!("/console/applications/{}/connect", render::segment(app_id))
}

fn status_href(app_id: &str, token_id: &str) -> String {
    format!("{}/{}", page_href(app_id), render::segment(token_id))
}

/// `text` as one word for a POSIX shell: in single quotes, each `'` as `'\''`.
fn shell_word(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The `sextant app pair` command line that pairs with the token (its flags are the CLI's:
/// `--token`, `--connector-url`, `--ca-file`).
fn pair_command(token: &str, connector_url: &str) -> String {
    format!(
        "sextant app pair --token {} --connector-url {} --ca-file ca.crt",
        shell_word(token),
        shell_word(connector_url)
    )
}

/// Pairing with nothing but openssl and curl: the Connector's `configuration` (which spends
/// the token and answers a CSR token and the subject), a P-256 key and a CSR for exactly
/// that subject, and `signCertificateSigningRequest` with the CSR token.
fn openssl_steps(token: &str, connector_url: &str) -> String {
    format!(
        r#"TOKEN={token}; CONNECTOR={connector}
# 1. configuration: spends the one-time token; answers a CSR token and the subject to request.
CONF=$(curl -s --cacert ca.crt "$CONNECTOR" -H "Connector-Token: $TOKEN" -H 'Content-Type: application/json' \
        -d '{{"query":"{{ configuration {{ token {{ token }} certificateSigningRequestInfo {{ subject }} }} }}"}}')
CSR_TOKEN=$(echo "$CONF" | sed 's/.*"token":{{"token":"\([^"]*\)".*/\1/')
SUBJECT=$(echo "$CONF" | sed 's/.*"subject":"\([^"]*\)".*/\1/')
# 2. A P-256 key and a CSR for exactly that subject.
openssl ecparam -name prime256v1 -genkey -noout -out client.key
openssl req -new -key client.key -subj "/$(echo "$SUBJECT" | tr ',' '/')" -out client.csr
# 3. The CA signs it (the CSR token is spent); the answer is base64 of PEM.
curl -s --cacert ca.crt "$CONNECTOR" -H "Connector-Token: $CSR_TOKEN" -H 'Content-Type: application/json' \
     -d '{{"query":"mutation($csr: String!) {{ signCertificateSigningRequest(csr: $csr) {{ clientCertificate }} }}","variables":{{"csr":"'$(base64 -w0 client.csr)'"}}}}' \
  | sed 's/.*"clientCertificate":"\([^"]*\)".*/\1/' | base64 -d > client.crt"#,
        token = shell_word(token),
        connector = shell_word(connector_url),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_quote_for_the_shell() {
        assert_eq!(shell_word("a'b"), r"'a'\''b'");
        assert_eq!(
            pair_command("t0k", "https://mp/connector/graphql"),
            "sextant app pair --token 't0k' --connector-url 'https://mp/connector/graphql' \
             --ca-file ca.crt"
        );
        let steps = openssl_steps("t0k", "https://mp/connector/graphql");
        assert!(steps.starts_with("TOKEN='t0k'; CONNECTOR='https://mp/connector/graphql'\n"));
        assert!(steps.contains(r#"-d '{"query":"{ configuration { token { token } "#));
    }

    #[test]
    fn only_an_unused_token_polls() {
        let view = |state: &str| StatusView {
            state: state.to_owned(),
            used_at: String::new(),
            used_text: String::new(),
            expires_at: String::new(),
            expires_text: String::new(),
            href: String::new(),
        };
        assert!(view("UNUSED").polls());
        assert!(!view("USED").polls());
        assert!(!view("EXPIRED").polls());
    }
}
