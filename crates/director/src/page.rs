//! Pages of lists: the page a request asks for, and the `pageInfo` and `totalCount` of the
//! page answered.

use async_graphql::SimpleObject;
use sextant_domain::validate::NAME_MAX;
use sextant_domain::{Cursor, DomainError, FieldError, Page, PageRequest};
use uuid::Uuid;

use crate::error::{GqlResult, to_graphql};
use crate::scalars::PageCursor;

/// The page a list's `first` and `after` arguments ask for.
pub fn page(first: Option<i32>, after: Option<PageCursor>) -> GqlResult<PageRequest> {
    PageRequest::parse(first, after.as_ref().map(|c| c.0.as_str()))
        .map_err(|m| to_graphql(DomainError::Invalid(m)))
}

/// A list's `namePrefix` argument (Sextant) as the store compares it: lower case (names
/// are), `None` when blank; longer than a name may be is refused, as an error of `path`'s
/// argument.
pub fn name_prefix(
    path: &'static str,
    prefix: Option<String>,
) -> Result<Option<String>, DomainError> {
    let Some(prefix) = prefix.map(|p| p.trim().to_lowercase()) else {
        return Ok(None);
    };
    if prefix.is_empty() {
        return Ok(None);
    }
    if prefix.chars().count() > NAME_MAX {
        return Err(FieldError::new(
            path,
            "namePrefix",
            format!("must be no more than {NAME_MAX} characters"),
        )
        .into());
    }
    Ok(Some(prefix))
}

#[derive(SimpleObject)]
pub struct PageInfo {
    pub start_cursor: PageCursor,
    pub end_cursor: PageCursor,
    pub has_next_page: bool,
}

/// `pageInfo` as Compass filled it: `startCursor` echoes `after`, and `endCursor` names the
/// next page, so it is empty on the last one.
pub fn page_info<T, I: Into<Uuid>>(
    page: &Page<T>,
    request: &PageRequest,
    id: impl Fn(&T) -> I,
) -> PageInfo {
    let end_cursor = match page.items.last() {
        Some(last) if page.has_next_page => Cursor(id(last).into()).encode(),
        _ => String::new(),
    };
    PageInfo {
        start_cursor: PageCursor(request.after.map(Cursor::encode).unwrap_or_default()),
        end_cursor: PageCursor(end_cursor),
        has_next_page: page.has_next_page,
    }
}

/// A page's `totalCount`: the store's count, within `Int`'s range.
pub fn total(page_total: i64) -> i32 {
    i32::try_from(page_total).unwrap_or(i32::MAX)
}
