//! Property tests: hostile or arbitrary input never panics, generated valid specs pass.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use sextant_domain::SpecFormat;
use sextant_spec::{SpecKind, validate};

const KINDS: [SpecKind; 3] = [SpecKind::OpenApi, SpecKind::OData, SpecKind::AsyncApi];
const FORMATS: [SpecFormat; 3] = [SpecFormat::Yaml, SpecFormat::Json, SpecFormat::Xml];

/// Runs every (kind, format) pair; only a panic would fail.
fn validate_everywhere(data: &str) {
    for kind in KINDS {
        for format in FORMATS {
            let _ = validate(kind, format, data);
        }
    }
}

/// Text made of the characters that matter to the three grammars.
fn structural_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("{"),
            Just("}"),
            Just("["),
            Just("]"),
            Just(":"),
            Just(","),
            Just("\""),
            Just("'"),
            Just("<"),
            Just(">"),
            Just("/"),
            Just("&"),
            Just(";"),
            Just("#"),
            Just("*"),
            Just("&a "),
            Just("!"),
            Just("- "),
            Just("? "),
            Just("|"),
            Just("\n"),
            Just("  "),
            Just("\t"),
            Just("a"),
            Just("1"),
            Just("---"),
            Just("<!DOCTYPE"),
            Just("<?xml "),
            Just("<![CDATA["),
            Just("]]>"),
            Just("<!--"),
            Just("-->"),
            Just("&amp;"),
            Just("&#x41;"),
            Just("Edmx"),
            Just("openapi"),
            Just("\\u0000"),
        ],
        0..80,
    )
    .prop_map(|parts| parts.concat())
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(8, 128, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            proptest::collection::btree_map(".{0,8}", inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// An OpenAPI document of any accepted version, with arbitrary paths and operations. Text is
/// printable (`\PC`): YAML, unlike JSON, does not allow raw control characters.
fn openapi_document() -> impl Strategy<Value = Value> {
    let operation = ("\\PC{0,20}", proptest::collection::vec(100u16..600, 1..4)).prop_map(
        |(summary, codes)| {
            let responses: Map<String, Value> = codes
                .into_iter()
                .map(|c| (c.to_string(), json!({"description": "response"})))
                .collect();
            json!({"summary": summary, "responses": responses})
        },
    );
    let path_item = proptest::collection::btree_map(
        prop_oneof![Just("get"), Just("put"), Just("post"), Just("delete")],
        operation,
        1..4,
    );
    let paths = proptest::collection::btree_map("/[a-z{}]{0,12}", path_item, 0..6);
    let version = prop_oneof![
        Just("swagger 2.0".to_owned()),
        "3\\.0\\.[0-4]",
        "3\\.1\\.[0-2]",
    ];
    (version, "\\PC{1,30}", "[0-9a-z.-]{1,10}", paths).prop_map(|(version, title, v, paths)| {
        let mut doc = Map::new();
        if version == "swagger 2.0" {
            doc.insert("swagger".into(), json!("2.0"));
        } else {
            doc.insert("openapi".into(), json!(version));
        }
        doc.insert("info".into(), json!({"title": title, "version": v}));
        doc.insert("paths".into(), json!(paths));
        Value::Object(doc)
    })
}

proptest! {
    #[test]
    fn arbitrary_strings_never_panic(data in any::<String>()) {
        validate_everywhere(&data);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        validate_everywhere(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn structural_text_never_panics(data in structural_text()) {
        validate_everywhere(&data);
    }

    #[test]
    fn arbitrary_json_values_never_panic(value in json_value()) {
        validate_everywhere(&value.to_string());
        validate_everywhere(&serde_json::to_string_pretty(&value).unwrap());
    }

    #[test]
    fn generated_openapi_documents_validate(doc in openapi_document(), title in ".{1,30}") {
        // JSON with printable text is YAML (1.2) too.
        let pretty = serde_json::to_string_pretty(&doc).unwrap();
        prop_assert_eq!(validate(SpecKind::OpenApi, SpecFormat::Yaml, &pretty), Ok(()));
        // Any title at all in JSON, which escapes control characters.
        let mut doc = doc;
        doc["info"]["title"] = Value::String(title);
        let compact = doc.to_string();
        prop_assert_eq!(validate(SpecKind::OpenApi, SpecFormat::Json, &compact), Ok(()));
    }
}
