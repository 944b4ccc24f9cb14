//! Deleting an object whose name the user typed to confirm: the one shape of the
//! application, runtime, integration system and template pages' delete forms.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use serde::de::IgnoredAny;
use serde_json::json;

use crate::error::ConsoleError;
use crate::form::FormData;
use crate::graphql::{self, Refusal};
use crate::render::{self, not_found, see_other};
use crate::session::Session;
use crate::state::ConsoleState;

/// A detail page with a delete form (`confirm_name`) and room for its error.
pub(crate) trait DeletablePage: Template {
    fn name(&self) -> &str;
    fn delete_error(&mut self) -> &mut Option<String>;
}

/// What a confirmed deletion runs.
pub(crate) struct Deletion<'a> {
    /// The kind of object, as the error names it ("application").
    pub(crate) what: &'a str,
    /// The mutation, with one variable `$id`.
    pub(crate) mutation: &'static str,
    pub(crate) id: &'a str,
    /// Where the browser goes once the object is gone.
    pub(crate) done: &'a str,
}

/// Runs the deletion when the posted `confirm_name` is the page's name; otherwise, or when
/// the Director refuses, shows the page again with the error beside the form (the object
/// gone meanwhile is a 404).
pub(crate) async fn confirmed<P: DeletablePage>(
    state: &ConsoleState,
    session: &Session,
    form: &FormData,
    mut page: P,
    deletion: Deletion<'_>,
) -> Result<Response, ConsoleError> {
    if form.text("confirm_name") != page.name() {
        let message = format!(
            "Type the {}'s name, {:?}, to delete it.",
            deletion.what,
            page.name()
        );
        *page.delete_error() = Some(message);
        return render::html(StatusCode::UNPROCESSABLE_ENTITY, &page);
    }
    match graphql::execute::<IgnoredAny>(
        state,
        session.consumer(),
        deletion.mutation,
        json!({ "id": deletion.id }),
    )
    .await?
    {
        Ok(_) => Ok(see_other(deletion.done)),
        Err(refusals) if Refusal::is_not_found(&refusals) => Ok(not_found()),
        Err(refusals) => {
            *page.delete_error() = Some(Refusal::messages(&refusals));
            render::html(Refusal::status(&refusals), &page)
        }
    }
}
