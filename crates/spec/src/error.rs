use sextant_domain::SpecFormat;

use crate::SpecKind;

/// Why a spec was refused. `Display` is one line meant for the user who sent the spec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// The data is longer than [`MAX_SPEC_BYTES`](crate::MAX_SPEC_BYTES).
    #[error("spec is too large: {size} bytes, at most {max} are allowed")]
    TooLarge {
        /// The length of the data in bytes.
        size: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// The data is empty or only whitespace.
    #[error("spec is empty")]
    Empty,
    /// The kind may not be written in this format.
    #[error(
        "format {} is not allowed for {kind} specs: use {}",
        .format.as_str(),
        allowed(*.kind)
    )]
    FormatNotAllowed {
        /// The kind of spec.
        kind: SpecKind,
        /// The format it was declared in.
        format: SpecFormat,
    },
    /// The data does not parse in its declared format.
    #[error("data is not valid {}: {message}", .format.as_str())]
    Syntax {
        /// The declared format.
        format: SpecFormat,
        /// The parser's explanation, on one line.
        message: String,
    },
    /// Arrays and objects (or XML elements) nest deeper than the limit.
    #[error("data is nested too deeply (more than {max} levels)")]
    TooDeep {
        /// The deepest nesting allowed.
        max: usize,
    },
    /// The document holds more values (or XML elements and attributes) than the limit.
    #[error("data has too many values (more than {max})")]
    TooManyNodes {
        /// The most values allowed.
        max: usize,
    },
    /// The document's text, after YAML aliases are expanded, exceeds the limit.
    #[error("data has too much text after expanding YAML aliases (more than {max} bytes)")]
    TooMuchText {
        /// The most bytes of text allowed.
        max: usize,
    },
    /// YAML aliases expand beyond their limits (an alias bomb, or too many anchors and aliases).
    #[error("data uses YAML anchors and aliases beyond the allowed limits")]
    AliasExpansion,
    /// The XML has a document type declaration, which could define expanding entities.
    #[error("data is not allowed to contain an XML DOCTYPE declaration")]
    Doctype,
    /// The data parses but is not a document of the declared kind.
    #[error("data is not a valid {} document: {reason}", .kind.title())]
    Invalid {
        /// The kind of spec.
        kind: SpecKind,
        /// What is missing or wrong, naming the field.
        reason: String,
    },
}

/// "YAML or JSON": the formats allowed for `kind`.
fn allowed(kind: SpecKind) -> String {
    let names: Vec<&str> = kind.allowed_formats().iter().map(|f| f.as_str()).collect();
    names.join(" or ")
}

/// `message` on one line and at most a few hundred bytes: parser messages may carry snippets.
pub(crate) fn one_line(message: &str) -> String {
    const MAX: usize = 300;
    let mut out = String::with_capacity(message.len().min(MAX + 3));
    for word in message.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
        if out.len() > MAX {
            let mut cut = MAX;
            while !out.is_char_boundary(cut) {
                cut -= 1;
            }
            out.truncate(cut);
            out.push('…');
            break;
        }
    }
    out
}
