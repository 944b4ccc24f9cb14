//! What the demo prints, and how a step fails.

use std::fmt::Display;
use std::io::Write as _;

/// The seed's flows, in the order the demo walks them.
pub(crate) const STEPS: [&str; 8] = [
    "Application pairing",
    "API registration",
    "Runtime creation",
    "Runtime-ready notification through the webhook",
    "Credentials set through the webhook",
    "Runtime configuration applied",
    "A workload calls the application's API through the runtime gateway",
    "The application sends an event to the runtime",
];

/// A step's name (1-based).
pub(crate) fn step_name(step: usize) -> &'static str {
    step.checked_sub(1)
        .and_then(|i| STEPS.get(i))
        .copied()
        .unwrap_or("setting up")
}

/// Writes a line to stdout. A closed stdout (`sextant demo | head`) must not stop the demo
/// before it cleans up, so write errors are ignored.
pub(crate) fn say(line: impl Display) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// A step's heading.
pub(crate) fn heading(step: usize) {
    say(format!("\n[{step}/{}] {}", STEPS.len(), step_name(step)));
}

/// What happened within a step.
pub(crate) fn detail(text: impl Display) {
    say(format!("      {text}"));
}

/// A step's check passed.
pub(crate) fn passed(text: impl Display) {
    say(format!("  OK  {text}"));
}

/// Why a step's check did not pass.
#[derive(Debug)]
pub(crate) struct Failure {
    pub expected: String,
    pub happened: String,
}

impl Failure {
    pub(crate) fn new(expected: impl Into<String>, happened: impl Into<String>) -> Failure {
        Failure {
            expected: expected.into(),
            happened: happened.into(),
        }
    }
}

/// A step's result.
pub(crate) type Checked<T> = Result<T, Failure>;

/// The first characters of a secret, enough to recognise it.
pub(crate) fn abridged(secret: &str, keep: usize) -> String {
    let shown: String = secret.chars().take(keep).collect();
    format!("{shown}… ({} characters)", secret.chars().count())
}
