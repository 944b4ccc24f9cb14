//! The search of the application and runtime lists: the name typed, the label filter, the
//! status and the rows per page chosen, as the list's form shows them and as the Director's
//! `namePrefix`, `filter`, `status` and `first` arguments take them.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::labels::label_filter;
use crate::pager::Pager;

/// A choice of the status filter.
pub(crate) struct StatusOption {
    pub(crate) value: &'static str,
    pub(crate) selected: bool,
}

/// The query parameters of a searched list's page (the applications', the runtimes').
#[derive(Deserialize, Default)]
pub(crate) struct ListQuery {
    /// A label filter: `key` (has the label) or `key=value`.
    #[serde(default)]
    label: String,
    /// The start of the names searched for (case-insensitive).
    #[serde(default)]
    q: String,
    /// A status condition (one of the list's; empty: any).
    #[serde(default)]
    status: String,
    /// Rows per page (one of [`ROWS`]; empty: the first).
    #[serde(default)]
    rows: String,
    /// The page's cursor (absent: the first page).
    #[serde(default)]
    after: String,
    /// The cursors of the pages between the first and this one, comma-separated, so that
    /// "previous" can go back on a forward-only cursor.
    #[serde(default)]
    trail: String,
}

impl ListQuery {
    /// The search these parameters ask for, of a list whose statuses are `all`, and the
    /// list's position at `path`, whose links keep the search.
    pub(crate) fn search(&self, path: &str, all: &[&'static str]) -> (Search, Pager) {
        let search = Search::new(&self.q, &self.label, &self.status, &self.rows, all);
        let pager = search.pager(path, &self.after, &self.trail);
        (search, pager)
    }
}

/// The rows per page a list offers; the first is the default.
pub(crate) const ROWS: [u32; 3] = [50, 20, 100];

/// A choice of the rows per page.
pub(crate) struct RowsOption {
    pub(crate) value: u32,
    pub(crate) selected: bool,
}

/// What the list's form asked for, trimmed.
pub(crate) struct Search {
    /// The start of the names searched for (case-insensitive).
    pub(crate) q: String,
    /// A label filter: `key` (has the label) or `key=value`.
    pub(crate) label: String,
    /// A status condition, or empty for any.
    pub(crate) status: String,
    /// The conditions of the list's status filter, the chosen one selected.
    pub(crate) statuses: Vec<StatusOption>,
    /// The rows per page asked for, as given (empty: the default).
    rows_asked: String,
    /// The rows per page shown: the one asked for when the list offers it.
    pub(crate) rows: u32,
    /// The rows per page the list offers (in ascending order), the shown one selected.
    pub(crate) rows_options: Vec<RowsOption>,
}

impl Search {
    /// The search the list's query parameters ask for: `q`, `label`, `status` (one of
    /// `all`, or empty) and `rows` (one of [`ROWS`], or empty for the default).
    pub(crate) fn new(
        q: &str,
        label: &str,
        status: &str,
        rows: &str,
        all: &[&'static str],
    ) -> Search {
        let status = status.trim().to_owned();
        let rows_asked = rows.trim().to_owned();
        let rows = rows_asked
            .parse::<u32>()
            .ok()
            .filter(|r| ROWS.contains(r))
            .unwrap_or(ROWS[0]);
        let mut offered = ROWS;
        offered.sort_unstable();
        Search {
            rows_options: offered
                .iter()
                .map(|&value| RowsOption {
                    value,
                    selected: value == rows,
                })
                .collect(),
            rows_asked,
            rows,
            statuses: all
                .iter()
                .map(|&value| StatusOption {
                    value,
                    selected: value == status,
                })
                .collect(),
            q: q.trim().to_owned(),
            label: label.trim().to_owned(),
            status,
        }
    }

    /// Whether any search or filter narrows the list.
    pub(crate) fn narrowed(&self) -> bool {
        !self.q.is_empty() || !self.label.is_empty() || !self.status.is_empty()
    }

    /// The refusal of a status the list does not have or of rows per page it does not
    /// offer, if one was asked for.
    pub(crate) fn refusal(&self) -> Option<String> {
        let known = self.statuses.iter().any(|o| o.value == self.status);
        if !self.status.is_empty() && !known {
            let all: Vec<&str> = self.statuses.iter().map(|o| o.value).collect();
            return Some(format!(
                "There is no status {:?}: choose one of {}.",
                self.status,
                all.join(", ")
            ));
        }
        let offered = self
            .rows_asked
            .parse::<u32>()
            .is_ok_and(|r| ROWS.contains(&r));
        (!self.rows_asked.is_empty() && !offered).then(|| {
            let all: Vec<String> = self
                .rows_options
                .iter()
                .map(|o| o.value.to_string())
                .collect();
            format!(
                "A page cannot show {:?} rows: choose {}.",
                self.rows_asked,
                all.join(", ")
            )
        })
    }

    /// The list at `path` at the position `after` and `trail` (the request's), whose links
    /// keep this search.
    pub(crate) fn pager(&self, path: &str, after: &str, trail: &str) -> Pager {
        Pager::new(path, "after", "trail", after, trail)
            .keep("q", &self.q)
            .keep("label", &self.label)
            .keep("status", &self.status)
            .keep("rows", &self.rows_param())
    }

    /// The `rows` parameter links keep: empty for the default.
    fn rows_param(&self) -> String {
        if self.rows == ROWS[0] {
            String::new()
        } else {
            self.rows.to_string()
        }
    }

    /// The list's GraphQL variables for a page at the pager's position: `filter`,
    /// `namePrefix`, `status`, `first` (the rows per page), `after`.
    pub(crate) fn variables(&self, pager: &Pager) -> Value {
        json!({
            "filter": label_filter(&self.label).map(|f| vec![f]),
            "namePrefix": (!self.q.is_empty()).then_some(self.q.as_str()),
            "status": (!self.status.is_empty()).then_some(self.status.as_str()),
            "first": self.rows,
            "after": pager.after(),
        })
    }
}
