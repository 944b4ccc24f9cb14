//! `Auth` and its parts as answered, converted from [`domain::Auth`].

use async_graphql::{SimpleObject, Union};
use sextant_domain as domain;

use crate::scalars::{HttpHeaders, QueryParams};

#[derive(SimpleObject, Clone)]
pub struct BasicCredentialData {
    pub username: String,
    pub password: String,
}

#[derive(SimpleObject, Clone)]
#[graphql(name = "OAuthCredentialData")]
pub struct OAuthCredentialData {
    pub client_id: String,
    pub client_secret: String,
    /// The token endpoint.
    pub url: String,
}

#[derive(Union, Clone)]
pub enum CredentialData {
    BasicCredentialData(BasicCredentialData),
    OAuthCredentialData(OAuthCredentialData),
}

impl From<domain::Credential> for CredentialData {
    fn from(c: domain::Credential) -> Self {
        match c {
            domain::Credential::Basic { username, password } => {
                CredentialData::BasicCredentialData(BasicCredentialData { username, password })
            }
            domain::Credential::OAuth {
                client_id,
                client_secret,
                url,
            } => CredentialData::OAuthCredentialData(OAuthCredentialData {
                client_id,
                client_secret,
                url,
            }),
        }
    }
}

#[derive(SimpleObject, Clone)]
#[graphql(name = "CSRFTokenCredentialRequestAuth")]
pub struct CsrfTokenCredentialRequestAuth {
    #[graphql(name = "tokenEndpointURL")]
    pub token_endpoint_url: String,
    pub credential: CredentialData,
    pub additional_headers: Option<HttpHeaders>,
    pub additional_query_params: Option<QueryParams>,
}

#[derive(SimpleObject, Clone)]
pub struct CredentialRequestAuth {
    pub csrf: Option<CsrfTokenCredentialRequestAuth>,
}

#[derive(SimpleObject, Clone)]
pub struct Auth {
    pub credential: CredentialData,
    pub additional_headers: Option<HttpHeaders>,
    pub additional_query_params: Option<QueryParams>,
    pub request_auth: Option<CredentialRequestAuth>,
}

impl From<domain::Auth> for Auth {
    fn from(a: domain::Auth) -> Self {
        Auth {
            credential: a.credential.into(),
            additional_headers: a.additional_headers.map(HttpHeaders),
            additional_query_params: a.additional_query_params.map(QueryParams),
            request_auth: a.request_auth.map(|r| CredentialRequestAuth {
                csrf: r.csrf.map(|c| CsrfTokenCredentialRequestAuth {
                    token_endpoint_url: c.token_endpoint_url,
                    credential: c.credential.into(),
                    additional_headers: c.additional_headers.map(HttpHeaders),
                    additional_query_params: c.additional_query_params.map(QueryParams),
                }),
            }),
        }
    }
}
