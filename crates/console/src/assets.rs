//! The console's static assets, embedded in the binary and served under
//! `/console/assets/<digest>/<name>`: the digest (of the content) changes with the content,
//! so the answer may be cached for good.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

static ASSETS: [Asset; 3] = [
    Asset {
        name: "console.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../assets/console.css"),
    },
    Asset {
        name: "htmx.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/vendor/htmx/htmx.min.js"),
    },
    Asset {
        name: "countdown.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/countdown.js"),
    },
];

/// Each asset's digest: the first 16 hex digits of its SHA-256.
static DIGESTS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|asset| {
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, asset.bytes)
                .as_ref()
                .iter()
                .take(8)
                .map(|b| format!("{b:02x}"))
                .collect()
        })
        .collect()
});

/// The path of an asset by name ("" for an unknown name, which no template uses).
pub(crate) fn path(name: &str) -> String {
    ASSETS
        .iter()
        .zip(DIGESTS.iter())
        .find(|(asset, _)| asset.name == name)
        .map(|(asset, digest)| format!("/console/assets/{digest}/{}", asset.name))
        .unwrap_or_default()
}

pub(crate) async fn serve(Path((digest, name)): Path<(String, String)>) -> Response {
    let found = ASSETS
        .iter()
        .zip(DIGESTS.iter())
        .find(|(asset, known)| asset.name == name && **known == digest);
    match found {
        Some((asset, _)) => (
            [
                (header::CONTENT_TYPE, asset.content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            asset.bytes,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
