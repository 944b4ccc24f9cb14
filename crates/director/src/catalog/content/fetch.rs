//! Fetching what a fetch request points at, and checking it as the declared spec: outside
//! any transaction, with bounded concurrency, the checks off the async workers.

use sextant_domain::{
    FetchMode, FetchRequest, FetchStatus, FetchStatusCondition, MAX_SPEC_BYTES, SpecFormat,
};
use sextant_fetch::Fetcher;
use sextant_spec::SpecKind;

use crate::catalog::content::inputs::{Content, FetchRequestDraft};
use crate::clock::now_micros;

/// At most this many fetches of one list of a mutation run at once (a registration fetches
/// its API specs, event specs and documents side by side); the fetcher caps all fetches of
/// the server.
const FETCH_CONCURRENCY: usize = 8;
/// At most this many fetched specs are parsed at once in the whole server. A check holds its
/// spec (up to the fetched-spec limit) and the top levels of its tree, and is CPU work: this
/// bounds both the memory and the cores it takes, whatever the number of mutations.
const SPEC_CHECKS_AT_ONCE: usize = 2;
static SPEC_CHECKS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(SPEC_CHECKS_AT_ONCE);

/// Data and fetch request of a spec or document after fetching.
pub struct Fetched {
    pub data: Option<String>,
    pub fetch_request: Option<FetchRequest>,
}

/// Fetches a fetch request's URL and validates what arrives as the declared spec.
async fn fetch_content(
    fetcher: &Fetcher,
    draft: FetchRequestDraft,
    spec: Option<(SpecKind, SpecFormat)>,
) -> Fetched {
    let (condition, message, data) = if draft.mode != FetchMode::Single {
        (
            FetchStatusCondition::Failed,
            format!(
                "fetch mode {} is not supported: only SINGLE is",
                draft.mode.as_str()
            ),
            None,
        )
    } else {
        match fetcher.fetch(&draft.url, draft.auth.as_ref()).await {
            Err(e) => (FetchStatusCondition::Failed, e.to_string(), None),
            // Documents keep the inline limit; only specs may be as large as the fetcher reads.
            Ok(fetched) if spec.is_none() && fetched.body.len() > MAX_SPEC_BYTES => (
                FetchStatusCondition::Failed,
                format!(
                    "the fetched document was refused: it has {} bytes, at most {MAX_SPEC_BYTES} are allowed",
                    fetched.body.len()
                ),
                None,
            ),
            Ok(fetched) => {
                match check_fetched(spec, fetched.body, fetcher.policy().max_bytes).await {
                    (body, Some(refused)) => {
                        drop(body);
                        (
                            FetchStatusCondition::Failed,
                            format!("the fetched document was refused: {refused}"),
                            None,
                        )
                    }
                    (body, None) => (
                        FetchStatusCondition::Succeeded,
                        format!("fetched {} bytes", body.len()),
                        Some(body),
                    ),
                }
            }
        }
    };
    Fetched {
        data,
        fetch_request: Some(FetchRequest {
            url: draft.url,
            auth: draft.auth,
            mode: draft.mode,
            filter: draft.filter,
            status: FetchStatus {
                condition,
                message: Some(message),
                timestamp: now_micros(),
            },
        }),
    }
}

/// Checks a fetched spec (of at most `max_bytes`) off the async workers, at most
/// [`SPEC_CHECKS_AT_ONCE`] at a time (parsing megabytes of YAML is CPU work); answers the body
/// and, if it was refused, why.
async fn check_fetched(
    spec: Option<(SpecKind, SpecFormat)>,
    body: String,
    max_bytes: usize,
) -> (String, Option<String>) {
    let Some((kind, format)) = spec else {
        return (body, None);
    };
    // The semaphore is never closed; were it, the check would run unthrottled.
    let _slot = SPEC_CHECKS.acquire().await.ok();
    match tokio::task::spawn_blocking(move || {
        let verdict = sextant_spec::validate_up_to(kind, format, &body, max_bytes).err();
        (body, verdict.map(|e| e.to_string()))
    })
    .await
    {
        Ok(checked) => checked,
        Err(e) => (
            String::new(),
            Some(format!("the check of the document failed: {e}")),
        ),
    }
}

/// The data of a content: inline, fetched, or none.
pub async fn materialize(
    fetcher: &Fetcher,
    content: Option<Content>,
    spec: Option<(SpecKind, SpecFormat)>,
) -> Fetched {
    match content {
        None => Fetched {
            data: None,
            fetch_request: None,
        },
        Some(Content::Inline(data)) => Fetched {
            data: Some(data),
            fetch_request: None,
        },
        Some(Content::Fetch(draft)) => fetch_content(fetcher, *draft, spec).await,
    }
}

/// Runs `f` over every item with bounded concurrency, keeping the order.
pub async fn for_each_bounded<I, O, F, Fut>(items: Vec<I>, f: F) -> Vec<O>
where
    F: Fn(I) -> Fut,
    Fut: std::future::Future<Output = O>,
{
    use async_graphql::futures_util::StreamExt;
    async_graphql::futures_util::stream::iter(items.into_iter().map(f))
        .buffered(FETCH_CONCURRENCY)
        .collect()
        .await
}

/// Whether a stored fetch request still points where `fetched` did (same URL, credentials,
/// mode and filter; the status may differ).
pub fn same_source(current: Option<&FetchRequest>, fetched: &FetchRequest) -> bool {
    current.is_some_and(|c| {
        c.url == fetched.url
            && c.auth == fetched.auth
            && c.mode == fetched.mode
            && c.filter == fetched.filter
    })
}

/// Fetches a stored fetch request again, as the spec it names.
pub async fn refetch(
    fetcher: &Fetcher,
    request: FetchRequest,
    spec: (SpecKind, SpecFormat),
) -> Fetched {
    let draft = FetchRequestDraft {
        url: request.url,
        auth: request.auth,
        mode: request.mode,
        filter: request.filter,
    };
    fetch_content(fetcher, draft, Some(spec)).await
}
