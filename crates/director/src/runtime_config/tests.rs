//! The assembly and the versioning, from readings built by hand: no store, no server.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Value, json};
use sextant_domain::label::{EVENT_SERVICE_URL_KEY, SCENARIOS_KEY};
use sextant_domain::runtime_config::CredentialsSource;
use sextant_domain::{
    ApiDefinition, ApiDefinitionId, ApiSpec, ApiSpecType, Application, ApplicationId,
    ApplicationStatusCondition, Auth, Credential, EventDefinition, EventDefinitionId, EventSpec,
    EventSpecType, Runtime, RuntimeId, RuntimeStatusCondition, SpecDigest, SpecFormat, TenantId,
    Version,
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::BuiltConfiguration;
use super::assemble::{assemble, scenarios};
use super::read::{ApplicationReading, RuntimeReading};

pub(super) const TENANT: TenantId = TenantId(Uuid::from_u128(0x7e));
pub(super) const RUNTIME: RuntimeId = RuntimeId::from_untyped(Uuid::from_u128(0x100));

pub(super) fn app_id(n: u128) -> ApplicationId {
    ApplicationId::from_untyped(Uuid::from_u128(0x200 + n))
}

pub(super) fn api_id(n: u128) -> ApiDefinitionId {
    ApiDefinitionId::from_untyped(Uuid::from_u128(0x300 + n))
}

pub(super) fn event_id(n: u128) -> EventDefinitionId {
    EventDefinitionId::from_untyped(Uuid::from_u128(0x400 + n))
}

pub(super) fn basic(username: &str) -> Auth {
    Auth {
        credential: Credential::Basic {
            username: username.to_owned(),
            password: "secret".to_owned(),
        },
        additional_headers: None,
        additional_query_params: None,
        request_auth: None,
    }
}

pub(super) fn digest(sha256: &str, size: u64) -> SpecDigest {
    SpecDigest {
        sha256: sha256.to_owned(),
        size,
    }
}

pub(super) fn labels(entries: &[(&str, Value)]) -> BTreeMap<String, Value> {
    entries
        .iter()
        .map(|(key, value)| ((*key).to_owned(), value.clone()))
        .collect()
}

pub(super) fn runtime_reading(
    runtime_labels: BTreeMap<String, Value>,
    applications: Vec<ApplicationReading>,
) -> RuntimeReading {
    RuntimeReading {
        runtime: Runtime {
            id: RUNTIME,
            tenant: TENANT,
            name: sextant_domain::Name::parse("edge").unwrap(),
            description: Some("not in the document".to_owned()),
            status_condition: RuntimeStatusCondition::Ready,
            status_timestamp: OffsetDateTime::UNIX_EPOCH,
            status_message: None,
            created_at: OffsetDateTime::UNIX_EPOCH,
        },
        labels: runtime_labels,
        applications,
        runtime_auths: HashMap::new(),
    }
}

pub(super) fn application(n: u128) -> ApplicationReading {
    ApplicationReading {
        application: Application {
            id: app_id(n),
            tenant: TENANT,
            name: sextant_domain::Name::parse(format!("app-{n}")).unwrap(),
            provider_name: "provider".to_owned(),
            description: None,
            health_check_url: None,
            integration_system_id: None,
            status_condition: ApplicationStatusCondition::Initial,
            status_timestamp: OffsetDateTime::UNIX_EPOCH,
            created_at: OffsetDateTime::UNIX_EPOCH,
        },
        labels: BTreeMap::new(),
        apis: Vec::new(),
        events: Vec::new(),
    }
}

pub(super) fn api(
    app: u128,
    n: u128,
    default_auth: Option<Auth>,
    spec: Option<ApiSpec>,
) -> ApiDefinition {
    ApiDefinition {
        id: api_id(n),
        tenant: TENANT,
        application_id: app_id(app),
        name: sextant_domain::Name::parse(format!("api-{n}")).unwrap(),
        description: None,
        target_url: format!("https://app-{app}.example/api-{n}"),
        group: None,
        spec,
        version: None,
        default_auth,
        created_at: OffsetDateTime::UNIX_EPOCH,
    }
}

pub(super) fn api_spec(digest: Option<SpecDigest>) -> ApiSpec {
    ApiSpec {
        // As the read phase leaves it; a text, if one were there, is not the document's.
        data: None,
        digest,
        format: SpecFormat::Yaml,
        spec_type: ApiSpecType::OpenApi,
        fetch_request: None,
    }
}

pub(super) fn event(app: u128, n: u128, digest: Option<SpecDigest>) -> EventDefinition {
    EventDefinition {
        id: event_id(n),
        tenant: TENANT,
        application_id: app_id(app),
        name: sextant_domain::Name::parse(format!("event-{n}")).unwrap(),
        description: None,
        group: None,
        spec: EventSpec {
            data: None,
            digest,
            format: SpecFormat::Json,
            spec_type: EventSpecType::AsyncApi,
            fetch_request: None,
        },
        version: None,
        created_at: OffsetDateTime::UNIX_EPOCH,
    }
}

#[test]
fn the_runtimes_own_credentials_beat_the_apis_default() {
    let mut app = application(1);
    app.apis = vec![
        api(1, 1, Some(basic("default-1")), None),
        api(1, 2, Some(basic("default-2")), None),
        api(1, 3, None, None),
        api(1, 4, None, None),
    ];
    let mut reading = runtime_reading(BTreeMap::new(), vec![app]);
    reading.runtime_auths = HashMap::from([
        (api_id(1), basic("runtime-1")),
        (api_id(3), basic("runtime-3")),
    ]);

    let document = assemble(reading);

    let apis = &document.applications[0].apis;
    let got: Vec<(Option<Auth>, CredentialsSource)> = apis
        .iter()
        .map(|api| (api.credentials.clone(), api.credentials_source))
        .collect();
    assert_eq!(
        got,
        vec![
            (Some(basic("runtime-1")), CredentialsSource::Runtime),
            (Some(basic("default-2")), CredentialsSource::Default),
            (Some(basic("runtime-3")), CredentialsSource::Runtime),
            (None, CredentialsSource::None),
        ]
    );
}

#[test]
fn an_application_without_apis_or_events_is_listed_with_its_labels() {
    let mut app = application(1);
    app.labels = labels(&[("team", json!("blue")), (SCENARIOS_KEY, json!(["DEFAULT"]))]);
    let reading = runtime_reading(labels(&[(SCENARIOS_KEY, json!(["DEFAULT"]))]), vec![app]);

    let document = assemble(reading);

    assert_eq!(document.applications.len(), 1);
    let app = &document.applications[0];
    assert_eq!(app.id, app_id(1).into_untyped());
    assert_eq!(app.name, "app-1");
    assert!(app.apis.is_empty());
    assert!(app.events.is_empty());
    assert_eq!(
        app.labels,
        labels(&[("team", json!("blue")), (SCENARIOS_KEY, json!(["DEFAULT"]))])
    );
}

#[test]
fn specs_are_named_by_digest_and_a_spec_without_text_by_nothing() {
    let mut app = application(1);
    let mut with_text = api_spec(Some(digest("aa11", 11)));
    with_text.data = Some("openapi: 3.0.0".to_owned());
    app.apis = vec![
        api(1, 1, None, Some(with_text)),
        api(1, 2, None, Some(api_spec(None))),
        api(1, 3, None, None),
    ];
    app.events = vec![event(1, 1, Some(digest("bb22", 22))), event(1, 2, None)];

    let built =
        BuiltConfiguration::new(assemble(runtime_reading(BTreeMap::new(), vec![app]))).unwrap();

    let app = &built.document.applications[0];
    let api_spec = app.apis[0].spec.as_ref().unwrap();
    assert_eq!(
        (
            api_spec.spec_type.as_str(),
            api_spec.format.as_str(),
            api_spec.sha256.as_str(),
            api_spec.size
        ),
        ("OPEN_API", "YAML", "aa11", 11)
    );
    assert_eq!(app.apis[1].spec, None);
    assert_eq!(app.apis[2].spec, None);
    let event_spec = app.events[0].spec.as_ref().unwrap();
    assert_eq!(
        (
            event_spec.spec_type.as_str(),
            event_spec.format.as_str(),
            event_spec.sha256.as_str(),
            event_spec.size
        ),
        ("ASYNC_API", "JSON", "bb22", 22)
    );
    assert_eq!(app.events[1].spec, None);
    // A text is never inlined, whatever the reading holds.
    let json = String::from_utf8(built.json.clone()).unwrap();
    assert!(!json.contains("openapi: 3.0.0"), "{json}");
    // Exactly the named specs may be read by this runtime.
    assert_eq!(
        built.specs,
        ["aa11".to_owned(), "bb22".to_owned()].into_iter().collect()
    );
}

#[test]
fn the_eventing_url_and_scenarios_come_from_the_runtimes_labels() {
    let reading = runtime_reading(
        labels(&[
            (EVENT_SERVICE_URL_KEY, json!("https://events.example")),
            (SCENARIOS_KEY, json!(["B", 7, "A"])),
            ("other", json!("not in the document")),
        ]),
        Vec::new(),
    );
    let document = assemble(reading);
    assert_eq!(
        document.event_service_url.as_deref(),
        Some("https://events.example")
    );
    // In the label's order; what is not a string is not a scenario.
    assert_eq!(document.scenarios, ["B", "A"]);

    let not_a_string = runtime_reading(
        labels(&[(EVENT_SERVICE_URL_KEY, json!(["https://events.example"]))]),
        Vec::new(),
    );
    let document = assemble(not_a_string);
    assert_eq!(document.event_service_url, None);
    assert!(document.scenarios.is_empty());
    assert_eq!(
        scenarios(&labels(&[(SCENARIOS_KEY, json!("A"))])),
        Vec::<String>::new()
    );
}

/// Two readings of the same data, their credentials' map filled in a different order.
fn same_data_twice() -> (RuntimeReading, RuntimeReading) {
    let mut apps = Vec::new();
    for n in 1..=3 {
        let mut app = application(n);
        app.labels = labels(&[("z", json!(n)), ("a", json!(n))]);
        app.apis = (1..=3)
            .map(|i| api(n, n * 10 + i, Some(basic("default")), None))
            .collect();
        app.events = vec![event(n, n, Some(digest(&format!("{n:02x}"), 1)))];
        apps.push(app);
    }
    let ids: Vec<ApiDefinitionId> = (1..=3)
        .flat_map(|n| (1..=3).map(move |i| api_id(n * 10 + i)))
        .collect();
    let mut forward = runtime_reading(labels(&[(SCENARIOS_KEY, json!(["S"]))]), apps.clone());
    let mut backward = runtime_reading(labels(&[(SCENARIOS_KEY, json!(["S"]))]), apps);
    for id in &ids {
        forward.runtime_auths.insert(*id, basic(&id.to_string()));
    }
    for id in ids.iter().rev() {
        backward.runtime_auths.insert(*id, basic(&id.to_string()));
    }
    (forward, backward)
}

#[test]
fn the_same_data_gives_the_same_json_and_version() {
    let (forward, backward) = same_data_twice();
    let one = BuiltConfiguration::new(assemble(forward)).unwrap();
    let two = BuiltConfiguration::new(assemble(backward)).unwrap();
    assert_eq!(one.json, two.json);
    assert_eq!(one.version, two.version);
    assert_eq!(one.specs, two.specs);

    // In the order read.
    let ids: Vec<Uuid> = one.document.applications.iter().map(|app| app.id).collect();
    assert_eq!(ids, [1, 2, 3].map(|n| app_id(n).into_untyped()));
    let api_ids: Vec<Uuid> = one.document.applications[1]
        .apis
        .iter()
        .map(|api| api.id)
        .collect();
    assert_eq!(api_ids, [21, 22, 23].map(|n| api_id(n).into_untyped()));
}

#[test]
fn the_version_is_the_first_half_of_the_jsons_sha256_and_changes_with_it() {
    let (reading, _) = same_data_twice();
    let mut changed = reading.clone();
    changed.applications[2].apis[0].target_url = "https://elsewhere.example".to_owned();

    let built = BuiltConfiguration::new(assemble(reading)).unwrap();
    let other = BuiltConfiguration::new(assemble(changed)).unwrap();

    let sha256: String = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &built.json)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(built.version, sha256[..32]);
    assert_eq!(built.version.len(), 32);
    assert!(
        built
            .version
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    assert_ne!(built.version, other.version);
}

#[test]
fn the_document_serialises_as_agents_read_it() {
    let mut app = application(1);
    app.labels = labels(&[("team", json!("blue"))]);
    let mut with_version = api(
        1,
        1,
        Some(basic("default")),
        Some(api_spec(Some(digest("aa11", 11)))),
    );
    with_version.version = Some(Version {
        value: "v1".to_owned(),
        deprecated: false,
        deprecated_since: None,
        for_removal: false,
    });
    app.apis = vec![with_version, api(1, 2, None, None)];
    app.events = vec![event(1, 1, None)];
    let mut reading = runtime_reading(
        labels(&[
            (SCENARIOS_KEY, json!(["DEFAULT"])),
            (EVENT_SERVICE_URL_KEY, json!("https://events.example")),
        ]),
        vec![app],
    );
    reading.runtime_auths = HashMap::from([(api_id(2), basic("runtime"))]);

    let built = BuiltConfiguration::new(assemble(reading)).unwrap();
    let json: Value = serde_json::from_slice(&built.json).unwrap();

    let basic_json = |username: &str| json!({"credential": {"basic": {"username": username, "password": "secret"}}});
    assert_eq!(
        json,
        json!({
            "runtimeID": RUNTIME.into_untyped(),
            "tenant": TENANT.0,
            "runtimeName": "edge",
            "eventServiceURL": "https://events.example",
            "scenarios": ["DEFAULT"],
            "applications": [{
                "id": app_id(1).into_untyped(),
                "name": "app-1",
                "description": null,
                "labels": {"team": "blue"},
                "apis": [{
                    "id": api_id(1).into_untyped(),
                    "name": "api-1",
                    "description": null,
                    "targetURL": "https://app-1.example/api-1",
                    "group": null,
                    "version": "v1",
                    "spec": {"type": "OPEN_API", "format": "YAML", "sha256": "aa11", "size": 11},
                    "credentials": basic_json("default"),
                    "credentialsSource": "DEFAULT",
                }, {
                    "id": api_id(2).into_untyped(),
                    "name": "api-2",
                    "description": null,
                    "targetURL": "https://app-1.example/api-2",
                    "group": null,
                    "version": null,
                    "spec": null,
                    "credentials": basic_json("runtime"),
                    "credentialsSource": "RUNTIME",
                }],
                "events": [{
                    "id": event_id(1).into_untyped(),
                    "name": "event-1",
                    "description": null,
                    "group": null,
                    "version": null,
                    "spec": null,
                }],
            }],
        })
    );
}
