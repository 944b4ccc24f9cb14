//! `/console/`: the dashboard, from the Director's `fleetOverview` (one GraphQL request
//! whose parts are chosen by the session's scopes; each part one statement): applications
//! and runtimes by status, runtimes whose agent was not seen for [`AGENT_STALE_AFTER`] or
//! holds an older configuration, client certificates expiring within
//! [`CERTIFICATE_WARNING_DAYS`], failing webhooks, failed spec fetches, and two small SVG
//! charts of the last hour (webhook deliveries, agents' configuration requests) with their
//! totals as text.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use crate::error::ConsoleError;
use crate::fleet::AGENT_STALE_AFTER;
use crate::graphql::{self, Refusal};
use crate::render::{self, Chrome, to_login};
use crate::session;
use crate::state::ConsoleState;
use crate::times;

/// Client certificates expiring within this many days are listed.
pub const CERTIFICATE_WARNING_DAYS: i32 = 14;

/// How many items each list of the dashboard shows (the total is shown beside).
const LISTED: i32 = 10;

/// The minutes the charts show.
const CHART_MINUTES: i32 = 60;

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    applications: Option<Counted>,
    runtimes: Option<Counted>,
    attention: Option<Listing<AttentionItem>>,
    certificates: Option<Listing<CertificateItem>>,
    webhooks: Option<Listing<WebhookItem>>,
    fetches: Option<Listing<FetchItem>>,
    deliveries_chart: Option<Chart>,
    fetches_chart: Option<Chart>,
    stale_minutes: i64,
    certificate_days: i32,
    error: Option<String>,
}

/// A total and its parts by status.
struct Counted {
    total: i64,
    by_status: Vec<(String, i64)>,
}

struct Listing<T> {
    total: i64,
    items: Vec<T>,
}

impl<T> Listing<T> {
    /// How many matching items the list does not show.
    fn more(&self) -> i64 {
        self.total - i64::try_from(self.items.len()).unwrap_or(0)
    }
}

struct AttentionItem {
    href: String,
    name: String,
    last_seen: String,
    stale: bool,
    configuration_current: bool,
}

struct CertificateItem {
    href: String,
    kind: &'static str,
    owner: String,
    serial: String,
    expires: String,
}

struct WebhookItem {
    href: String,
    application: String,
    url: String,
    since: String,
}

struct FetchItem {
    href: String,
    application: String,
    kind: String,
    name: String,
    message: String,
}

/// A bar chart of counts per minute, laid out for the template.
pub(crate) struct Chart {
    id: &'static str,
    title: String,
    width: u32,
    height: u32,
    /// The y of the base line.
    base: u32,
    bars: Vec<Bar>,
    /// The largest count (the scale), and the totals shown as text.
    max: u64,
    totals: Vec<(String, u64)>,
    first_minute: String,
    last_minute: String,
}

pub(crate) struct Bar {
    x: u32,
    y: u32,
    width: u32,
    height: u32,
    class: &'static str,
    label: String,
}

/// The chart's geometry: bars of 8 px with 2 px between them, 100 px high.
const BAR: u32 = 8;
const GAP: u32 = 2;
const PLOT: u32 = 100;
const TOP: u32 = 8;

impl Chart {
    /// `series`: (class, what one counts, count per minute); stacked per minute in order.
    fn of(
        id: &'static str,
        title: String,
        minutes: &[String],
        series: &[(&'static str, &str, Vec<u64>)],
    ) -> Chart {
        let n = u32::try_from(minutes.len()).unwrap_or(0);
        let stacked = |i: usize| {
            series
                .iter()
                .map(move |(_, _, v)| v.get(i).copied().unwrap_or(0))
        };
        let max = (0..minutes.len())
            .map(|i| stacked(i).sum::<u64>())
            .max()
            .unwrap_or(0);
        let base = TOP + PLOT;
        let mut bars = Vec::new();
        for (i, minute) in minutes.iter().enumerate() {
            let x = u32::try_from(i).unwrap_or(0) * (BAR + GAP);
            let mut top = base;
            for (class, what, values) in series {
                let value = values.get(i).copied().unwrap_or(0);
                if value == 0 || max == 0 {
                    continue;
                }
                let room = top - TOP;
                if room == 0 {
                    continue;
                }
                let height = u32::try_from((u64::from(PLOT) * value).div_ceil(max))
                    .unwrap_or(PLOT)
                    .max(1)
                    .min(room);
                top -= height;
                bars.push(Bar {
                    x,
                    y: top,
                    width: BAR,
                    height,
                    class,
                    label: format!("{minute}: {value} {what}"),
                });
            }
        }
        Chart {
            id,
            title,
            width: n * (BAR + GAP),
            height: base + 4,
            base,
            bars,
            max,
            totals: series
                .iter()
                .map(|(_, what, values)| ((*what).to_owned(), values.iter().sum()))
                .collect(),
            first_minute: minutes.first().cloned().unwrap_or_default(),
            last_minute: minutes.last().cloned().unwrap_or_default(),
        }
    }
}

#[derive(Deserialize)]
struct Answer {
    #[serde(rename = "fleetOverview")]
    overview: Overview,
}

#[derive(Deserialize)]
struct Overview {
    #[serde(rename = "applicationStatuses")]
    application_statuses: Option<Vec<StatusCount>>,
    #[serde(rename = "runtimeStatuses")]
    runtime_statuses: Option<Vec<StatusCount>>,
    #[serde(rename = "runtimesNeedingAttention")]
    attention: Option<Page<Attention>>,
    #[serde(rename = "expiringCertificates")]
    certificates: Option<Page<Certificate>>,
    #[serde(rename = "failingWebhooks")]
    webhooks: Option<Page<Webhook>>,
    #[serde(rename = "failedSpecFetches")]
    fetches: Option<Page<Fetch>>,
    activity: Vec<Minute>,
}

#[derive(Deserialize)]
struct StatusCount {
    condition: String,
    count: i64,
}

#[derive(Deserialize)]
struct Page<T> {
    #[serde(rename = "totalCount")]
    total_count: i64,
    data: Vec<T>,
}

#[derive(Deserialize)]
struct Attention {
    id: String,
    name: String,
    #[serde(rename = "lastSeenAt")]
    last_seen_at: String,
    #[serde(rename = "configurationCurrent")]
    configuration_current: bool,
}

#[derive(Deserialize)]
struct Certificate {
    #[serde(rename = "ownerKind")]
    owner_kind: String,
    #[serde(rename = "ownerID")]
    owner_id: String,
    #[serde(rename = "ownerName")]
    owner_name: String,
    serial: String,
    #[serde(rename = "expiresAt")]
    expires_at: String,
}

#[derive(Deserialize)]
struct Webhook {
    #[serde(rename = "applicationID")]
    application_id: String,
    #[serde(rename = "applicationName")]
    application_name: String,
    url: String,
    #[serde(rename = "failingSince")]
    failing_since: String,
}

#[derive(Deserialize)]
struct Fetch {
    kind: String,
    name: String,
    #[serde(rename = "applicationID")]
    application_id: String,
    #[serde(rename = "applicationName")]
    application_name: String,
    message: Option<String>,
}

#[derive(Deserialize)]
struct Minute {
    minute: String,
    #[serde(rename = "webhookDeliveries")]
    webhook_deliveries: Option<u64>,
    #[serde(rename = "failedWebhookDeliveries")]
    failed_webhook_deliveries: Option<u64>,
    #[serde(rename = "agentFetches")]
    agent_fetches: Option<u64>,
}

/// The overview's parts the session may read.
fn overview_query(applications: bool, runtimes: bool) -> String {
    let mut parts = Vec::new();
    if applications {
        parts.push("applicationStatuses { condition count }".to_owned());
    }
    if runtimes {
        parts.push("runtimeStatuses { condition count }".to_owned());
        parts.push(format!(
            "runtimesNeedingAttention(notSeenForSeconds: {}, first: {LISTED}) {{ totalCount \
             data {{ id name lastSeenAt configurationCurrent }} }}",
            AGENT_STALE_AFTER.whole_seconds()
        ));
    }
    parts.push(format!(
        "expiringCertificates(withinDays: {CERTIFICATE_WARNING_DAYS}, first: {LISTED}) {{ \
         totalCount data {{ ownerKind ownerID ownerName serial expiresAt }} }}"
    ));
    if applications {
        parts.push(format!(
            "failingWebhooks(first: {LISTED}) {{ totalCount \
             data {{ applicationID applicationName url failingSince }} }}"
        ));
        parts.push(format!(
            "failedSpecFetches(first: {LISTED}) {{ totalCount \
             data {{ kind name applicationID applicationName message }} }}"
        ));
    }
    parts.push(format!(
        "activity(minutes: {CHART_MINUTES}) {{ minute webhookDeliveries \
         failedWebhookDeliveries agentFetches }}"
    ));
    format!("{{ fleetOverview {{ {} }} }}", parts.join(" "))
}

fn counted(statuses: Option<Vec<StatusCount>>) -> Option<Counted> {
    statuses.map(|list| Counted {
        total: list.iter().map(|s| s.count).sum(),
        by_status: list.into_iter().map(|s| (s.condition, s.count)).collect(),
    })
}

fn listing<T, U>(page: Option<Page<T>>, item: impl Fn(T) -> U) -> Option<Listing<U>> {
    page.map(|p| Listing {
        total: p.total_count,
        items: p.data.into_iter().map(item).collect(),
    })
}

/// `HH:MM` of an RFC 3339 minute, as the charts label it.
fn clock(rfc3339: &str) -> String {
    let text = times::text(rfc3339);
    // `2026-12-07 10:15:00 UTC` → `10:15 UTC`.
    match (text.get(11..16), text.ends_with(" UTC")) {
        (Some(hm), true) => format!("{hm} UTC"),
        _ => text,
    }
}

fn page_of(chrome: Chrome, overview: Option<Overview>, error: Option<String>) -> DashboardPage {
    let stale_minutes = AGENT_STALE_AFTER.whole_minutes();
    let Some(o) = overview else {
        return DashboardPage {
            chrome,
            applications: None,
            runtimes: None,
            attention: None,
            certificates: None,
            webhooks: None,
            fetches: None,
            deliveries_chart: None,
            fetches_chart: None,
            stale_minutes,
            certificate_days: CERTIFICATE_WARNING_DAYS,
            error,
        };
    };
    let minutes: Vec<String> = o.activity.iter().map(|m| clock(&m.minute)).collect();
    let deliveries_chart = o
        .activity
        .iter()
        .all(|m| m.webhook_deliveries.is_some())
        .then(|| {
            Chart::of(
                "deliveries-chart",
                format!("Webhook deliveries per minute, last {CHART_MINUTES} minutes"),
                &minutes,
                &[
                    (
                        "bar",
                        "delivered",
                        o.activity
                            .iter()
                            .map(|m| m.webhook_deliveries.unwrap_or(0))
                            .collect(),
                    ),
                    (
                        "bar failed",
                        "not delivered",
                        o.activity
                            .iter()
                            .map(|m| m.failed_webhook_deliveries.unwrap_or(0))
                            .collect(),
                    ),
                ],
            )
        });
    let fetches_chart = o
        .activity
        .iter()
        .all(|m| m.agent_fetches.is_some())
        .then(|| {
            Chart::of(
                "fetches-chart",
                format!("Agents' configuration requests per minute, last {CHART_MINUTES} minutes"),
                &minutes,
                &[(
                    "bar",
                    "requests",
                    o.activity
                        .iter()
                        .map(|m| m.agent_fetches.unwrap_or(0))
                        .collect(),
                )],
            )
        });
    let now = time::OffsetDateTime::now_utc();
    DashboardPage {
        chrome,
        applications: counted(o.application_statuses),
        runtimes: counted(o.runtime_statuses),
        attention: listing(o.attention, |r| AttentionItem {
            href: format!("/console/runtimes/{}", r.id),
            name: r.name,
            stale: time::OffsetDateTime::parse(
                &r.last_seen_at,
                &time::format_description::well_known::Rfc3339,
            )
            .is_ok_and(|at| now - at > AGENT_STALE_AFTER),
            last_seen: times::text(&r.last_seen_at),
            configuration_current: r.configuration_current,
        }),
        certificates: listing(o.certificates, |c| {
            let (kind, path) = if c.owner_kind == "RUNTIME" {
                ("Runtime", "runtimes")
            } else {
                ("Application", "applications")
            };
            CertificateItem {
                href: format!("/console/{path}/{}", c.owner_id),
                kind,
                owner: c.owner_name,
                serial: c.serial,
                expires: times::text(&c.expires_at),
            }
        }),
        webhooks: listing(o.webhooks, |w| WebhookItem {
            href: format!("/console/applications/{}", w.application_id),
            application: w.application_name,
            url: w.url,
            since: times::text(&w.failing_since),
        }),
        fetches: listing(o.fetches, |f| FetchItem {
            href: format!("/console/applications/{}", f.application_id),
            application: f.application_name,
            kind: if f.kind == "EVENT" {
                "Event API".to_owned()
            } else {
                "API".to_owned()
            },
            name: f.name,
            message: f.message.unwrap_or_default(),
        }),
        deliveries_chart,
        fetches_chart,
        stale_minutes,
        certificate_days: CERTIFICATE_WARNING_DAYS,
        error,
    }
}

pub(crate) async fn show(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
) -> Result<Response, ConsoleError> {
    let Some(session) = session::current(&state, &headers).await? else {
        return Ok(to_login());
    };
    let chrome = Chrome::of(&session, "dashboard");
    let (applications, runtimes) = (chrome.can.application_read, chrome.can.runtime_read);
    let page = if applications || runtimes {
        match graphql::execute::<Answer>(
            &state,
            session.consumer(),
            &overview_query(applications, runtimes),
            json!({}),
        )
        .await?
        {
            Ok(answer) => page_of(chrome, Some(answer.overview), None),
            Err(refusals) => page_of(chrome, None, Some(Refusal::messages(&refusals))),
        }
    } else {
        page_of(chrome, None, None)
    };
    render::html(StatusCode::OK, &page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_minute_and_stack() {
        let minutes: Vec<String> = ["10:00 UTC", "10:01 UTC", "10:02 UTC"]
            .map(str::to_owned)
            .to_vec();
        let chart = Chart::of(
            "c",
            "t".into(),
            &minutes,
            &[
                ("bar", "delivered", vec![0, 2, 4]),
                ("bar failed", "not delivered", vec![0, 2, 0]),
            ],
        );
        assert_eq!(chart.max, 4);
        assert_eq!(chart.bars.len(), 3, "no bar for a zero");
        // 10:01 stacks 2 and 2 to the full height; 10:02 is 4 alone, also full.
        assert!(
            chart
                .bars
                .iter()
                .all(|b| b.height == PLOT / 2 || b.height == PLOT)
        );
        assert_eq!(chart.bars[0].y + chart.bars[0].height, TOP + PLOT);
        assert_eq!(chart.bars[1].y + chart.bars[1].height, chart.bars[0].y);
        assert_eq!(chart.totals[0], ("delivered".to_owned(), 6));
        assert_eq!(chart.width, 3 * (BAR + GAP));
        let empty = Chart::of(
            "c",
            "t".into(),
            &minutes,
            &[("bar", "requests", vec![0; 3])],
        );
        assert!(empty.bars.is_empty());
        assert_eq!(clock("2026-12-07T10:15:00Z"), "10:15 UTC");
    }

    #[test]
    fn the_query_asks_only_for_what_the_scopes_allow() {
        let runtimes_only = overview_query(false, true);
        assert!(!runtimes_only.contains("applicationStatuses"));
        assert!(!runtimes_only.contains("failingWebhooks"));
        assert!(runtimes_only.contains("runtimesNeedingAttention"));
        let applications_only = overview_query(true, false);
        assert!(!applications_only.contains("runtimeStatuses"));
        assert!(!applications_only.contains("runtimesNeedingAttention"));
    }
}
