//! Request text Compass's GraphQL parser accepted and the GraphQL grammar does not.
//!
//! Compass's parser (gqlparser) read argument and variable lists with "zero or more" items,
//! so an empty list, `labelDefinitions()`, was accepted; Compass's own clients send it (its
//! e2e fixture for `labelDefinitions` does). The grammar asks for at least one item, and so
//! does Sextant's parser. An empty list means nothing, so it is removed before parsing.

use std::borrow::Cow;

/// The query without its empty parenthesised lists (`()`, also `( , )` or with a comment in
/// between); strings, block strings and comments are left as they are.
pub fn without_empty_parentheses(query: &str) -> Cow<'_, str> {
    if !query.contains('(') {
        return Cow::Borrowed(query);
    }
    let bytes = query.as_bytes();
    let mut out: Option<String> = None;
    // Start of the text not yet copied to `out`.
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'#' => i = skip_comment(bytes, i),
            b'"' => i = skip_string(bytes, i),
            b'(' => {
                let end = skip_ignored(bytes, i + 1);
                if bytes.get(end) == Some(&b')') {
                    let text = out.get_or_insert_with(|| String::with_capacity(query.len()));
                    text.push_str(&query[copied..i]);
                    copied = end + 1;
                    i = end + 1;
                } else {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    match out {
        None => Cow::Borrowed(query),
        Some(mut text) => {
            text.push_str(&query[copied..]);
            Cow::Owned(text)
        }
    }
}

/// The index after a comment that starts at `i` (it ends at a line break).
fn skip_comment(bytes: &[u8], i: usize) -> usize {
    let mut j = i;
    while j < bytes.len() && bytes[j] != b'\n' && bytes[j] != b'\r' {
        j += 1;
    }
    j
}

/// The index after a string or block string that starts at `i`; the end of the text when it
/// is not closed (the parser then reports it).
fn skip_string(bytes: &[u8], i: usize) -> usize {
    if bytes[i..].starts_with(b"\"\"\"") {
        let mut j = i + 3;
        while j < bytes.len() {
            if bytes[j..].starts_with(b"\\\"\"\"") {
                j += 4;
            } else if bytes[j..].starts_with(b"\"\"\"") {
                return j + 3;
            } else {
                j += 1;
            }
        }
        return bytes.len();
    }
    let mut j = i + 1;
    while j < bytes.len() {
        match bytes[j] {
            b'\\' => j += 2,
            b'"' => return j + 1,
            b'\n' | b'\r' => return j,
            _ => j += 1,
        }
    }
    bytes.len()
}

/// The index of the first token after whitespace, commas and comments from `i`.
fn skip_ignored(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t' | b'\n' | b'\r' | b',' => i += 1,
            b'#' => i = skip_comment(bytes, i),
            _ if bytes[i..].starts_with("\u{feff}".as_bytes()) => i += 3,
            _ => break,
        }
    }
    i
}

#[cfg(test)]
mod tests {
    use super::without_empty_parentheses as strip;

    #[test]
    fn removes_empty_lists_only() {
        assert_eq!(
            strip("query {\n\tresult:\tlabelDefinitions() {\n\t\tkey\n\t}\n}"),
            "query {\n\tresult:\tlabelDefinitions {\n\t\tkey\n\t}\n}"
        );
        assert_eq!(strip("query Q( ) { a( , # x\n ) }"), "query Q { a }");
        assert_eq!(strip("{ a(x: 1) { b } }"), "{ a(x: 1) { b } }");
        assert!(matches!(
            strip("{ a(x: 1) }"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn leaves_strings_and_comments_alone() {
        for text in [
            r#"{ a(x: "()") }"#,
            r#"{ a(x: "\"()") }"#,
            "{ a(x: \"\"\"\n()\n\"\"\") }",
            "{ a(x: \"\"\" \\\"\"\" () \"\"\") }",
            "# ()\n{ a }",
        ] {
            assert_eq!(strip(text), text, "{text}");
        }
        // After a string the scan goes on.
        assert_eq!(strip(r#"{ a(x: "y") b() }"#), r#"{ a(x: "y") b }"#);
        // Unclosed strings are the parser's to report.
        assert_eq!(strip("{ a(x: \"() }"), "{ a(x: \"() }");
        assert_eq!(strip("{ a(x: \"\"\"() }"), "{ a(x: \"\"\"() }");
    }
}
