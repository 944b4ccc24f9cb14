//! `AuthInput` and its parts, and their checks into [`domain::Auth`].

use async_graphql::InputObject;
use serde::{Deserialize, Serialize};
use sextant_domain::credentials::{self, CsrfTokenAuth, Multimap, RequestAuth};
use sextant_domain::validate;
use sextant_domain::{self as domain, DomainError, FieldErrors};

use crate::scalars::{HttpHeaders, QueryParams};
use crate::validation::{Checked, Present, typed};

#[derive(InputObject, Serialize, Deserialize, Clone, Debug)]
#[graphql(name = "BasicCredentialDataInput")]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BasicCredentialDataInput {
    pub username: String,
    pub password: String,
}

#[derive(InputObject, Serialize, Deserialize, Clone, Debug)]
#[graphql(name = "OAuthCredentialDataInput")]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OAuthCredentialDataInput {
    pub client_id: String,
    pub client_secret: String,
    pub url: String,
}

/// Exactly one of `basic` or `oauth`.
#[derive(InputObject, Serialize, Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CredentialDataInput {
    pub basic: Option<BasicCredentialDataInput>,
    pub oauth: Option<OAuthCredentialDataInput>,
}

#[derive(InputObject, Serialize, Deserialize, Clone, Debug)]
#[graphql(name = "CSRFTokenCredentialRequestAuthInput")]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CsrfTokenCredentialRequestAuthInput {
    #[graphql(name = "tokenEndpointURL")]
    #[serde(rename = "tokenEndpointURL")]
    pub token_endpoint_url: String,
    pub credential: CredentialDataInput,
    pub additional_headers: Option<HttpHeaders>,
    pub additional_query_params: Option<QueryParams>,
}

#[derive(InputObject, Serialize, Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CredentialRequestAuthInput {
    pub csrf: Option<CsrfTokenCredentialRequestAuthInput>,
}

#[derive(InputObject, Serialize, Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthInput {
    pub credential: CredentialDataInput,
    pub additional_headers: Option<HttpHeaders>,
    pub additional_query_params: Option<QueryParams>,
    pub request_auth: Option<CredentialRequestAuthInput>,
}

/// Compass's `CredentialDataInput` rule: exactly one credential, then its own fields.
fn credential(c: CredentialDataInput) -> Checked<domain::Credential> {
    let credential = match (c.basic, c.oauth) {
        (Some(b), None) => domain::Credential::Basic {
            username: b.username,
            password: b.password,
        },
        (None, Some(o)) => domain::Credential::OAuth {
            client_id: o.client_id,
            client_secret: o.client_secret,
            url: o.url,
        },
        _ => {
            return Err(FieldErrors::single(
                "rule.ExactlyOneNotNil",
                "exactly one credential input has to be specified",
            ));
        }
    };
    credentials::credential_errors(&credential).finish()?;
    Ok(credential)
}

fn map(m: Option<impl Into<Multimap>>) -> Option<Multimap> {
    m.map(Into::into)
}

impl CsrfTokenCredentialRequestAuthInput {
    fn check(self) -> Checked<CsrfTokenAuth> {
        let mut errors = FieldErrors::new();
        errors.check(
            "tokenEndpointURL",
            validate::required_url(&self.token_endpoint_url),
        );
        let credential = errors.take("credential", credential(self.credential));
        let headers = map(self.additional_headers);
        let params = map(self.additional_query_params);
        credentials::check_headers(&mut errors, "additionalHeaders", headers.as_ref());
        credentials::check_query_params(&mut errors, "additionalQueryParams", params.as_ref());
        errors.finish()?;
        Ok(CsrfTokenAuth {
            token_endpoint_url: self.token_endpoint_url,
            credential: credential.present()?,
            additional_headers: headers,
            additional_query_params: params,
        })
    }
}

impl AuthInput {
    /// The auth, or the errors of every invalid field (Compass's keys: `credential`,
    /// `additionalHeaders`, `additionalQueryParams`, `requestAuth: (csrf: (...))`).
    pub fn check(self) -> Checked<domain::Auth> {
        let mut errors = FieldErrors::new();
        let credential = errors.take("credential", credential(self.credential));
        let headers = map(self.additional_headers);
        let params = map(self.additional_query_params);
        credentials::check_headers(&mut errors, "additionalHeaders", headers.as_ref());
        credentials::check_query_params(&mut errors, "additionalQueryParams", params.as_ref());
        let request_auth = match self.request_auth {
            Some(request_auth) => {
                let mut inner = FieldErrors::new();
                let csrf = match request_auth.csrf {
                    Some(csrf) => inner.take("csrf", csrf.check()),
                    None => {
                        inner.add("csrf", validate::BLANK);
                        None
                    }
                };
                errors.inner("requestAuth", inner);
                csrf.map(|csrf| RequestAuth { csrf: Some(csrf) })
            }
            None => None,
        };
        errors.finish()?;
        Ok(domain::Auth {
            credential: credential.present()?,
            additional_headers: headers,
            additional_query_params: params,
            request_auth,
        })
    }

    /// Validates `setAPIAuth`'s input.
    pub fn validate(self) -> Result<domain::Auth, DomainError> {
        typed("AuthInput", self.check())
    }
}

/// Checks an optional `AuthInput`.
pub fn auth(input: Option<AuthInput>) -> Checked<Option<domain::Auth>> {
    input.map(AuthInput::check).transpose()
}
