//! XML well-formedness by streaming `quick-xml` events, with bounded depth and size.
//!
//! Nothing is expanded: a DOCTYPE is refused (so no entity can be declared, internal or
//! external), and a reference other than the five predefined entities and character
//! references is an error, as XML requires without a DTD.

use std::collections::BTreeSet;

use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::{Reader, XmlVersion};
use sextant_domain::SpecFormat;

use crate::error::one_line;
use crate::{Limits, MAX_DEPTH, SpecError};

/// What the structure checks need from an XML document.
#[derive(Debug)]
pub(crate) struct XmlDocument {
    /// The root element's local name (without prefix).
    pub(crate) root: String,
    /// The local names of the root element's child elements.
    pub(crate) children: BTreeSet<String>,
}

fn syntax(message: impl AsRef<str>) -> SpecError {
    SpecError::Syntax {
        format: SpecFormat::Xml,
        message: one_line(message.as_ref()),
    }
}

/// Checks that `data` is one well-formed XML document within the limits and summarises it.
pub(crate) fn parse(data: &str, limits: Limits) -> Result<XmlDocument, SpecError> {
    let mut reader = Reader::from_str(data);
    {
        let config = reader.config_mut();
        config.check_end_names = true;
        config.check_comments = true;
        config.allow_unmatched_ends = false;
        config.allow_dangling_amp = false;
    }
    let mut walk = Walk {
        max_nodes: limits.max_nodes,
        ..Walk::default()
    };
    let mut first = true;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| syntax(format!("{e} (at byte {})", reader.error_position())))?;
        let at = reader.buffer_position();
        match event {
            Event::Eof => break,
            Event::DocType(_) => return Err(SpecError::Doctype),
            Event::Decl(_) if !first => {
                return Err(syntax(format!(
                    "the XML declaration must come first (at byte {at})"
                )));
            }
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Start(start) => {
                walk.open(&start, at)?;
            }
            Event::Empty(start) => {
                walk.open(&start, at)?;
                walk.depth -= 1;
            }
            Event::End(_) => {
                // quick-xml has matched the end tag against the open one, so depth > 0.
                walk.depth = walk.depth.saturating_sub(1);
            }
            Event::Text(text) => {
                if walk.depth == 0 && !text.trim().is_empty() {
                    return Err(syntax(format!(
                        "text outside the root element (at byte {at})"
                    )));
                }
            }
            Event::CData(_) => {
                if walk.depth == 0 {
                    return Err(syntax(format!(
                        "CDATA outside the root element (at byte {at})"
                    )));
                }
            }
            Event::GeneralRef(reference) => {
                if walk.depth == 0 {
                    return Err(syntax(format!(
                        "reference outside the root element (at byte {at})"
                    )));
                }
                check_reference(&reference, at)?;
            }
        }
        first = false;
    }
    if walk.depth > 0 {
        return Err(syntax(format!(
            "unexpected end of data: {} element(s) not closed",
            walk.depth
        )));
    }
    match walk.root {
        Some(root) => Ok(XmlDocument {
            root,
            children: walk.children,
        }),
        None => Err(syntax("no root element")),
    }
}

#[derive(Default)]
struct Walk {
    max_nodes: usize,
    depth: usize,
    nodes: usize,
    root: Option<String>,
    children: BTreeSet<String>,
}

impl Walk {
    fn open(&mut self, start: &BytesStart<'_>, at: u64) -> Result<(), SpecError> {
        if self.depth == 0 && self.root.is_some() {
            return Err(syntax(format!("more than one root element (at byte {at})")));
        }
        if self.depth >= MAX_DEPTH {
            return Err(SpecError::TooDeep { max: MAX_DEPTH });
        }
        self.count()?;
        for attribute in start.attributes() {
            let attribute = attribute.map_err(|e| syntax(format!("{e} (at byte {at})")))?;
            self.count()?;
            // Fails on an undefined entity in the value.
            attribute
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|e| syntax(format!("{e} (at byte {at})")))?;
        }
        let name = start.local_name();
        let name: &str = name.as_ref();
        match self.depth {
            0 => self.root = Some(name.to_owned()),
            1 => {
                self.children.insert(name.to_owned());
            }
            _ => {}
        }
        self.depth += 1;
        Ok(())
    }

    fn count(&mut self) -> Result<(), SpecError> {
        self.nodes += 1;
        if self.nodes > self.max_nodes {
            return Err(SpecError::TooManyNodes {
                max: self.max_nodes,
            });
        }
        Ok(())
    }
}

/// A reference in text: a character reference or one of the five predefined entities.
fn check_reference(reference: &BytesRef<'_>, at: u64) -> Result<(), SpecError> {
    if reference.is_char_ref() {
        return match reference.resolve_char_ref() {
            Ok(Some(_)) => Ok(()),
            Ok(None) | Err(_) => Err(syntax(format!(
                "invalid character reference &{}; (at byte {at})",
                &**reference
            ))),
        };
    }
    match &**reference {
        "lt" | "gt" | "amp" | "apos" | "quot" => Ok(()),
        other => Err(syntax(format!("undefined entity &{other}; (at byte {at})"))),
    }
}

/// The `Name`s of the `EntitySet` elements of the `EntityContainer`s of an EDMX document, at
/// most `max` of them, and how many there are. The document is checked first as [`parse`]
/// checks it (so the walk below meets no DOCTYPE, no entity and at most [`MAX_DEPTH`] open
/// elements).
pub(crate) fn entity_sets(
    data: &str,
    limits: Limits,
    max: usize,
) -> Result<(Vec<String>, usize), SpecError> {
    parse(data, limits)?;
    let mut reader = Reader::from_str(data);
    let mut open: Vec<String> = Vec::new();
    let mut names = Vec::new();
    let mut total = 0;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| syntax(format!("{e} (at byte {})", reader.error_position())))?;
        let (start, empty) = match event {
            Event::Eof => break,
            Event::Start(start) => (start, false),
            Event::Empty(start) => (start, true),
            Event::End(_) => {
                open.pop();
                continue;
            }
            _ => continue,
        };
        let local = start.local_name();
        let local: &str = local.as_ref();
        if local == "EntitySet" && open.last().map(String::as_str) == Some("EntityContainer") {
            total += 1;
            if names.len() < max {
                let name = start
                    .attributes()
                    .flatten()
                    .find(|a| AsRef::<str>::as_ref(&a.key.local_name()) == "Name")
                    .map(|a| {
                        a.normalized_value(XmlVersion::Implicit1_0)
                            .map(|v| v.into_owned())
                            .unwrap_or_default()
                    })
                    .unwrap_or_default();
                names.push(name);
            }
        }
        if !empty {
            open.push(local.to_owned());
        }
    }
    Ok((names, total))
}
