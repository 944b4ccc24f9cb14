//! [`ErrorChain`]: how every crate prints an error with its causes, in logs and messages.

use std::error::Error;
use std::fmt;

/// An error and its causes (its `source()` chain), `: `-separated. A cause whose message the
/// text already holds (an error that prints its source in its own message) is left out.
pub struct ErrorChain<'a>(pub &'a (dyn Error + 'static));

impl ErrorChain<'_> {
    /// The chain without the messages `omit` picks (wrappers that say nothing the rest does
    /// not); the error's own message if `omit` picks every one.
    pub fn omitting(&self, omit: impl Fn(&str) -> bool) -> String {
        let mut text = String::new();
        let mut current = Some(self.0);
        while let Some(error) = current {
            let message = error.to_string();
            if !omit(&message) && !text.contains(&message) {
                if !text.is_empty() {
                    text.push_str(": ");
                }
                text.push_str(&message);
            }
            current = error.source();
        }
        if text.is_empty() {
            self.0.to_string()
        } else {
            text
        }
    }
}

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.omitting(|_| false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl fmt::Display for Layer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl Error for Layer {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.1.as_deref().map(|e| e as &(dyn Error + 'static))
        }
    }

    fn layers(messages: &[&'static str]) -> Layer {
        messages
            .iter()
            .rev()
            .fold(None, |inner, m| Some(Layer(m, inner.map(Box::new))))
            .unwrap_or(Layer("", None))
    }

    #[test]
    fn joins_the_causes() {
        let error = layers(&["database error", "connection refused (os error 111)"]);
        assert_eq!(
            ErrorChain(&error).to_string(),
            "database error: connection refused (os error 111)"
        );
        assert_eq!(ErrorChain(&layers(&["alone"])).to_string(), "alone");
    }

    #[test]
    fn leaves_out_causes_already_printed() {
        let error = layers(&[
            "error returned from database: no such table",
            "no such table",
        ]);
        assert_eq!(
            ErrorChain(&error).to_string(),
            "error returned from database: no such table"
        );
    }

    #[test]
    fn omits_wrappers_but_never_everything() {
        let error = layers(&["error sending request", "tcp connect error", "refused"]);
        let chain = ErrorChain(&error);
        assert_eq!(
            chain.omitting(|m| m == "error sending request"),
            "tcp connect error: refused"
        );
        assert_eq!(chain.omitting(|_| true), "error sending request");
    }
}
