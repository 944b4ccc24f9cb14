//! Cursor pagination of a list, forward and back: the Director's cursors go forward only,
//! so a page's URL carries the cursors of the pages before it (`trail`), and "previous"
//! drops the last of them.

/// The position of one list on a page, and how to link to its neighbours. A page showing
/// two lists keeps the other list's position in its links (`keep`).
pub(crate) struct Pager {
    path: String,
    keep: Vec<(String, String)>,
    after_name: &'static str,
    trail_name: &'static str,
    after: String,
    trail: Vec<String>,
}

impl Pager {
    /// The list at `path` whose position is in the query parameters `after_name` and
    /// `trail_name` (as read from the request: `after` is the page's cursor, `trail` the
    /// comma-separated cursors of the pages between the first and this one).
    pub(crate) fn new(
        path: impl Into<String>,
        after_name: &'static str,
        trail_name: &'static str,
        after: &str,
        trail: &str,
    ) -> Pager {
        let after = after.trim().to_owned();
        let trail = if after.is_empty() {
            Vec::new()
        } else {
            trail
                .split(',')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect()
        };
        Pager {
            path: path.into(),
            keep: Vec::new(),
            after_name,
            trail_name,
            after,
            trail,
        }
    }

    /// Query parameters every link of this list keeps (a filter, another list's position).
    pub(crate) fn keep(mut self, name: &str, value: &str) -> Pager {
        if !value.is_empty() {
            self.keep.push((name.to_owned(), value.to_owned()));
        }
        self
    }

    /// The cursor to ask the Director for (`None`: the first page).
    pub(crate) fn after(&self) -> Option<&str> {
        (!self.after.is_empty()).then_some(self.after.as_str())
    }

    /// This list's position as query parameters, for another list's links to keep.
    pub(crate) fn position(&self) -> Vec<(&'static str, String)> {
        let mut position = Vec::new();
        if !self.after.is_empty() {
            position.push((self.after_name, self.after.clone()));
            if !self.trail.is_empty() {
                position.push((self.trail_name, self.trail.join(",")));
            }
        }
        position
    }

    fn href(&self, after: &str, trail: &[String]) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in &self.keep {
            query.append_pair(name, value);
        }
        if !after.is_empty() {
            query.append_pair(self.after_name, after);
            if !trail.is_empty() {
                query.append_pair(self.trail_name, &trail.join(","));
            }
        }
        let query = query.finish();
        if query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{query}", self.path)
        }
    }

    /// The link to the page after this one, whose cursor is `end_cursor`, if there is one.
    pub(crate) fn next(&self, has_next_page: bool, end_cursor: &str) -> Option<String> {
        if !has_next_page || end_cursor.is_empty() {
            return None;
        }
        let mut trail = self.trail.clone();
        if !self.after.is_empty() {
            trail.push(self.after.clone());
        }
        Some(self.href(end_cursor, &trail))
    }

    /// The link to the page before this one (none on the first page).
    pub(crate) fn previous(&self) -> Option<String> {
        if self.after.is_empty() {
            return None;
        }
        Some(match self.trail.split_last() {
            Some((before, rest)) => self.href(before, rest),
            None => self.href("", &[]),
        })
    }

    /// The number (from 1) of the page's first row, with `page_size` rows a page.
    pub(crate) fn first_row(&self, page_size: u32) -> i64 {
        let pages_before = self.trail.len() + usize::from(!self.after.is_empty());
        i64::try_from(pages_before).unwrap_or(0) * i64::from(page_size) + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_forward_and_back_keeping_the_rest() {
        let first = Pager::new("/console/x", "after", "trail", "", "ignored").keep("k", "v");
        assert_eq!(first.after(), None);
        assert_eq!(first.previous(), None);
        assert_eq!(first.first_row(50), 1);
        assert_eq!(
            first.next(true, "c1").as_deref(),
            Some("/console/x?k=v&after=c1")
        );
        assert_eq!(first.next(false, ""), None);

        let third = Pager::new("/console/x", "after", "trail", "c2", "c1");
        assert_eq!(third.after(), Some("c2"));
        assert_eq!(third.first_row(50), 101);
        assert_eq!(
            third.next(true, "c3").as_deref(),
            Some("/console/x?after=c3&trail=c1%2Cc2")
        );
        assert_eq!(third.previous().as_deref(), Some("/console/x?after=c1"));
        let second = Pager::new("/console/x", "after", "trail", "c1", "");
        assert_eq!(second.previous().as_deref(), Some("/console/x"));
        assert_eq!(
            third.position(),
            vec![("after", "c2".to_owned()), ("trail", "c1".to_owned())]
        );
    }
}
