//! Composed documents against the reference: the same bytes as the whole document
//! serialised at once, plain and gzip, and no runtime's credentials in another's document.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;

use serde_json::json;
use sextant_domain::label::{EVENT_SERVICE_URL_KEY, SCENARIOS_KEY};
use sextant_domain::{Auth, Credential, RuntimeId};
use uuid::Uuid;

use super::BuiltConfiguration;
use super::assemble::assemble;
use super::compose::{ApplicationsPart, ComposedDocument};
use super::read::{RuntimeFacts, RuntimeReading};
use super::tests::{
    api, api_id, api_spec, application, basic, digest, event, labels, runtime_reading,
};

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap_or_else(|e| panic!("not gzip: {e}"));
    out
}

fn split(reading: &RuntimeReading) -> RuntimeFacts {
    RuntimeFacts {
        runtime: reading.runtime.clone(),
        labels: reading.labels.clone(),
        auths: reading.runtime_auths.clone(),
    }
}

/// Composes the reading's document around a part built from its applications, and checks it
/// against the reference.
fn composed_as_reference(reading: RuntimeReading) -> ComposedDocument {
    let facts = split(&reading);
    let part = Arc::new(ApplicationsPart::build(reading.applications.clone()).unwrap());
    let composed = ComposedDocument::compose(&facts, part).unwrap();
    let reference = BuiltConfiguration::new(assemble(reading)).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&composed.json()),
        String::from_utf8_lossy(&reference.json)
    );
    assert_eq!(composed.version(), reference.version);
    assert_eq!(gunzip(&composed.gzip()), reference.json);
    for sha in &reference.specs {
        assert!(composed.names_spec(sha));
    }
    let listed: Vec<Uuid> = composed
        .applications()
        .iter()
        .map(|app| app.id.into_untyped())
        .collect();
    let expected: Vec<Uuid> = reference
        .document
        .applications
        .iter()
        .map(|app| app.id)
        .collect();
    assert_eq!(listed, expected);
    composed
}

#[test]
fn a_runtime_without_applications_is_its_head_and_the_closing_brackets() {
    composed_as_reference(runtime_reading(labels(&[]), Vec::new()));
    composed_as_reference(runtime_reading(
        labels(&[
            (SCENARIOS_KEY, json!(["B", "A"])),
            (EVENT_SERVICE_URL_KEY, json!("https://events.example")),
        ]),
        Vec::new(),
    ));
}

#[test]
fn applications_with_and_without_apis_and_events_compose_to_the_reference() {
    let mut apps = Vec::new();
    // No API, no event.
    apps.push(application(1));
    // APIs only, one with a default, one with a spec.
    let mut two = application(2);
    two.apis = vec![
        api(2, 21, Some(basic("default")), None),
        api(2, 22, None, Some(api_spec(Some(digest("aa", 3))))),
        api(2, 23, None, Some(api_spec(None))),
    ];
    apps.push(two);
    // Events only, and labels whose keys are those of the document's own fields, whose
    // values look like its JSON.
    let mut three = application(3);
    three.events = vec![event(3, 31, Some(digest("bb", 4))), event(3, 32, None)];
    three.labels = labels(&[
        ("apis", json!([])),
        ("events", json!(["],\"events\":["])),
        ("description", json!("\"quoted\" \\ text")),
    ]);
    three.application.description = Some("],\"events\":[ in a description".to_owned());
    apps.push(three);
    // Both.
    let mut four = application(4);
    four.apis = vec![api(4, 41, None, None)];
    four.events = vec![event(4, 41, Some(digest("cc", 5)))];
    apps.push(four);
    let scenarios = labels(&[(SCENARIOS_KEY, json!(["S"]))]);
    composed_as_reference(runtime_reading(scenarios.clone(), apps.clone()));

    // The runtime's own credentials for the first, a middle and the last API of
    // applications, and for an API it does not see.
    let mut reading = runtime_reading(scenarios, apps);
    for n in [21, 22, 41, 99] {
        reading
            .runtime_auths
            .insert(api_id(n), basic(&format!("own-{n}")));
    }
    let composed = composed_as_reference(reading);
    assert_eq!(composed.applications().len(), 4);
}

fn secret(username: &str, password: &str) -> Auth {
    Auth {
        credential: Credential::Basic {
            username: username.to_owned(),
            password: password.to_owned(),
        },
        additional_headers: None,
        additional_query_params: None,
        request_auth: None,
    }
}

#[test]
fn runtimes_sharing_a_part_see_only_their_own_credentials() {
    let mut app = application(1);
    app.apis = (1..=4)
        .map(|n| api(1, n, Some(basic("shared-default")), None))
        .collect();
    let part = Arc::new(ApplicationsPart::build(vec![app.clone()]).unwrap());
    let scenarios = labels(&[(SCENARIOS_KEY, json!(["S"]))]);
    let mut docs = Vec::new();
    let mut passwords = HashMap::new();
    for r in 0..50u128 {
        let mut reading = runtime_reading(scenarios.clone(), vec![app.clone()]);
        reading.runtime.id = RuntimeId::from_untyped(Uuid::from_u128(0x1000 + r));
        // Every other runtime holds its own credentials for API 2 (and the odd ones for 3).
        if r % 2 == 0 {
            let password = format!("password-of-runtime-{r}-");
            reading
                .runtime_auths
                .insert(api_id(2), secret(&format!("runtime-{r}"), &password));
            passwords.insert(r, password);
        }
        if r % 3 == 0 {
            reading.runtime_auths.insert(
                api_id(3),
                secret(&format!("runtime-{r}"), &format!("third-{r}-")),
            );
        }
        let facts = split(&reading);
        let composed = ComposedDocument::compose(&facts, part.clone()).unwrap();
        let reference = BuiltConfiguration::new(assemble(reading)).unwrap();
        assert_eq!(composed.json(), reference.json, "runtime {r}");
        assert_eq!(composed.version(), reference.version);
        docs.push((r, composed));
    }
    for (r, doc) in &docs {
        for encoded in [doc.json(), gunzip(&doc.gzip())] {
            let text = String::from_utf8(encoded).unwrap();
            for (other, password) in &passwords {
                assert_eq!(
                    text.contains(password.as_str()),
                    other == r,
                    "runtime {r}'s document and runtime {other}'s password"
                );
            }
            for other in (0..50u128).filter(|o| o % 3 == 0) {
                assert_eq!(text.contains(&format!("third-{other}-")), other == *r);
            }
        }
    }
    // Runtimes with the same credentials (here: none of their own) get the same document
    // apart from their heads; the shared part itself holds only defaults.
    let part_json: Vec<u8> =
        ComposedDocument::compose(&split(&runtime_reading(scenarios, vec![app])), part.clone())
            .unwrap()
            .json();
    let text = String::from_utf8(part_json).unwrap();
    assert!(!text.contains("password-of-runtime"));
    assert!(!text.contains("\"RUNTIME\""));
    assert!(text.contains("shared-default"));
}
