//! The forms posted to an application's page besides deletion: a delivery sent again, a
//! test event, a certificate or a client revoked, credentials requested for a runtime;
//! each through the Director's GraphQL, then the page again (or the refusal beside it).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ConsoleError;
use crate::graphql::{self, Refusal};
use crate::pages::credentials::{CredentialsPage, SystemAuth};
use crate::render::{self, not_found, see_other};
use crate::state::ConsoleState;

use crate::session::Session;

use super::detail::{DetailPage, posted_detail};

/// Where the page shows an action's refusal.
#[derive(Clone, Copy)]
enum Beside {
    Deliveries,
    Webhooks,
    Certificates,
    Credentials,
}

/// Runs an action's mutation for the application's page the form was posted to: then the
/// page again (303), 404 when the Director finds no such object for this session, or the
/// page with the refusal shown `beside` the section it concerns.
async fn act(
    state: &ConsoleState,
    session: &Session,
    mut page: DetailPage,
    mutation: &str,
    variables: Value,
    beside: Beside,
) -> Result<Response, ConsoleError> {
    match graphql::execute::<Value>(state, session.consumer(), mutation, variables).await? {
        Ok(_) => Ok(see_other(&format!(
            "/console/applications/{}",
            render::segment(&page.id)
        ))),
        Err(refusals) if Refusal::is_not_found(&refusals) => Ok(not_found()),
        Err(refusals) => {
            let shown = Some(Refusal::messages(&refusals));
            match beside {
                Beside::Deliveries => page.resend_error = shown,
                Beside::Webhooks => page.webhook_error = shown,
                Beside::Certificates => page.certificates_error = shown,
                Beside::Credentials => page.credentials_error = shown,
            }
            render::html(Refusal::status(&refusals), &page)
        }
    }
}

/// `POST /console/applications/{id}/deliveries/{delivery}/resend`: queues the delivery's
/// event again (the notifier sends it, not this request), then shows the application.
pub(crate) async fn resend_delivery(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path((id, delivery)): Path<(String, String)>,
    body: Body,
) -> Result<Response, ConsoleError> {
    let (session, _, page) = match posted_detail(&state, &headers, body, &id).await? {
        Ok(posted) => posted,
        Err(answer) => return Ok(answer),
    };
    act(
        &state,
        &session,
        page,
        "mutation($id: ID!) { resendWebhookDelivery(deliveryID: $id) { id } }",
        json!({ "id": delivery }),
        Beside::Deliveries,
    )
    .await
}

/// `POST /console/applications/{id}/webhooks/{webhook}/test`: queues a `TEST` event for one
/// of the application's webhooks (`sendTestWebhookEvent`; the notifier sends it, signed and
/// logged like any delivery), then shows the application. The webhook must be one this
/// application's page lists: another application's or tenant's id is 404.
pub(crate) async fn send_test_event(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path((id, webhook)): Path<(String, String)>,
    body: Body,
) -> Result<Response, ConsoleError> {
    let (session, _, page) = match posted_detail(&state, &headers, body, &id).await? {
        Ok(posted) => posted,
        Err(answer) => return Ok(answer),
    };
    if !page.webhooks.iter().any(|w| w.id == webhook) {
        return Ok(not_found());
    }
    act(
        &state,
        &session,
        page,
        "mutation($id: ID!) { sendTestWebhookEvent(webhookID: $id) { id } }",
        json!({ "id": webhook }),
        Beside::Webhooks,
    )
    .await
}

/// `POST /console/applications/{id}/certificates/{serial}/revoke`: revokes one certificate
/// of the application's clients (`revokeClientCertificate`: refused on the mTLS listener
/// from then on), then shows the application. The serial must be one this application's
/// page lists: another application's or tenant's is 404.
pub(crate) async fn revoke_certificate(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path((id, serial)): Path<(String, String)>,
    body: Body,
) -> Result<Response, ConsoleError> {
    let (session, _, page) = match posted_detail(&state, &headers, body, &id).await? {
        Ok(posted) => posted,
        Err(answer) => return Ok(answer),
    };
    if !page.certificates.iter().any(|c| c.serial == serial) {
        return Ok(not_found());
    }
    act(
        &state,
        &session,
        page,
        "mutation($serial: String!) { revokeClientCertificate(serial: $serial) { serial } }",
        json!({ "serial": serial }),
        Beside::Certificates,
    )
    .await
}

#[derive(Deserialize)]
struct Requested {
    #[serde(rename = "requestClientCredentialsForApplication")]
    requested: SystemAuth,
}

const REQUEST_CREDENTIALS: &str = "mutation($id: ID!) { \
    requestClientCredentialsForApplication(id: $id) { id auth { credential { \
    ... on OAuthCredentialData { clientId clientSecret url } } } } }";

/// `POST /console/applications/{id}/credentials`: makes an OAuth2 client for the
/// application and shows its secret, this once (no other page asks for it).
pub(crate) async fn request_credentials(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ConsoleError> {
    let (session, _, mut page) = match posted_detail(&state, &headers, body, &id).await? {
        Ok(posted) => posted,
        Err(answer) => return Ok(answer),
    };
    match graphql::execute::<Requested>(
        &state,
        session.consumer(),
        REQUEST_CREDENTIALS,
        json!({ "id": page.id }),
    )
    .await?
    {
        Ok(Requested { requested }) => render::html(
            StatusCode::OK,
            &CredentialsPage::shown(
                page.chrome,
                page.name,
                format!("/console/applications/{}", render::segment(&page.id)),
                requested,
            ),
        ),
        Err(refusals) if Refusal::is_not_found(&refusals) => Ok(not_found()),
        Err(refusals) => {
            page.credentials_error = Some(Refusal::messages(&refusals));
            render::html(Refusal::status(&refusals), &page)
        }
    }
}

/// `POST /console/applications/{id}/credentials/{auth}/revoke`: deletes one of the
/// application's clients (`deleteSystemAuthForApplication`), which revokes every
/// certificate issued to it. The client must be one this application's page lists: another
/// application's or tenant's id is 404.
pub(crate) async fn revoke_credential(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Path((id, auth)): Path<(String, String)>,
    body: Body,
) -> Result<Response, ConsoleError> {
    let (session, _, page) = match posted_detail(&state, &headers, body, &id).await? {
        Ok(posted) => posted,
        Err(answer) => return Ok(answer),
    };
    if !page.credentials.iter().any(|c| c.id == auth) {
        return Ok(not_found());
    }
    act(
        &state,
        &session,
        page,
        "mutation($id: ID!) { deleteSystemAuthForApplication(authID: $id) { id } }",
        json!({ "id": auth }),
        Beside::Credentials,
    )
    .await
}
