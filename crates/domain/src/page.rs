//! Pagination: `first` 1..100 and opaque cursors.
//!
//! Cursors are keyset positions (the id of the last item of a page), not offsets: walking the
//! pages of a list that changes meanwhile never repeats or skips an item that stays put.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

/// Largest and default page size.
pub const MAX_PAGE_SIZE: u32 = 100;

const CURSOR_PREFIX: &str = "sx1:";

/// A position in a list ordered by id: the page starts after this id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor(pub Uuid);

impl Cursor {
    pub fn encode(self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{CURSOR_PREFIX}{}", self.0))
    }

    pub fn decode(s: &str) -> Result<Cursor, String> {
        let invalid = || format!("cursor {s:?} is not valid");
        let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let id = text.strip_prefix(CURSOR_PREFIX).ok_or_else(invalid)?;
        Uuid::parse_str(id).map(Cursor).map_err(|_| invalid())
    }
}

/// What page the caller asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    pub first: u32,
    pub after: Option<Cursor>,
}

impl PageRequest {
    /// Checks `first` (1..100) and decodes `after`.
    pub fn parse(first: Option<i32>, after: Option<&str>) -> Result<PageRequest, String> {
        let first = match first {
            None => MAX_PAGE_SIZE,
            Some(n) if (1..=MAX_PAGE_SIZE as i32).contains(&n) => n as u32,
            Some(n) => {
                return Err(format!(
                    "page size must be between 1 and {MAX_PAGE_SIZE}, got {n}"
                ));
            }
        };
        let after = match after {
            None | Some("") => None,
            Some(s) => Some(Cursor::decode(s)?),
        };
        Ok(PageRequest { first, after })
    }

    /// The first page of the largest size.
    pub fn all() -> PageRequest {
        PageRequest {
            first: MAX_PAGE_SIZE,
            after: None,
        }
    }
}

/// One page of a list.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The number of items in the whole (filtered) list.
    pub total_count: i64,
    pub has_next_page: bool,
}

impl<T> Page<T> {
    /// Builds a page from up to `first + 1` rows fetched in id order: the extra row only says
    /// that another page exists.
    pub fn from_rows(mut rows: Vec<T>, request: &PageRequest, total_count: i64) -> Page<T> {
        let has_next_page = rows.len() > request.first as usize;
        rows.truncate(request.first as usize);
        Page {
            items: rows,
            total_count,
            has_next_page,
        }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            total_count: self.total_count,
            has_next_page: self.has_next_page,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip_and_garbage() {
        let c = Cursor(Uuid::new_v4());
        assert_eq!(Cursor::decode(&c.encode()), Ok(c));
        assert!(Cursor::decode("garbage!").is_err());
        assert!(Cursor::decode(&URL_SAFE_NO_PAD.encode("sx1:not-a-uuid")).is_err());
        assert!(Cursor::decode(&URL_SAFE_NO_PAD.encode(Uuid::new_v4().to_string())).is_err());
    }

    #[test]
    fn page_size_bounds() {
        assert_eq!(PageRequest::parse(None, None).map(|p| p.first), Ok(100));
        assert_eq!(PageRequest::parse(Some(1), None).map(|p| p.first), Ok(1));
        assert!(PageRequest::parse(Some(0), None).is_err());
        assert!(PageRequest::parse(Some(101), None).is_err());
        assert!(PageRequest::parse(Some(-5), None).is_err());
        assert_eq!(
            PageRequest::parse(Some(5), Some("")).map(|p| p.after),
            Ok(None)
        );
    }

    #[test]
    fn extra_row_means_next_page() {
        let req = PageRequest {
            first: 2,
            after: None,
        };
        let page = Page::from_rows(vec![1, 2, 3], &req, 7);
        assert_eq!(page.items, vec![1, 2]);
        assert!(page.has_next_page);
        let page = Page::from_rows(vec![1, 2], &req, 2);
        assert!(!page.has_next_page);
    }
}
