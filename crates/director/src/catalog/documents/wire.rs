//! Documents as answered.

use async_graphql::{ID, SimpleObject};
use sextant_domain::{self as domain, PageRequest};

use crate::catalog::content::wire::FetchRequest;
use crate::page::{PageInfo, page_info, total};
use crate::scalars::{Clob, id};

mirror_enum!(
    "DocumentFormat" DocumentFormatWire => domain::DocumentFormat { Markdown }
);

#[derive(SimpleObject)]
pub struct Document {
    pub id: ID,
    #[graphql(name = "applicationID")]
    pub application_id: ID,
    pub title: String,
    pub display_name: String,
    pub description: String,
    pub format: DocumentFormatWire,
    pub kind: Option<String>,
    pub data: Option<Clob>,
    pub fetch_request: Option<FetchRequest>,
}

impl From<domain::Document> for Document {
    fn from(d: domain::Document) -> Self {
        Document {
            id: id(d.id),
            application_id: id(d.application_id),
            title: d.title,
            display_name: d.display_name,
            description: d.description,
            format: d.format.into(),
            kind: d.kind,
            data: d.data.map(Clob),
            fetch_request: d.fetch_request.map(Into::into),
        }
    }
}

#[derive(SimpleObject)]
pub struct DocumentPage {
    pub data: Vec<Document>,
    pub page_info: PageInfo,
    pub total_count: i32,
}

impl DocumentPage {
    pub fn new(page: domain::Page<domain::Document>, request: &PageRequest) -> Self {
        let page_info = page_info(&page, request, |d| d.id);
        DocumentPage {
            total_count: total(page.total_count),
            data: page.items.into_iter().map(Into::into).collect(),
            page_info,
        }
    }
}
