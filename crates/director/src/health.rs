//! Health checks as Compass's schema declares them. Compass never recorded any (its resolver
//! answered an empty page), and neither does Sextant: application status is tracked by the
//! runtime and connection flows instead. The types exist so that Compass clients that ask
//! for `healthChecks` get the empty page they got from Compass, with the same scope check.

use async_graphql::{Enum, ID, Object, SimpleObject};
use sextant_domain::{Page, Scope};

use crate::context::Scopes;
use crate::error::GqlResult;
use crate::page::{PageInfo, page, page_info};
use crate::scalars::{PageCursor, Timestamp};

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "HealthCheckType")]
pub enum HealthCheckType {
    #[graphql(name = "MANAGEMENT_PLANE_APPLICATION_HEALTHCHECK")]
    ManagementPlaneApplicationHealthcheck,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "HealthCheckStatusCondition")]
pub enum HealthCheckStatusCondition {
    #[graphql(name = "SUCCEEDED")]
    Succeeded,
    #[graphql(name = "FAILED")]
    Failed,
}

// Never constructed: no health check is recorded (see above); the type is Compass's schema.
#[allow(dead_code)]
#[derive(SimpleObject)]
pub struct HealthCheck {
    #[graphql(name = "type")]
    pub check_type: HealthCheckType,
    pub condition: HealthCheckStatusCondition,
    pub origin: Option<ID>,
    pub message: Option<String>,
    pub timestamp: Timestamp,
}

#[derive(SimpleObject)]
pub struct HealthCheckPage {
    pub data: Vec<HealthCheck>,
    pub page_info: PageInfo,
    pub total_count: i32,
}

impl HealthCheckPage {
    /// The only page there is: empty. The page arguments are checked as on every list, and
    /// `startCursor` echoes `after` as on every page.
    pub fn empty(first: Option<i32>, after: Option<PageCursor>) -> GqlResult<Self> {
        let request = page(first, after)?;
        let page: Page<()> = Page::from_rows(Vec::new(), &request, 0);
        Ok(HealthCheckPage {
            data: Vec::new(),
            page_info: page_info(&page, &request, |_| uuid::Uuid::nil()),
            total_count: 0,
        })
    }
}

/// The `healthChecks` query.
#[derive(Default)]
pub struct HealthQuery;

#[Object]
impl HealthQuery {
    /// Compass's health checks: none are recorded, so the page is empty (Compass's resolver
    /// answered the same).
    #[graphql(guard = "Scopes(&[Scope::HealthChecksRead])")]
    async fn health_checks(
        &self,
        types: Option<Vec<HealthCheckType>>,
        origin: Option<ID>,
        #[graphql(default_with = "Some(100)")] first: Option<i32>,
        after: Option<PageCursor>,
    ) -> GqlResult<HealthCheckPage> {
        let _ = (types, origin);
        HealthCheckPage::empty(first, after)
    }
}
