//! `ApplicationTemplate.applicationInput` as Compass answered it: the template's application
//! input rendered as a GraphQL input literal by Compass's `graphqlizer` (Go `text/template`s
//! whose white space Compass clients see, so it is reproduced exactly). Values are written
//! as Compass wrote them: strings between quotes without escaping, spec data quoted the way
//! Go's `strconv.Quote` quotes, optional fields only when given.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use crate::applications::inputs::ApplicationRegisterInput;
use crate::catalog::apis::inputs::{ApiDefinitionInput, ApiSpecInput};
use crate::catalog::content::inputs::{FetchRequestInput, VersionInput};
use crate::catalog::credentials::inputs::{
    AuthInput, CredentialDataInput, CsrfTokenCredentialRequestAuthInput,
};
use crate::catalog::documents::inputs::DocumentInput;
use crate::catalog::events::inputs::{EventDefinitionInput, EventSpecInput};
use crate::catalog::webhooks::inputs::WebhookInput;

/// Renders a stored application input (the JSON of an `ApplicationRegisterInput`). A stored
/// input that does not parse is shown as stored.
pub fn application_input(json: &str) -> String {
    match serde_json::from_str::<ApplicationRegisterInput>(json) {
        Ok(input) => application_register_input(&input),
        Err(_) => json.to_owned(),
    }
}

/// An enum as its GraphQL name (its serde name is the same).
fn enum_name(value: &impl Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(s)) => s,
        _ => String::new(),
    }
}

fn application_register_input(i: &ApplicationRegisterInput) -> String {
    let mut s = String::from("{");
    let _ = write!(s, "\n\t\tname: \"{}\",", i.name);
    if !i.provider_name.is_empty() {
        let _ = write!(s, "\n\t\tproviderName: \"{}\",", i.provider_name);
    }
    if let Some(d) = &i.description {
        let _ = write!(s, "\n\t\tdescription: \"{d}\",");
    }
    if let Some(labels) = &i.labels {
        let sorted: BTreeMap<&String, &Value> = labels.0.iter().collect();
        let _ = write!(s, "\n\t\tlabels: {},", labels_to_gql(&sorted));
    }
    if let Some(webhooks) = i.webhooks.as_ref().filter(|w| !w.is_empty()) {
        s.push_str("\n\t\twebhooks: [");
        for (n, w) in webhooks.iter().enumerate() {
            if n > 0 {
                s.push(',');
            }
            s.push(' ');
            s.push_str(&webhook_input(w));
        }
        s.push_str(" ],");
    }
    if let Some(url) = &i.health_check_url {
        let _ = write!(s, "\n\t\thealthCheckURL: \"{url}\",");
    }
    if let Some(apis) = i.api_definitions.as_ref().filter(|a| !a.is_empty()) {
        s.push_str("\n\t\tapiDefinitions: [");
        for (n, a) in apis.iter().enumerate() {
            if n > 0 {
                s.push(',');
            }
            s.push(' ');
            s.push_str(&api_definition_input(a));
        }
        s.push_str("],");
    }
    if let Some(events) = i.event_definitions.as_ref().filter(|e| !e.is_empty()) {
        s.push_str("\n\t\teventDefinitions: [");
        for (n, e) in events.iter().enumerate() {
            if n > 0 {
                s.push(',');
            }
            s.push(' ');
            s.push_str(&event_definition_input(e));
        }
        s.push_str("],");
    }
    if let Some(documents) = i.documents.as_ref().filter(|d| !d.is_empty()) {
        s.push_str(" \n\t\tdocuments: [");
        for (n, d) in documents.iter().enumerate() {
            if n > 0 {
                s.push(',');
            }
            s.push_str(&document_input(d));
        }
        s.push_str(" ],");
    }
    if let Some(id) = &i.integration_system_id {
        let _ = write!(s, "\n\t\tintegrationSystemID: \"{}\",", id.as_str());
    }
    s.push_str("\n\t}");
    s
}

/// `LabelsToGQL`, `HTTPHeadersToGQL` and `QueryParamsToGQL` share one template: each key
/// with its list of values between quotes.
fn multimap_to_gql<'a>(entries: impl Iterator<Item = (&'a str, Vec<String>)>) -> String {
    let mut s = String::from("{");
    for (key, values) in entries {
        let _ = write!(s, "\n\t\t\t{key}: [");
        for (n, v) in values.iter().enumerate() {
            if n > 0 {
                s.push(',');
            }
            let _ = write!(s, "\"{v}\"");
        }
        s.push_str(" ],");
    }
    s.push_str("\n\t}");
    s
}

/// Go prints a JSON value of a label the way `fmt` prints it: strings bare, numbers and
/// booleans as written.
fn go_print(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn labels_to_gql(labels: &BTreeMap<&String, &Value>) -> String {
    multimap_to_gql(labels.iter().map(|(k, v)| {
        let values = match v {
            Value::Array(items) => items.iter().map(go_print).collect(),
            // Compass's template iterated lists only; a single value is shown as one item.
            single => vec![go_print(single)],
        };
        (k.as_str(), values)
    }))
}

fn headers_to_gql(map: &BTreeMap<String, Vec<String>>) -> String {
    multimap_to_gql(map.iter().map(|(k, v)| (k.as_str(), v.clone())))
}

fn webhook_input(w: &WebhookInput) -> String {
    let mut s = format!(
        "{{\n\t\ttype: {},\n\t\turl: \"{}\",",
        enum_name(&w.webhook_type),
        w.url
    );
    if let Some(auth) = &w.auth {
        let _ = write!(s, " \n\t\tauth:{},", auth_input(auth));
    }
    s.push_str("\n\n\t}");
    s
}

fn auth_input(a: &AuthInput) -> String {
    let mut s = format!(
        "{{\n\t\tcredential: {},",
        credential_data_input(&a.credential)
    );
    if let Some(h) = &a.additional_headers {
        let _ = write!(s, "\n\t\tadditionalHeaders: {},", headers_to_gql(&h.0));
    }
    if let Some(q) = &a.additional_query_params {
        let _ = write!(s, "\n\t\tadditionalQueryParams: {},", headers_to_gql(&q.0));
    }
    if let Some(r) = &a.request_auth {
        let mut inner = String::from("{");
        if let Some(csrf) = &r.csrf {
            let _ = write!(inner, "\n\t\tcsrf: {},", csrf_input(csrf));
        }
        inner.push_str("\n\t}");
        let _ = write!(s, "\n\t\trequestAuth: {inner},");
    }
    s.push_str("\n\t}");
    s
}

fn credential_data_input(c: &CredentialDataInput) -> String {
    let mut s = String::from(" {");
    if let Some(b) = &c.basic {
        let _ = write!(
            s,
            "\n\t\t\tbasic: {{\n\t\t\t\tusername: \"{}\",\n\t\t\t\tpassword: \"{}\",\n\t\t\t}},",
            b.username, b.password
        );
    }
    if let Some(o) = &c.oauth {
        let _ = write!(
            s,
            "\n\t\t\toauth: {{\n\t\t\t\tclientId: \"{}\",\n\t\t\t\tclientSecret: \"{}\",\n\t\t\t\turl: \"{}\",\n\t\t\t}},",
            o.client_id, o.client_secret, o.url
        );
    }
    s.push_str("\n\t}");
    s
}

fn csrf_input(c: &CsrfTokenCredentialRequestAuthInput) -> String {
    let mut s = format!(
        "{{\n\t\t\ttokenEndpointURL: \"{}\",\n\t\t\tcredential: {},",
        c.token_endpoint_url,
        credential_data_input(&c.credential)
    );
    if let Some(h) = &c.additional_headers {
        let _ = write!(s, "\n\t\t\tadditionalHeaders : {},", headers_to_gql(&h.0));
    }
    if let Some(q) = &c.additional_query_params {
        let _ = write!(
            s,
            "\n\t\t\tadditionalQueryParams : {},",
            headers_to_gql(&q.0)
        );
    }
    s.push_str("\n\t}");
    s
}

fn api_definition_input(a: &ApiDefinitionInput) -> String {
    let mut s = format!("{{\n\t\tname: \"{}\",", a.name);
    if let Some(d) = &a.description {
        let _ = write!(s, "\n\t\tdescription: \"{d}\",");
    }
    let _ = write!(s, "\n\t\ttargetURL: \"{}\",", a.target_url);
    if let Some(g) = &a.group {
        let _ = write!(s, "\n\t\tgroup: \"{g}\",");
    }
    if let Some(spec) = &a.spec {
        let _ = write!(s, "\n\t\tspec:{},", api_spec_input(spec));
    }
    if let Some(v) = &a.version {
        let _ = write!(s, "\n\t\tversion:{},", version_input(v));
    }
    if let Some(auth) = &a.default_auth {
        let _ = write!(s, "\n\t\tdefaultAuth:{},", auth_input(auth));
    }
    s.push_str("\n\t}");
    s
}

fn api_spec_input(spec: &ApiSpecInput) -> String {
    let mut s = String::from("{");
    if let Some(data) = &spec.data {
        let _ = write!(s, "\n\t\tdata: {},", go_quote(&data.0));
    }
    let _ = write!(
        s,
        "\t\n\t\ttype: {},\n\t\tformat: {},",
        enum_name(&spec.spec_type),
        enum_name(&spec.format)
    );
    if let Some(fetch) = &spec.fetch_request {
        let _ = write!(s, "\n\t\tfetchRequest:{},", fetch_request_input(fetch));
    }
    s.push_str("\n\t}");
    s
}

fn event_definition_input(e: &EventDefinitionInput) -> String {
    let mut s = format!("{{\n\t\tname: \"{}\",", e.name);
    if let Some(d) = &e.description {
        let _ = write!(s, "\n\t\tdescription: \"{d}\",");
    }
    if let Some(spec) = &e.spec {
        let _ = write!(s, "\n\t\tspec: {},", event_spec_input(spec));
    }
    if let Some(g) = &e.group {
        let _ = write!(s, "\n\t\tgroup: \"{g}\",");
    }
    if let Some(v) = &e.version {
        let _ = write!(s, "\n\t\tversion:{},", version_input(v));
    }
    s.push_str("\n\t}");
    s
}

fn event_spec_input(spec: &EventSpecInput) -> String {
    let mut s = String::from("{");
    if let Some(data) = &spec.data {
        let _ = write!(s, "\n\t\tdata: {},", go_quote(&data.0));
    }
    let _ = write!(s, "\n\t\ttype: {},", enum_name(&spec.spec_type));
    if let Some(fetch) = &spec.fetch_request {
        let _ = write!(s, "\n\t\tfetchRequest:{},", fetch_request_input(fetch));
    }
    let _ = write!(s, "\n\t\tformat: {},", enum_name(&spec.format));
    s.push_str("\n\t}");
    s
}

fn version_input(v: &VersionInput) -> String {
    let mut s = format!("{{\n\t\tvalue: \"{}\",", v.value);
    if let Some(d) = v.deprecated {
        let _ = write!(s, "\n\t\tdeprecated: {d},");
    }
    if let Some(since) = &v.deprecated_since {
        let _ = write!(s, "\n\t\tdeprecatedSince: \"{since}\",");
    }
    if let Some(r) = v.for_removal {
        let _ = write!(s, "\n\t\tforRemoval: {r},");
    }
    s.push_str("\n\t}");
    s
}

fn document_input(d: &DocumentInput) -> String {
    let mut s = format!(
        "{{\n\t\ttitle: \"{}\",\n\t\tdisplayName: \"{}\",\n\t\tdescription: \"{}\",\n\t\tformat: {},",
        d.title,
        d.display_name,
        d.description,
        enum_name(&d.format)
    );
    if let Some(k) = &d.kind {
        let _ = write!(s, "\n\t\tkind: \"{k}\",");
    }
    if let Some(data) = &d.data {
        let _ = write!(s, "\n\t\tdata: \"{}\",", data.0);
    }
    if let Some(fetch) = &d.fetch_request {
        let _ = write!(s, "\n\t\tfetchRequest:{},", fetch_request_input(fetch));
    }
    // Compass's document template ends without the tab the others have.
    s.push_str("\n}");
    s
}

fn fetch_request_input(f: &FetchRequestInput) -> String {
    let mut s = format!("{{\n\t\turl: \"{}\",", f.url);
    if let Some(auth) = &f.auth {
        let _ = write!(s, "\n\t\tauth:{},", auth_input(auth));
    }
    if let Some(mode) = &f.mode {
        let _ = write!(s, "\n\t\tmode: {},", enum_name(mode));
    }
    if let Some(filter) = &f.filter {
        let _ = write!(s, "\n\t\tfilter: \"{filter}\",");
    }
    s.push_str("\n\t}");
    s
}

/// Go's `strconv.Quote`: printable characters as they are, the usual escapes, `\xNN` below
/// space and for DEL, `\uNNNN`/`\UNNNNNNNN` for other unprintable characters.
fn go_quote(text: &str) -> String {
    let mut s = String::with_capacity(text.len() + 2);
    s.push('"');
    for c in text.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\u{7}' => s.push_str("\\a"),
            '\u{8}' => s.push_str("\\b"),
            '\u{c}' => s.push_str("\\f"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            '\u{b}' => s.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(s, "\\x{:02x}", c as u32);
            }
            // Go prints only the ASCII space of the separators; other spaces and controls
            // are escaped.
            c if c != ' ' && (c.is_control() || c.is_whitespace()) => {
                if (c as u32) < 0x10000 {
                    let _ = write!(s, "\\u{:04x}", c as u32);
                } else {
                    let _ = write!(s, "\\U{:08x}", c as u32);
                }
            }
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_go() {
        assert_eq!(go_quote("a\"b\\c\nd\te"), r#""a\"b\\c\nd\te""#);
        assert_eq!(go_quote("\u{0}\u{7f}"), r#""\x00\x7f""#);
        assert_eq!(go_quote("é\u{a0}"), r#""é\u00a0""#);
    }

    #[test]
    fn renders_compass_literal() {
        let json = r#"{"name":"app","providerName":"p","description":"d {{x}}",
            "labels":{"b":["1",2],"a":["x"]},
            "webhooks":[{"type":"CONFIGURATION_CHANGED","url":"https://h/w"}],
            "healthCheckURL":"https://h/health",
            "apiDefinitions":[{"name":"api","targetURL":"https://h/api",
                "spec":{"data":"openapi: \"3.0.0\"\n","type":"OPEN_API","format":"YAML"}}],
            "documents":[{"title":"t","displayName":"dn","description":"dd","format":"MARKDOWN"}]}"#;
        let expected = "{\n\t\tname: \"app\",\n\t\tproviderName: \"p\",\n\t\tdescription: \"d {{x}}\",\n\t\tlabels: {\n\t\t\ta: [\"x\" ],\n\t\t\tb: [\"1\",\"2\" ],\n\t},\n\t\twebhooks: [ {\n\t\ttype: CONFIGURATION_CHANGED,\n\t\turl: \"https://h/w\",\n\n\t} ],\n\t\thealthCheckURL: \"https://h/health\",\n\t\tapiDefinitions: [ {\n\t\tname: \"api\",\n\t\ttargetURL: \"https://h/api\",\n\t\tspec:{\n\t\tdata: \"openapi: \\\"3.0.0\\\"\\n\",\t\n\t\ttype: OPEN_API,\n\t\tformat: YAML,\n\t},\n\t}], \n\t\tdocuments: [{\n\t\ttitle: \"t\",\n\t\tdisplayName: \"dn\",\n\t\tdescription: \"dd\",\n\t\tformat: MARKDOWN,\n} ],\n\t}";
        assert_eq!(application_input(json), expected);
    }

    #[test]
    fn minimal_input_and_garbage() {
        assert_eq!(
            application_input(r#"{"name":"a","providerName":""}"#),
            "{\n\t\tname: \"a\",\n\t}"
        );
        assert_eq!(application_input("not json"), "not json");
    }
}
