//! The search of the application and runtime lists: the name typed, the label filter and
//! the status chosen, as the list's form shows them and as the Director's `namePrefix`,
//! `filter` and `status` arguments take them.

use serde_json::{Value, json};

use crate::labels::label_filter;
use crate::pager::Pager;

/// A choice of the status filter.
pub(crate) struct StatusOption {
    pub(crate) value: &'static str,
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
}

impl Search {
    pub(crate) fn new(q: &str, label: &str, status: &str, all: &[&'static str]) -> Search {
        let status = status.trim().to_owned();
        Search {
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

    /// The refusal of a status the list does not have, if one was asked for.
    pub(crate) fn unknown_status(&self) -> Option<String> {
        let known = self.statuses.iter().any(|o| o.value == self.status);
        (!self.status.is_empty() && !known).then(|| {
            let all: Vec<&str> = self.statuses.iter().map(|o| o.value).collect();
            format!(
                "There is no status {:?}: choose one of {}.",
                self.status,
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
    }

    /// The list's GraphQL variables for a page of `first` at the pager's position:
    /// `filter`, `namePrefix`, `status`, `first`, `after`.
    pub(crate) fn variables(&self, first: u32, pager: &Pager) -> Value {
        json!({
            "filter": label_filter(&self.label).map(|f| vec![f]),
            "namePrefix": (!self.q.is_empty()).then_some(self.q.as_str()),
            "status": (!self.status.is_empty()).then_some(self.status.as_str()),
            "first": first,
            "after": pager.after(),
        })
    }
}
