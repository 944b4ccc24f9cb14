//! [`Name`]: the name of an application, runtime, integration system, application template,
//! API or event definition, checked once when it enters Sextant so that an unchecked name
//! cannot reach the store.

use std::fmt;

use crate::validate::{BLANK, DNS_SUBDOMAIN_MESSAGE, NAME_MAX};

/// A name that satisfies Compass's Name rule (`inputvalidation.Name`): not blank, at most 36
/// characters, not starting with a digit, a DNS-1123 subdomain. Built by [`Name::parse`] (or
/// `TryFrom<String>`), whose error is Compass's message, or by [`Name::from_stored`] for a name
/// the store wrote after it was parsed.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct Name(String);

impl Name {
    /// The name, or the message of the rule it breaks (the text after `name: `).
    pub fn parse(value: impl Into<String>) -> Result<Self, String> {
        let value = value.into();
        check(&value)?;
        Ok(Name(value))
    }

    /// A name read back from the store, which holds only names that were parsed when they
    /// were written. It is not checked again: a rule tightened later must not make existing
    /// objects unreadable, and the database, not the client, is the source of the value.
    pub fn from_stored(value: String) -> Self {
        Name(value)
    }

    /// Serde's reading of a document the Director wrote from stored names (the agent's
    /// configuration): like [`Name::from_stored`], not checked again.
    pub fn deserialize_stored<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Self, D::Error> {
        <String as serde::Deserialize>::deserialize(deserializer).map(Name::from_stored)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// The Name rule.
fn check(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err(BLANK.into());
    }
    if value.len() > NAME_MAX {
        return Err(format!("must be no more than {NAME_MAX} characters"));
    }
    if value.starts_with(|c: char| c.is_ascii_digit()) {
        return Err("cannot start with digit".into());
    }
    let part_ok = |part: &str| {
        let bytes = part.as_bytes();
        !bytes.is_empty()
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
            && bytes[0] != b'-'
            && bytes[bytes.len() - 1] != b'-'
    };
    if !value.split('.').all(part_ok) {
        return Err(DNS_SUBDOMAIN_MESSAGE.into());
    }
    Ok(())
}

impl TryFrom<String> for Name {
    type Error = String;

    fn try_from(value: String) -> Result<Self, String> {
        Name::parse(value)
    }
}

impl std::str::FromStr for Name {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        Name::parse(value)
    }
}

impl From<Name> for String {
    fn from(name: Name) -> String {
        name.0
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names_parse() {
        for ok in [
            "app",
            "my-app",
            "a.b-c",
            "x1",
            "abcdefghijabcdefghijabcdefghijabcdef",
        ] {
            let name = Name::parse(ok).unwrap();
            assert_eq!(name.as_str(), ok);
            assert_eq!(name.to_string(), ok);
        }
    }

    #[test]
    fn invalid_names_are_rejected() {
        for bad in [
            "",
            "0invalid",
            "Upper",
            "-dash",
            "dash-",
            "a..b",
            "under_score",
            "spa ce",
            "abcdefghijabcdefghijabcdefghijabcdefg",
        ] {
            assert!(Name::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_are_compass_messages() {
        assert_eq!(Name::parse("").unwrap_err(), "cannot be blank");
        assert_eq!(
            Name::parse("0invalid").unwrap_err(),
            "cannot start with digit"
        );
        assert_eq!(Name::parse("Test").unwrap_err(), DNS_SUBDOMAIN_MESSAGE);
        assert_eq!(
            Name::try_from("a".repeat(37)).unwrap_err(),
            "must be no more than 36 characters"
        );
    }

    #[test]
    fn serde_parses() {
        let name: Name = serde_json::from_str("\"my-app\"").unwrap();
        assert_eq!(name, "my-app");
        assert_eq!(serde_json::to_string(&name).unwrap(), "\"my-app\"");
        let err = serde_json::from_str::<Name>("\"Bad\"").unwrap_err();
        assert!(err.to_string().contains("DNS-1123"), "{err}");
    }
}
