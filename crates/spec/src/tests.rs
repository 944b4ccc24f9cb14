#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use sextant_domain::{ApiSpecType, EventSpecType, SpecFormat};

use crate::{
    Limits, MAX_DEPTH, MAX_NODES, MAX_SPEC_BYTES, MAX_TEXT_BYTES, SpecError, SpecKind,
    check_format_allowed, validate, validate_up_to,
};

use SpecFormat::{Json, Xml, Yaml};
use SpecKind::{AsyncApi, OData, OpenApi};

const PETSTORE_YAML: &str = r##"
openapi: 3.0.3
info:
  title: Petstore
  version: 1.0.0
  license:
    name: MIT
servers:
  - url: http://petstore.example.com/v1
paths:
  /pets:
    get:
      summary: List all pets
      operationId: listPets
      parameters:
        - name: limit
          in: query
          required: false
          schema:
            type: integer
            format: int32
      responses:
        200:
          description: A paged array of pets
          content:
            application/json:
              schema:
                $ref: "#/components/schemas/Pets"
        default:
          description: unexpected error
components:
  schemas:
    Pet:
      type: object
      required: [id, name]
      properties:
        id: {type: integer, format: int64}
        name: {type: string}
    Pets:
      type: array
      items:
        $ref: "#/components/schemas/Pet"
"##;

const SWAGGER_JSON: &str = r#"{
  "swagger": "2.0",
  "info": {"title": "Orders", "version": "2"},
  "host": "orders.example.com",
  "basePath": "/api",
  "paths": {"/orders": {"get": {"responses": {"200": {"description": "ok"}}}}}
}"#;

const OPENAPI_31_WEBHOOKS: &str = r#"{
  "openapi": "3.1.0",
  "info": {"title": "Hooks", "version": "0.1"},
  "webhooks": {"newPet": {"post": {"responses": {"200": {"description": "ok"}}}}}
}"#;

const ASYNCAPI_2_YAML: &str = r#"
asyncapi: '2.6.0'
info:
  title: Account Service
  version: 1.0.0
channels:
  user/signedup:
    subscribe:
      message:
        payload:
          type: object
          properties:
            displayName: {type: string}
"#;

const ASYNCAPI_1_YAML: &str = r#"
asyncapi: '1.2.0'
info:
  title: Streetlights
  version: '1.0.0'
topics:
  event.lighting.measured:
    publish:
      $ref: '#/components/messages/lightMeasured'
"#;

const ASYNCAPI_3_JSON: &str =
    r#"{"asyncapi": "3.0.0", "info": {"title": "Empty", "version": "1"}}"#;

const ODATA_XML: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
  <edmx:DataServices>
    <Schema Namespace="Sales" xmlns="http://docs.oasis-open.org/odata/ns/edm">
      <EntityType Name="Order">
        <Key><PropertyRef Name="ID"/></Key>
        <Property Name="ID" Type="Edm.Int32" Nullable="false"/>
        <Property Name="Note" Type="Edm.String" DefaultValue="a &amp; b &#x41;"/>
      </EntityType>
      <EntityContainer Name="Container">
        <EntitySet Name="Orders" EntityType="Sales.Order"/>
      </EntityContainer>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>
"#;

const ODATA_CSDL_JSON: &str = r#"{
  "$Version": "4.01",
  "$EntityContainer": "Sales.Container",
  "Sales": {"Order": {"$Kind": "EntityType", "$Key": ["ID"], "ID": {"$Type": "Edm.Int32"}}}
}"#;

/// The `reason` of an `Invalid` error, or a panic naming what came back instead.
fn reason(kind: SpecKind, format: SpecFormat, data: &str) -> String {
    match validate(kind, format, data) {
        Err(SpecError::Invalid { kind: k, reason }) if k == kind => reason,
        other => panic!("expected Invalid for {kind}, got {other:?}"),
    }
}

fn syntax(kind: SpecKind, format: SpecFormat, data: &str) -> String {
    match validate(kind, format, data) {
        Err(SpecError::Syntax { format: f, message }) if f == format => message,
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

// --- valid documents ---

#[test]
fn valid_examples_pass() {
    let cases = [
        (OpenApi, Yaml, PETSTORE_YAML),
        (OpenApi, Json, SWAGGER_JSON),
        (OpenApi, Json, OPENAPI_31_WEBHOOKS),
        (OpenApi, Yaml, OPENAPI_31_WEBHOOKS),
        (AsyncApi, Yaml, ASYNCAPI_2_YAML),
        (AsyncApi, Yaml, ASYNCAPI_1_YAML),
        (AsyncApi, Json, ASYNCAPI_3_JSON),
        (OData, Xml, ODATA_XML),
        (OData, Json, ODATA_CSDL_JSON),
    ];
    for (kind, format, data) in cases {
        assert_eq!(validate(kind, format, data), Ok(()), "{kind} {format:?}");
    }
}

#[test]
fn swagger_json_is_also_valid_yaml() {
    assert_eq!(validate(OpenApi, Yaml, SWAGGER_JSON), Ok(()));
}

#[test]
fn openapi_31_accepts_components_alone() {
    let doc = r#"{"openapi":"3.1.0","info":{"title":"t","version":"v"},"components":{}}"#;
    assert_eq!(validate(OpenApi, Json, doc), Ok(()));
}

#[test]
fn asyncapi_1_accepts_stream_instead_of_topics() {
    let doc = r#"{"asyncapi":"1.2.0","info":{"title":"t","version":"v"},"stream":{}}"#;
    assert_eq!(validate(AsyncApi, Json, doc), Ok(()));
}

#[test]
fn odata_root_may_use_any_prefix_or_none() {
    let doc = r#"<Edmx Version="4.0"><DataServices/></Edmx>"#;
    assert_eq!(validate(OData, Xml, doc), Ok(()));
    let doc = r#"<x:Edmx xmlns:x="urn:x"><x:DataServices></x:DataServices></x:Edmx>"#;
    assert_eq!(validate(OData, Xml, doc), Ok(()));
}

#[test]
fn spec_kind_converts_from_domain_types() {
    assert_eq!(SpecKind::from(ApiSpecType::OpenApi), OpenApi);
    assert_eq!(SpecKind::from(ApiSpecType::OData), OData);
    assert_eq!(SpecKind::from(EventSpecType::AsyncApi), AsyncApi);
    assert_eq!(OpenApi.to_string(), "OPEN_API");
    assert_eq!(OData.to_string(), "ODATA");
    assert_eq!(AsyncApi.to_string(), "ASYNC_API");
}

// --- size, emptiness, format ---

#[test]
fn too_large_is_refused_before_parsing() {
    // Not valid in any format: only the size can have been looked at.
    let data = "{".repeat(3 * 1024 * 1024);
    let started = Instant::now();
    let err = validate(OpenApi, Json, &data).unwrap_err();
    assert!(started.elapsed() < Duration::from_millis(100));
    assert_eq!(
        err,
        SpecError::TooLarge {
            size: 3_145_728,
            max: MAX_SPEC_BYTES
        }
    );
    assert_eq!(
        err.to_string(),
        "spec is too large: 3145728 bytes, at most 2097152 are allowed"
    );
    // Even with a format that is not allowed: size comes first.
    assert!(matches!(
        validate(OpenApi, Xml, &data),
        Err(SpecError::TooLarge { .. })
    ));
}

#[test]
fn at_the_size_limit_is_parsed() {
    let mut doc = String::from(r#"{"$Version":"4.0","pad":""#);
    doc.push_str(&"x".repeat(MAX_SPEC_BYTES - doc.len() - 2));
    doc.push_str("\"}");
    assert_eq!(doc.len(), MAX_SPEC_BYTES);
    assert_eq!(validate(OData, Json, &doc), Ok(()));
}

#[test]
fn empty_and_blank_are_refused() {
    for kind in [OpenApi, OData, AsyncApi] {
        for &format in kind.allowed_formats() {
            for data in ["", "  \n\t "] {
                assert_eq!(validate(kind, format, data), Err(SpecError::Empty));
            }
        }
    }
    assert_eq!(SpecError::Empty.to_string(), "spec is empty");
}

#[test]
fn formats_allowed_per_kind() {
    let allowed = [
        (OpenApi, Yaml, true),
        (OpenApi, Json, true),
        (OpenApi, Xml, false),
        (AsyncApi, Yaml, true),
        (AsyncApi, Json, true),
        (AsyncApi, Xml, false),
        (OData, Xml, true),
        (OData, Json, true),
        (OData, Yaml, false),
    ];
    for (kind, format, ok) in allowed {
        assert_eq!(
            check_format_allowed(kind, format).is_ok(),
            ok,
            "{kind} {format:?}"
        );
    }
    assert_eq!(
        check_format_allowed(OpenApi, Xml).unwrap_err().to_string(),
        "format XML is not allowed for OPEN_API specs: use YAML or JSON"
    );
    assert_eq!(
        check_format_allowed(OData, Yaml).unwrap_err().to_string(),
        "format YAML is not allowed for ODATA specs: use XML or JSON"
    );
    assert_eq!(
        validate(AsyncApi, Xml, "<a/>"),
        Err(SpecError::FormatNotAllowed {
            kind: AsyncApi,
            format: Xml
        })
    );
}

// --- syntax ---

#[test]
fn invalid_json_reports_the_parser_message() {
    let err = validate(OpenApi, Json, "nope").unwrap_err();
    assert_eq!(
        err.to_string(),
        "data is not valid JSON: expected ident at line 1 column 2"
    );
    assert_eq!(
        validate(OpenApi, Json, "]").unwrap_err().to_string(),
        "data is not valid JSON: expected value at line 1 column 1"
    );
    syntax(OpenApi, Json, r#"{"openapi": "3.0.0"} trailing"#);
    syntax(OpenApi, Json, r#"{"openapi": "3.0.0""#);
}

#[test]
fn invalid_yaml_reports_the_parser_message_on_one_line() {
    let message = syntax(OpenApi, Yaml, "openapi: [3.0\ninfo: {title: x\n");
    assert!(!message.contains('\n'), "{message}");
    syntax(OpenApi, Yaml, "a: 1\na: 2\n"); // duplicate key
    assert_eq!(
        syntax(OpenApi, Yaml, "a: 1\n---\nb: 2\n"),
        "the data holds more than one YAML document"
    );
    syntax(OpenApi, Yaml, "? [a, b]\n: c\n"); // a collection as a key
    syntax(OpenApi, Yaml, "a: *missing\n");
    let err = validate(OpenApi, Yaml, "key: \"unterminated\n").unwrap_err();
    assert!(!err.to_string().contains('\n'));
}

#[test]
fn invalid_xml_is_refused() {
    let cases = [
        "<Edmx><DataServices></Edmx>",    // mismatched end
        "<Edmx><DataServices/>",          // not closed
        "</Edmx>",                        // unmatched end
        "<Edmx/><Edmx/>",                 // two roots
        "text<Edmx/>",                    // text outside the root
        "<Edmx/>text",                    // text after the root
        "<Edmx>&undefined;</Edmx>",       // undefined entity
        "<Edmx a=\"&undefined;\"/>",      // undefined entity in an attribute
        "<Edmx a=\"1\" a=\"2\"/>",        // duplicate attribute
        "<Edmx a/>",                      // attribute without value
        "<Edmx>&#0;</Edmx>",              // invalid character reference
        "<Edmx/><?xml version=\"1.0\"?>", // declaration not first
        "<Edmx><!-- a -- b --></Edmx>",   // double hyphen in comment
        "just text",                      // no root element
        "<!-- only a comment -->",        // no root element
    ];
    for data in cases {
        let message = syntax(OData, Xml, data);
        assert!(!message.contains('\n'), "{data}: {message}");
    }
}

#[test]
fn doctype_is_refused() {
    let billion_laughs = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<Edmx><DataServices>&lol3;</DataServices></Edmx>"#;
    let err = validate(OData, Xml, billion_laughs).unwrap_err();
    assert_eq!(err, SpecError::Doctype);
    assert_eq!(
        err.to_string(),
        "data is not allowed to contain an XML DOCTYPE declaration"
    );
    let external = r#"<!DOCTYPE Edmx SYSTEM "file:///etc/passwd"><Edmx><DataServices/></Edmx>"#;
    assert_eq!(validate(OData, Xml, external), Err(SpecError::Doctype));
}

// --- structure: OpenAPI ---

#[test]
fn openapi_structure_errors_name_the_field() {
    let cases = [
        ("[]", "the top level must be an object, found an array"),
        ("\"x\"", "the top level must be an object, found \"x\""),
        (
            r#"{"info":{"title":"t","version":"v"},"paths":{}}"#,
            "missing field \"openapi\" (or \"swagger\" for Swagger 2.0)",
        ),
        (
            r#"{"openapi":"2.0","info":{"title":"t","version":"v"},"paths":{}}"#,
            "field \"openapi\" must be a string starting with \"3.\", found \"2.0\"",
        ),
        (
            r#"{"openapi":3,"info":{"title":"t","version":"v"},"paths":{}}"#,
            "field \"openapi\" must be a string starting with \"3.\", found 3 (write it in quotes)",
        ),
        (
            r#"{"swagger":"1.2","info":{"title":"t","version":"v"},"paths":{}}"#,
            "field \"swagger\" must be the string \"2.0\", found \"1.2\"",
        ),
        (
            r#"{"openapi":"3.0.0","paths":{}}"#,
            "missing field \"info\"",
        ),
        (
            r#"{"openapi":"3.0.0","info":[],"paths":{}}"#,
            "field \"info\" must be an object, found an array",
        ),
        (
            r#"{"openapi":"3.0.0","info":{"version":"v"},"paths":{}}"#,
            "missing field \"info.title\"",
        ),
        (
            r#"{"openapi":"3.0.0","info":{"title":"t"},"paths":{}}"#,
            "missing field \"info.version\"",
        ),
        (
            r#"{"openapi":"3.0.0","info":{"title":null,"version":"v"},"paths":{}}"#,
            "field \"info.title\" must be a string, found null",
        ),
        (
            r#"{"openapi":"3.0.0","info":{"title":"t","version":"v"}}"#,
            "missing field \"paths\"",
        ),
        (
            r#"{"swagger":"2.0","info":{"title":"t","version":"v"}}"#,
            "missing field \"paths\"",
        ),
        (
            r#"{"openapi":"3.0.0","info":{"title":"t","version":"v"},"paths":[]}"#,
            "field \"paths\" must be an object, found an array",
        ),
        (
            r#"{"openapi":"3.1.0","info":{"title":"t","version":"v"}}"#,
            "at least one of the fields \"paths\", \"components\" or \"webhooks\" is required",
        ),
        (
            r#"{"openapi":"3.1.0","info":{"title":"t","version":"v"},"webhooks":{},"paths":1}"#,
            "field \"paths\" must be an object, found 1",
        ),
    ];
    for (data, expected) in cases {
        assert_eq!(reason(OpenApi, Json, data), expected, "{data}");
    }
    let err = validate(
        OpenApi,
        Json,
        r#"{"openapi":"3.0.0","info":{"version":"v"},"paths":{}}"#,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "data is not a valid OpenAPI document: missing field \"info.title\""
    );
}

#[test]
fn unquoted_yaml_versions_are_accepted_where_tools_write_them() {
    let doc = "swagger: 2.0\ninfo: {title: t, version: 1.0}\npaths: {}\n";
    assert!(validate(OpenApi, Yaml, doc).is_ok());
    let doc = "swagger: 3.0\ninfo: {title: t, version: v}\npaths: {}\n";
    assert_eq!(
        reason(OpenApi, Yaml, doc),
        "field \"swagger\" must be the string \"2.0\", found 3.0 (write it in quotes)"
    );
    let doc = "openapi: 3.0.0\ninfo: {title: t, version: true}\npaths: {}\n";
    assert_eq!(
        reason(OpenApi, Yaml, doc),
        "field \"info.version\" must be a string, found true"
    );
}

// --- structure: AsyncAPI ---

#[test]
fn asyncapi_structure_errors_name_the_field() {
    let cases = [
        ("1", "the top level must be an object, found 1"),
        (
            r#"{"info":{"title":"t","version":"v"},"channels":{}}"#,
            "missing field \"asyncapi\"",
        ),
        (
            r#"{"asyncapi":"4.0.0","info":{"title":"t","version":"v"},"channels":{}}"#,
            "field \"asyncapi\" must be a string starting with \"1.\", \"2.\", \"3.\", found \"4.0.0\"",
        ),
        (
            r#"{"asyncapi":"2.0.0","channels":{}}"#,
            "missing field \"info\"",
        ),
        (
            r#"{"asyncapi":"2.0.0","info":{"title":"t","version":[2]},"channels":{}}"#,
            "field \"info.version\" must be a string, found an array",
        ),
        (
            r#"{"asyncapi":"2.0.0","info":{"title":"t","version":"v"}}"#,
            "missing field \"channels\"",
        ),
        (
            r#"{"asyncapi":"2.0.0","info":{"title":"t","version":"v"},"channels":"x"}"#,
            "field \"channels\" must be an object, found \"x\"",
        ),
        (
            r#"{"asyncapi":"1.0.0","info":{"title":"t","version":"v"},"channels":{}}"#,
            "missing field \"topics\" (or \"stream\" or \"events\")",
        ),
        (
            r#"{"asyncapi":"1.0.0","info":{"title":"t","version":"v"},"topics":[]}"#,
            "field \"topics\" must be an object, found an array",
        ),
        (
            r#"{"asyncapi":"3.0.0","info":{"title":"t","version":"v"},"channels":[]}"#,
            "field \"channels\" must be an object, found an array",
        ),
    ];
    for (data, expected) in cases {
        assert_eq!(reason(AsyncApi, Json, data), expected, "{data}");
    }
    assert!(
        validate(AsyncApi, Json, "[]")
            .unwrap_err()
            .to_string()
            .starts_with("data is not a valid AsyncAPI document: ")
    );
}

// --- structure: OData ---

#[test]
fn odata_structure_errors_name_the_field() {
    assert_eq!(
        reason(OData, Xml, "<edmx:Schema xmlns:edmx=\"urn:x\"/>"),
        "the root element must be \"Edmx\", not \"Schema\""
    );
    assert_eq!(
        reason(OData, Xml, "<Edmx><Schema><DataServices/></Schema></Edmx>"),
        "missing element \"DataServices\" in \"Edmx\""
    );
    assert_eq!(
        reason(OData, Json, r#"{"Sales":{}}"#),
        "missing field \"$Version\""
    );
    assert_eq!(
        reason(OData, Json, r#"{"$Version":4.0}"#),
        "field \"$Version\" must be a string, found 4.0 (write it in quotes)"
    );
    assert_eq!(
        reason(OData, Json, "[]"),
        "the top level must be an object, found an array"
    );
    assert_eq!(
        validate(OData, Json, "[]").unwrap_err().to_string(),
        "data is not a valid OData document: the top level must be an object, found an array"
    );
}

// --- hostile input ---

fn nested(open: &str, close: &str, depth: usize) -> String {
    let mut s = open.repeat(depth);
    s.push_str(&close.repeat(depth));
    s
}

fn assert_fast(started: Instant) {
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_millis(500), "took {elapsed:?}");
}

#[test]
fn depth_limit_is_exact() {
    // MAX_DEPTH arrays are accepted as data (the document is then not an object).
    let ok = nested("[", "]", MAX_DEPTH);
    assert!(matches!(
        validate(OData, Json, &ok),
        Err(SpecError::Invalid { .. })
    ));
    assert!(matches!(
        validate(OpenApi, Yaml, &ok),
        Err(SpecError::Invalid { .. })
    ));
    let too_deep = nested("[", "]", MAX_DEPTH + 1);
    assert_eq!(
        validate(OData, Json, &too_deep),
        Err(SpecError::TooDeep { max: MAX_DEPTH })
    );
    assert_eq!(
        validate(OpenApi, Yaml, &too_deep),
        Err(SpecError::TooDeep { max: MAX_DEPTH })
    );
    assert_eq!(
        SpecError::TooDeep { max: MAX_DEPTH }.to_string(),
        "data is nested too deeply (more than 64 levels)"
    );
    let xml_ok = format!(
        "<Edmx><DataServices>{}</DataServices></Edmx>",
        nested("<a>", "</a>", MAX_DEPTH - 2)
    );
    assert_eq!(validate(OData, Xml, &xml_ok), Ok(()));
    let xml_deep = format!(
        "<Edmx><DataServices>{}</DataServices></Edmx>",
        nested("<a>", "</a>", MAX_DEPTH - 1)
    );
    assert_eq!(
        validate(OData, Xml, &xml_deep),
        Err(SpecError::TooDeep { max: MAX_DEPTH })
    );
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    const DEEP: usize = 100_000;
    let cases = [
        (OData, Json, nested("[", "]", DEEP)),
        (OData, Json, nested("{\"a\":", "}", DEEP)),
        (OpenApi, Yaml, nested("[", "]", DEEP)),
        (OpenApi, Yaml, nested("{a: ", "}", DEEP)),
        (OpenApi, Yaml, "- ".repeat(DEEP) + "x\n"),
        (OData, Xml, nested("<a>", "</a>", DEEP)),
        (OData, Xml, "<a>".repeat(DEEP)),
    ];
    for (kind, format, data) in cases {
        let started = Instant::now();
        assert_eq!(
            validate(kind, format, &data),
            Err(SpecError::TooDeep { max: MAX_DEPTH }),
            "{kind} {format:?} {}",
            &data[..20]
        );
        assert_fast(started);
    }
}

#[test]
fn deep_nesting_below_the_kept_levels_is_still_bounded() {
    let mut doc =
        String::from(r#"{"openapi":"3.0.0","info":{"title":"t","version":"v"},"paths":{"/a":"#);
    doc.push_str(&nested("[", "]", 100_000));
    doc.push_str("}}");
    assert_eq!(
        validate(OpenApi, Json, &doc),
        Err(SpecError::TooDeep { max: MAX_DEPTH })
    );
}

#[test]
fn yaml_billion_laughs_is_refused_quickly() {
    let bomb = r#"
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"#;
    let started = Instant::now();
    let err = validate(OpenApi, Yaml, bomb).unwrap_err();
    assert_fast(started);
    assert_eq!(err, SpecError::AliasExpansion);
    assert_eq!(
        err.to_string(),
        "data uses YAML anchors and aliases beyond the allowed limits"
    );
}

#[test]
fn yaml_aliases_nesting_past_the_depth_limit_are_refused() {
    // Each anchor is 40 deep and contains the previous one: the expanded tree is deeper than
    // any single anchor.
    let mut doc = String::new();
    doc.push_str(&format!("a0: &a0 {}\n", nested("[", "]", 40)));
    doc.push_str(&format!(
        "a1: &a1 {}*a0{}\n",
        "[".repeat(40),
        "]".repeat(40)
    ));
    assert_eq!(
        validate(OpenApi, Yaml, &doc),
        Err(SpecError::TooDeep { max: MAX_DEPTH })
    );
}

#[test]
fn yaml_aliases_of_long_strings_hit_the_text_limit() {
    let mut doc = format!("a: &s \"{}\"\nb: [", "x".repeat(MAX_SPEC_BYTES / 2));
    doc.push_str(&vec!["*s"; 40].join(", "));
    doc.push_str("]\n");
    let started = Instant::now();
    assert_eq!(
        validate(OpenApi, Yaml, &doc),
        Err(SpecError::TooMuchText {
            max: MAX_TEXT_BYTES
        })
    );
    assert_fast(started);
}

#[test]
fn too_many_values_are_refused() {
    // "[0,0,…]" just under the size limit holds more than MAX_NODES values.
    let count = (MAX_SPEC_BYTES - 2) / 2;
    assert!(count > MAX_NODES);
    let mut doc = String::with_capacity(MAX_SPEC_BYTES);
    doc.push('[');
    doc.push_str(&"0,".repeat(count - 1));
    doc.push_str("0]");
    assert!(doc.len() <= MAX_SPEC_BYTES);
    for format in [Json, Yaml] {
        assert_eq!(
            validate(AsyncApi, format, &doc),
            Err(SpecError::TooManyNodes { max: MAX_NODES }),
            "{format:?}"
        );
    }
}

#[test]
fn yaml_features_are_read_into_the_tree() {
    // Merge keys, non-string keys, tags, special floats and binary all fit the shared tree.
    let doc = r#"
openapi: "3.0.1"
info: &info {title: "t", version: "v"}
x-copy:
  <<: *info
  extra: !custom tagged
x-numbers: [.nan, .inf, -.inf, 1e999, 0x1F, 123456789012345678901234567890]
x-binary: !!binary aGVsbG8=
~: null key
true: bool key
paths:
  /a:
    get:
      responses:
        200: {description: ok}
"#;
    assert_eq!(validate(OpenApi, Yaml, doc), Ok(()));
}

/// A real-sized spec (13 MB, like GitHub's OpenAPI document): refused at the inline limit,
/// accepted at the fetched-spec limit, whose value and text limits grow in proportion.
#[test]
fn a_large_spec_passes_with_a_larger_limit() {
    let mut doc = String::from(
        "{\"openapi\":\"3.0.0\",\"info\":{\"title\":\"big\",\"version\":\"1\"},\"paths\":{",
    );
    let mut i = 0;
    while doc.len() < 13_000_000 {
        if i > 0 {
            doc.push(',');
        }
        doc.push_str(&format!(
            "\"/p/{i}\":{{\"get\":{{\"operationId\":\"o{i}\",\"responses\":{{\"200\":{{\"description\":\"ok\"}}}}}}}}"
        ));
        i += 1;
    }
    doc.push_str("}}");
    assert!(matches!(
        validate(SpecKind::OpenApi, SpecFormat::Json, &doc),
        Err(SpecError::TooLarge { .. })
    ));
    let limit = 16 * 1024 * 1024;
    assert_eq!(
        validate_up_to(SpecKind::OpenApi, SpecFormat::Json, &doc, limit),
        Ok(())
    );
    let limits = Limits::for_size(limit);
    assert_eq!(limits.max_nodes, 8 * MAX_NODES);
    assert_eq!(limits.max_text_bytes, 8 * MAX_TEXT_BYTES);
    assert_eq!(Limits::for_size(1).max_nodes, MAX_NODES);
    // Above the limit it is refused before parsing.
    assert_eq!(
        validate_up_to(SpecKind::OpenApi, SpecFormat::Json, &doc, doc.len() - 1),
        Err(SpecError::TooLarge {
            size: doc.len(),
            max: doc.len() - 1
        })
    );
}
