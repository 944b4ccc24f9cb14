//! Registering the application's APIs, event APIs and documents.
//!
//! A manifest (YAML or JSON) lists them with the Director's input fields
//! (`APIDefinitionInput`, `EventDefinitionInput`, `DocumentInput`), plus `file` where a spec
//! or document text should be read from a file (relative to the manifest):
//!
//! ```yaml
//! apis:
//!   - name: orders
//!     targetURL: https://shop.example.com/api
//!     spec: {file: orders.yaml}          # type OPEN_API, format from the extension
//!     defaultAuth: {credential: {basic: {username: u, password: p}}}
//! events:
//!   - name: order-events
//!     spec: {file: events.yaml}          # type ASYNC_API
//! documents:
//!   - title: readme
//!     displayName: Read me
//!     description: How to use the shop
//!     format: MARKDOWN
//!     file: README.md
//! ```
//!
//! Registering is idempotent by name (APIs and events) and title (documents): an API or
//! event that exists is updated (`updateAPIDefinition`, `updateEventDefinition`); a document,
//! which the Director cannot update, is replaced (deleted, then added).

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::client::AppClient;
use crate::error::AppError;

/// The largest manifest or spec file read.
const MAX_FILE: u64 = 2 * 1024 * 1024;

/// What to register: Director inputs as JSON, files already read.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Manifest {
    /// `APIDefinitionInput`s.
    pub apis: Vec<Value>,
    /// `EventDefinitionInput`s.
    pub events: Vec<Value>,
    /// `DocumentInput`s.
    pub documents: Vec<Value>,
}

/// One item registered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Registered {
    /// `api`, `event` or `document`.
    pub kind: &'static str,
    /// Its name (a document's title).
    pub name: String,
    /// Its id.
    pub id: String,
    /// `added`, `updated` or `replaced`.
    pub action: &'static str,
}

fn read_file(path: &Path) -> Result<String, AppError> {
    let file_err = |source| AppError::File {
        path: path.to_owned(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(file_err)?;
    if meta.len() > MAX_FILE {
        return Err(AppError::Input(format!(
            "{} is too large ({} bytes, at most {MAX_FILE})",
            path.display(),
            meta.len()
        )));
    }
    std::fs::read_to_string(path).map_err(file_err)
}

/// Parses YAML or JSON text (JSON is YAML, but a JSON parser gives better errors).
fn parse_document(text: &str, what: &str) -> Result<Value, AppError> {
    if text.trim_start().starts_with('{') {
        serde_json::from_str(text).map_err(|e| AppError::Input(format!("{what}: {e}")))
    } else {
        serde_saphyr::from_str(text).map_err(|e| AppError::Input(format!("{what}: {e}")))
    }
}

/// `JSON` for `.json` (or text starting with `{`), else `YAML`.
fn format_of(path: Option<&Path>, text: &str) -> &'static str {
    let json_ext = path
        .and_then(Path::extension)
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if json_ext || text.trim_start().starts_with('{') {
        "JSON"
    } else {
        "YAML"
    }
}

/// Resolves `spec.file` into `spec.data` (and the format), with a default spec type.
fn resolve_spec(
    item: &mut Map<String, Value>,
    base: &Path,
    default_type: &str,
) -> Result<(), AppError> {
    let Some(Value::Object(spec)) = item.get_mut("spec") else {
        return Ok(());
    };
    if let Some(file) = spec.remove("file") {
        let file = file
            .as_str()
            .ok_or_else(|| AppError::Input("spec.file must be a path".into()))?;
        let path = base.join(file);
        let text = read_file(&path)?;
        spec.entry("format")
            .or_insert_with(|| json!(format_of(Some(&path), &text)));
        spec.insert("data".into(), Value::String(text));
    }
    if let Some(data) = spec.get("data").and_then(Value::as_str) {
        let format = format_of(None, data);
        spec.entry("format").or_insert_with(|| json!(format));
    }
    spec.entry("type").or_insert_with(|| json!(default_type));
    Ok(())
}

fn items(manifest: &Value, keys: &[&str]) -> Result<Vec<Map<String, Value>>, AppError> {
    let mut out = Vec::new();
    for key in keys {
        match manifest.get(*key) {
            None | Some(Value::Null) => {}
            Some(Value::Array(list)) => {
                for item in list {
                    match item {
                        Value::Object(map) => out.push(map.clone()),
                        _ => {
                            return Err(AppError::Input(format!(
                                "every entry of {key} must be a mapping"
                            )));
                        }
                    }
                }
            }
            Some(_) => return Err(AppError::Input(format!("{key} must be a list"))),
        }
    }
    Ok(out)
}

impl Manifest {
    /// Reads a manifest file (YAML or JSON); `file` entries are read relative to it.
    pub fn load(path: &Path) -> Result<Manifest, AppError> {
        let text = read_file(path)?;
        let base = path.parent().map(Path::to_owned).unwrap_or_default();
        Manifest::parse(&text, &base)
    }

    /// Parses a manifest's text; `file` entries are read relative to `base`.
    pub fn parse(text: &str, base: &Path) -> Result<Manifest, AppError> {
        let value = parse_document(text, "the manifest")?;
        if !value.is_object() {
            return Err(AppError::Input(
                "the manifest must be a mapping with apis, events and documents".into(),
            ));
        }
        let mut manifest = Manifest::default();
        for mut api in items(&value, &["apis", "apiDefinitions"])? {
            resolve_spec(&mut api, base, "OPEN_API")?;
            manifest.apis.push(Value::Object(api));
        }
        for mut event in items(&value, &["events", "eventDefinitions"])? {
            resolve_spec(&mut event, base, "ASYNC_API")?;
            manifest.events.push(Value::Object(event));
        }
        for mut document in items(&value, &["documents"])? {
            if let Some(file) = document.remove("file") {
                let file = file
                    .as_str()
                    .ok_or_else(|| AppError::Input("file must be a path".into()))?;
                document.insert("data".into(), Value::String(read_file(&base.join(file))?));
            }
            document
                .entry("format")
                .or_insert_with(|| json!("MARKDOWN"));
            manifest.documents.push(Value::Object(document));
        }
        Ok(manifest)
    }

    /// An API from an OpenAPI (or Swagger 2) document: its name from `info.title` (made a
    /// valid name) unless given, its target URL from `servers[0].url` (or Swagger's
    /// `schemes`/`host`/`basePath`) unless given.
    pub fn from_openapi(
        path: &Path,
        name: Option<&str>,
        target_url: Option<&str>,
    ) -> Result<Manifest, AppError> {
        let text = read_file(path)?;
        let doc = parse_document(&text, &path.display().to_string())?;
        let name = match name {
            Some(name) => name.to_owned(),
            None => name_of(&doc, path)?,
        };
        let target = match target_url {
            Some(url) => url.to_owned(),
            None => server_url(&doc).ok_or_else(|| {
                AppError::Input(format!(
                    "{} names no server (servers[0].url): give --target-url",
                    path.display()
                ))
            })?,
        };
        let mut api = json!({
            "name": name,
            "targetURL": target,
            "spec": {"data": text, "type": "OPEN_API", "format": format_of(Some(path), &text)},
        });
        if let Some(description) = doc["info"]["description"].as_str() {
            api["description"] = json!(truncate(description, 128));
        }
        if let Some(version) = doc["info"]["version"].as_str() {
            api["version"] = json!({"value": version});
        }
        Ok(Manifest {
            apis: vec![api],
            ..Manifest::default()
        })
    }

    /// An event API from an AsyncAPI document: its name from `info.title` unless given.
    pub fn from_asyncapi(path: &Path, name: Option<&str>) -> Result<Manifest, AppError> {
        let text = read_file(path)?;
        let doc = parse_document(&text, &path.display().to_string())?;
        let name = match name {
            Some(name) => name.to_owned(),
            None => name_of(&doc, path)?,
        };
        let mut event = json!({
            "name": name,
            "spec": {"data": text, "type": "ASYNC_API", "format": format_of(Some(path), &text)},
        });
        if let Some(description) = doc["info"]["description"].as_str() {
            event["description"] = json!(truncate(description, 128));
        }
        if let Some(version) = doc["info"]["version"].as_str() {
            event["version"] = json!({"value": version});
        }
        Ok(Manifest {
            events: vec![event],
            ..Manifest::default()
        })
    }

    /// Adds another manifest's items.
    pub fn extend(&mut self, other: Manifest) {
        self.apis.extend(other.apis);
        self.events.extend(other.events);
        self.documents.extend(other.documents);
    }
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// `info.title` as a name: lowercase alphanumerics and `-`, at most 36 characters, not
/// starting with a digit.
fn name_of(doc: &Value, path: &Path) -> Result<String, AppError> {
    let title = doc["info"]["title"].as_str().ok_or_else(|| {
        AppError::Input(format!("{} has no info.title: give --name", path.display()))
    })?;
    Ok(slug(title))
}

/// A valid Director name made of `text`.
pub fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let mut out: String = out.trim_matches('-').chars().take(36).collect();
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out = format!("api-{out}").chars().take(36).collect();
        while out.ends_with('-') {
            out.pop();
        }
    }
    out
}

fn server_url(doc: &Value) -> Option<String> {
    if let Some(url) = doc["servers"][0]["url"].as_str()
        && url.starts_with("http")
    {
        return Some(url.to_owned());
    }
    let host = doc["host"].as_str()?;
    let scheme = doc["schemes"]
        .as_array()
        .and_then(|s| {
            s.iter()
                .filter_map(Value::as_str)
                .find(|s| *s == "https")
                .or(s.first().and_then(Value::as_str))
        })
        .unwrap_or("https");
    let base = doc["basePath"].as_str().unwrap_or("");
    Some(format!("{scheme}://{host}{base}"))
}

/// What the application has now: (name → id) for APIs, events and documents.
struct Existing {
    apis: Vec<(String, String)>,
    events: Vec<(String, String)>,
    documents: Vec<(String, String)>,
}

async fn page_all(
    client: &AppClient,
    field: &str,
    key: &str,
) -> Result<Vec<(String, String)>, AppError> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let query = format!(
            "query($id: ID!, $after: PageCursor) {{ application(id: $id) {{ {field}(first: 100, after: $after) {{ data {{ id {key} }} pageInfo {{ hasNextPage endCursor }} }} }} }}"
        );
        let data = client
            .director(
                &query,
                json!({"id": client.application_id(), "after": after}),
            )
            .await?;
        let page = &data["application"][field];
        for item in page["data"].as_array().into_iter().flatten() {
            if let (Some(id), Some(name)) = (item["id"].as_str(), item[key].as_str()) {
                out.push((name.to_owned(), id.to_owned()));
            }
        }
        match (
            page["pageInfo"]["hasNextPage"].as_bool(),
            page["pageInfo"]["endCursor"].as_str(),
        ) {
            (Some(true), Some(cursor)) => after = Some(cursor.to_owned()),
            _ => return Ok(out),
        }
    }
}

async fn existing(client: &AppClient) -> Result<Existing, AppError> {
    Ok(Existing {
        apis: page_all(client, "apiDefinitions", "name").await?,
        events: page_all(client, "eventDefinitions", "name").await?,
        documents: page_all(client, "documents", "title").await?,
    })
}

fn find<'a>(list: &'a [(String, String)], name: &str) -> Option<&'a str> {
    list.iter()
        .find(|(n, _)| n == name)
        .map(|(_, id)| id.as_str())
}

fn field(item: &Value, name: &str, what: &str) -> Result<String, AppError> {
    item[name]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| AppError::Input(format!("every {what} needs a {name}")))
}

/// Registers the manifest's items as the application (see the module documentation).
pub async fn register(
    client: &AppClient,
    manifest: &Manifest,
) -> Result<Vec<Registered>, AppError> {
    let have = existing(client).await?;
    let app = client.application_id();
    let mut done = Vec::new();
    for api in &manifest.apis {
        let name = field(api, "name", "API")?;
        let (data, action) = match find(&have.apis, &name) {
            Some(id) => (
                client
                    .director(
                        "mutation($id: ID!, $in: APIDefinitionInput!) { r: updateAPIDefinition(id: $id, in: $in) { id } }",
                        json!({"id": id, "in": api}),
                    )
                    .await?,
                "updated",
            ),
            None => (
                client
                    .director(
                        "mutation($app: ID!, $in: APIDefinitionInput!) { r: addAPIDefinition(applicationID: $app, in: $in) { id } }",
                        json!({"app": app, "in": api}),
                    )
                    .await?,
                "added",
            ),
        };
        done.push(Registered {
            kind: "api",
            name,
            id: data["r"]["id"].as_str().unwrap_or_default().to_owned(),
            action,
        });
    }
    for event in &manifest.events {
        let name = field(event, "name", "event API")?;
        let (data, action) = match find(&have.events, &name) {
            Some(id) => (
                client
                    .director(
                        "mutation($id: ID!, $in: EventDefinitionInput!) { r: updateEventDefinition(id: $id, in: $in) { id } }",
                        json!({"id": id, "in": event}),
                    )
                    .await?,
                "updated",
            ),
            None => (
                client
                    .director(
                        "mutation($app: ID!, $in: EventDefinitionInput!) { r: addEventDefinition(applicationID: $app, in: $in) { id } }",
                        json!({"app": app, "in": event}),
                    )
                    .await?,
                "added",
            ),
        };
        done.push(Registered {
            kind: "event",
            name,
            id: data["r"]["id"].as_str().unwrap_or_default().to_owned(),
            action,
        });
    }
    for document in &manifest.documents {
        let title = field(document, "title", "document")?;
        let action = match find(&have.documents, &title) {
            Some(id) => {
                client
                    .director(
                        "mutation($id: ID!) { deleteDocument(id: $id) { id } }",
                        json!({"id": id}),
                    )
                    .await?;
                "replaced"
            }
            None => "added",
        };
        let data = client
            .director(
                "mutation($app: ID!, $in: DocumentInput!) { r: addDocument(applicationID: $app, in: $in) { id } }",
                json!({"app": app, "in": document}),
            )
            .await?;
        done.push(Registered {
            kind: "document",
            name: title,
            id: data["r"]["id"].as_str().unwrap_or_default().to_owned(),
            action,
        });
    }
    Ok(done)
}

/// The manifest file's directory, for relative `file` entries.
pub fn base_of(path: &Path) -> PathBuf {
    path.parent().map(Path::to_owned).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(slug("Orders API (v2)"), "orders-api-v2");
        assert_eq!(slug("2nd shop"), "api-2nd-shop");
        assert_eq!(slug("!!!"), "api");
        assert!(slug(&"x".repeat(80)).len() <= 36);
    }

    #[test]
    fn manifests_read_files_and_default_types() {
        let dir = std::env::temp_dir().join(format!("sextant-app-m-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("o.json"), "{\"openapi\":\"3.0.0\"}").unwrap();
        std::fs::write(dir.join("README.md"), "# hi").unwrap();
        let m = Manifest::parse(
            "apis:\n  - name: orders\n    targetURL: https://x\n    spec: {file: o.json}\nevents:\n  - name: e\n    spec: {data: 'asyncapi: 2.0.0'}\ndocuments:\n  - title: t\n    displayName: T\n    description: d\n    file: README.md\n",
            &dir,
        )
        .unwrap();
        assert_eq!(m.apis[0]["spec"]["format"], "JSON");
        assert_eq!(m.apis[0]["spec"]["type"], "OPEN_API");
        assert_eq!(m.events[0]["spec"]["type"], "ASYNC_API");
        assert_eq!(m.events[0]["spec"]["format"], "YAML");
        assert_eq!(m.documents[0]["data"], "# hi");
        assert_eq!(m.documents[0]["format"], "MARKDOWN");
        assert!(Manifest::parse("apis: 3", &dir).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn server_urls() {
        assert_eq!(
            server_url(&json!({"servers": [{"url": "https://a/b"}]})).as_deref(),
            Some("https://a/b")
        );
        assert_eq!(
            server_url(&json!({"host": "h", "basePath": "/v1", "schemes": ["http", "https"]}))
                .as_deref(),
            Some("https://h/v1")
        );
        assert_eq!(server_url(&json!({})), None);
    }
}
