//! The size of a document after fragment expansion, counted without expanding it.
//!
//! Every selection (field, `__typename` and introspection fields included, fragment spread,
//! inline fragment), directive, argument and variable definition counts one, each time it
//! would be visited once fragments are expanded. A fragment's count is computed once and
//! reused at every spread, so the work is linear in the document's length however often
//! fragments are spread; counting stops as soon as the limit is passed.

use std::collections::HashMap;

use async_graphql::Positioned;
use async_graphql::parser::types::{Directive, ExecutableDocument, Selection, SelectionSet};

/// Nesting of selection sets and fragment spreads beyond which the count refuses, so that it
/// recurses a bounded number of times (async-graphql's parser allows 64 nested selection
/// sets and its executor 32 levels of fields and spreads).
pub const MAX_NESTING: usize = 64;

/// Why a document is refused before validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// More than the limit after fragment expansion.
    TooMany,
    /// Selections and spreads nested more than [`MAX_NESTING`] levels deep.
    TooDeep,
    /// A fragment that spreads itself, directly or through others.
    Cycle(String),
}

enum Memo {
    Counting,
    Counted(usize),
}

struct Counter<'a> {
    doc: &'a ExecutableDocument,
    limit: usize,
    fragments: HashMap<&'a str, Memo>,
}

/// Counts every operation of `doc` (a document's operations are all validated, whichever
/// one runs); `Err(Refusal::TooMany)` as soon as the count passes `limit`.
pub fn selections(doc: &ExecutableDocument, limit: usize) -> Result<usize, Refusal> {
    let mut counter = Counter {
        doc,
        limit,
        fragments: HashMap::new(),
    };
    let mut total = 0usize;
    for (_, operation) in doc.operations.iter() {
        let operation = &operation.node;
        total = total
            .saturating_add(operation.variable_definitions.len())
            .saturating_add(directives(&operation.directives));
        total = counter.within(total)?;
        total = total.saturating_add(counter.set(&operation.selection_set, 0)?);
        total = counter.within(total)?;
    }
    Ok(total)
}

fn directives(list: &[Positioned<Directive>]) -> usize {
    list.iter()
        .map(|d| d.node.arguments.len().saturating_add(1))
        .fold(0, usize::saturating_add)
}

impl<'a> Counter<'a> {
    fn within(&self, count: usize) -> Result<usize, Refusal> {
        if count > self.limit {
            Err(Refusal::TooMany)
        } else {
            Ok(count)
        }
    }

    fn set(&mut self, set: &'a Positioned<SelectionSet>, depth: usize) -> Result<usize, Refusal> {
        if depth > MAX_NESTING {
            return Err(Refusal::TooDeep);
        }
        let mut count = 0usize;
        for item in &set.node.items {
            let own = match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let inner = if field.selection_set.node.items.is_empty() {
                        0
                    } else {
                        self.set(&field.selection_set, depth + 1)?
                    };
                    field
                        .arguments
                        .len()
                        .saturating_add(directives(&field.directives))
                        .saturating_add(inner)
                }
                Selection::InlineFragment(fragment) => {
                    let fragment = &fragment.node;
                    directives(&fragment.directives)
                        .saturating_add(self.set(&fragment.selection_set, depth + 1)?)
                }
                Selection::FragmentSpread(spread) => {
                    let spread = &spread.node;
                    directives(&spread.directives).saturating_add(
                        self.fragment(spread.fragment_name.node.as_str(), depth + 1)?,
                    )
                }
            };
            count = self.within(count.saturating_add(1).saturating_add(own))?;
        }
        Ok(count)
    }

    /// A fragment's count, from the memo after its first spread. An undefined fragment counts
    /// nothing here (validation refuses it).
    fn fragment(&mut self, name: &'a str, depth: usize) -> Result<usize, Refusal> {
        match self.fragments.get(name) {
            Some(Memo::Counted(count)) => return Ok(*count),
            Some(Memo::Counting) => return Err(Refusal::Cycle(name.to_owned())),
            None => {}
        }
        let Some((_, definition)) = self.doc.fragments.get_key_value(name) else {
            return Ok(0);
        };
        self.fragments.insert(name, Memo::Counting);
        let definition = &definition.node;
        let count = directives(&definition.directives)
            .saturating_add(self.set(&definition.selection_set, depth)?);
        let count = self.within(count)?;
        self.fragments.insert(name, Memo::Counted(count));
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_query;

    fn count(query: &str, limit: usize) -> Result<usize, Refusal> {
        selections(&parse_query(query).unwrap(), limit)
    }

    #[test]
    fn plain_fields_arguments_and_directives_count_once_each() {
        assert_eq!(count("{ a b c }", 100), Ok(3));
        assert_eq!(count("{ a(x: 1, y: 2) { b } }", 100), Ok(4));
        assert_eq!(count("{ a @include(if: true) }", 100), Ok(3));
        assert_eq!(count("query($v: Int) { __typename }", 100), Ok(2));
    }

    #[test]
    fn fragments_count_at_every_spread() {
        let doc = "{ ...F ...F } fragment F on Query { a b }";
        // Two spreads, each worth its two fields.
        assert_eq!(count(doc, 100), Ok(6));
        assert_eq!(count("{ ... on Query { a b } }", 100), Ok(3));
    }

    #[test]
    fn the_limit_is_inclusive() {
        assert_eq!(count("{ a b c }", 3), Ok(3));
        assert_eq!(count("{ a b c d }", 3), Err(Refusal::TooMany));
    }

    #[test]
    fn nested_spreads_are_counted_without_expanding_them() {
        // Ten levels of ten spreads: 10^10 fields after expansion.
        let mut doc = String::from("{ ...F0 }");
        for level in 0..10 {
            let spreads = vec![format!("...F{}", level + 1); 10].join(" ");
            doc.push_str(&format!(" fragment F{level} on Query {{ {spreads} }}"));
        }
        doc.push_str(" fragment F10 on Query { __typename }");
        let started = std::time::Instant::now();
        // 10^10 fields, and each level's spreads: the exact count, without the expansion.
        assert_eq!(count(&doc, usize::MAX / 2), Ok(21_111_111_111));
        assert_eq!(count(&doc, 1_000_000), Err(Refusal::TooMany));
        assert!(started.elapsed() < std::time::Duration::from_millis(100));
    }

    #[test]
    fn cycles_and_runaway_nesting_are_refused() {
        assert_eq!(
            count(
                "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
                100
            ),
            Err(Refusal::Cycle("A".into()))
        );
        let mut doc = String::from("{ ...F0 }");
        for i in 0..100 {
            doc.push_str(&format!(" fragment F{i} on Query {{ ...F{} }}", i + 1));
        }
        doc.push_str(" fragment F100 on Query { a }");
        assert_eq!(count(&doc, 1_000), Err(Refusal::TooDeep));
    }

    #[test]
    fn undefined_fragments_count_nothing() {
        assert_eq!(count("{ ...Missing }", 100), Ok(1));
    }
}
