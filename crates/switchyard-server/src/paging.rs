//! Twilio's list envelope and token paging.
//!
//! A list answers `{"<key>": [...], "meta": {...}}`. `next_page_url` carries an opaque `PageToken`
//! (`PA` + the position of the page's last row, or `PB` + the first row's for the previous page)
//! that resumes exactly where the page ended, so pages stay stable while rows are added.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use switchyard_engine::{Cursor, Page, PageRequest};

use crate::error::ApiError;
use crate::{field, form};

/// Largest `PageSize`.
pub const MAX_PAGE_SIZE: i64 = 1000;
/// `PageSize` when none is given.
pub const DEFAULT_PAGE_SIZE: i64 = 50;

const PAGING_PARAMS: [&str; 3] = ["PageSize", "Page", "PageToken"];

/// The paging parameters of a list request.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
struct Paging {
    #[serde(deserialize_with = "field::int")]
    page_size: Option<i64>,
    #[serde(deserialize_with = "field::int")]
    page: Option<i64>,
    #[serde(deserialize_with = "field::text")]
    page_token: Option<String>,
}

/// The paging part of a list request, and the filters to echo in the page URLs.
#[derive(Debug, Clone)]
pub struct ListRequest {
    /// Which rows to read.
    pub page: PageRequest,
    /// The zero-based page number the client is on (for `meta.page`).
    pub index: u64,
    filters: Vec<(String, String)>,
}

fn encode(prefix: &str, seq: i64) -> String {
    format!("{prefix}{seq:x}")
}

fn decode(token: &str) -> Option<Cursor> {
    let (prefix, rest) = token.split_at_checked(2)?;
    let n = i64::from_str_radix(rest, 16).ok().filter(|s| *s >= 0)?;
    match prefix {
        "PA" => Some(Cursor::After(n)),
        "PB" => Some(Cursor::Before(n)),
        "PO" => Some(Cursor::Offset(n as usize)),
        _ => None,
    }
}

fn token(cursor: Cursor) -> Option<String> {
    match cursor {
        Cursor::Start => None,
        Cursor::After(s) => Some(encode("PA", s)),
        Cursor::Before(s) => Some(encode("PB", s)),
        Cursor::Offset(n) => Some(encode("PO", n as i64)),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ListRequest {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        ListRequest::from_query(parts.uri.query().unwrap_or("").as_bytes())
    }
}

impl ListRequest {
    /// Reads `PageSize`, `Page` and `PageToken` from a query string, keeping every other
    /// parameter as a filter.
    pub fn from_query(query: &[u8]) -> Result<ListRequest, ApiError> {
        let q: Paging = form::parse(query)?;
        let size = q.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&size) {
            return Err(ApiError::Invalid(format!(
                "PageSize must be between 1 and {MAX_PAGE_SIZE}, got {size}"
            )));
        }
        let index = match q.page {
            Some(p) if p < 0 => {
                return Err(ApiError::Invalid(format!(
                    "Page must not be negative, got {p}"
                )))
            }
            Some(p) => p as u64,
            None => 0,
        };
        // Absolute paging: Twilio deprecated it, but the SDKs still send it for a page number.
        // The first row's position must be a row number SQL can take.
        let offset = (index as i64).checked_mul(size).ok_or_else(|| {
            ApiError::Invalid(format!(
                "Page {index} with PageSize {size} is out of range: Page × PageSize must be at most {}",
                i64::MAX
            ))
        })?;
        let cursor = match q.page_token.as_deref() {
            None | Some("") if index > 0 => Cursor::Offset(offset as usize),
            None | Some("") => Cursor::Start,
            Some(t) => {
                decode(t).ok_or_else(|| ApiError::Invalid(format!("PageToken '{t}' is invalid")))?
            }
        };
        let filters = form::pairs(query)?
            .into_iter()
            .filter(|(k, _)| !PAGING_PARAMS.contains(&k.as_str()))
            .collect();
        Ok(ListRequest {
            page: PageRequest {
                cursor,
                size: size as usize,
            },
            index,
            filters,
        })
    }

    fn url(&self, list_url: &str, index: u64, token: Option<String>) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.filters {
            query.append_pair(k, v);
        }
        query.append_pair("PageSize", &self.page.size.to_string());
        query.append_pair("Page", &index.to_string());
        if let Some(t) = token {
            query.append_pair("PageToken", &t);
        }
        format!("{list_url}?{}", query.finish())
    }

    /// The list response: `items` under `key`, and `meta` with absolute page URLs under `list_url`.
    pub fn respond<T, R: Serialize>(
        &self,
        list_url: &str,
        key: &str,
        page: Page<T>,
        to_resource: impl Fn(T) -> R,
    ) -> Value {
        let this_token = token(self.page.cursor);
        let next = match page.next {
            Some(c) => Value::String(self.url(list_url, self.index + 1, token(c))),
            None => Value::Null,
        };
        let previous = match page.previous {
            Some(c) => Value::String(self.url(list_url, self.index.saturating_sub(1), token(c))),
            None => Value::Null,
        };
        let items: Vec<Value> = page
            .items
            .into_iter()
            .map(|(_, t)| serde_json::to_value(to_resource(t)).unwrap_or(Value::Null))
            .collect();
        let meta = serde_json::json!({
            "page": self.index,
            "page_size": self.page.size,
            "first_page_url": self.url(list_url, 0, None),
            "previous_page_url": previous,
            "url": self.url(list_url, self.index, this_token),
            "next_page_url": next,
            "key": key,
        });
        let mut body = Map::new();
        body.insert(key.to_owned(), Value::Array(items));
        body.insert("meta".to_owned(), meta);
        Value::Object(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        assert_eq!(decode(&encode("PA", 42)), Some(Cursor::After(42)));
        assert_eq!(decode(&encode("PB", 7)), Some(Cursor::Before(7)));
        for bad in ["", "P", "PA", "PAzz", "XX10", "PA-1", "é1"] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn sizes_are_checked() {
        assert!(ListRequest::from_query(b"PageSize=0").is_err());
        assert!(ListRequest::from_query(b"PageSize=1001").is_err());
        let r = ListRequest::from_query(b"FriendlyName=a%20b&PageSize=2").unwrap();
        assert_eq!(r.page.size, 2);
        // Page × PageSize past what a row number holds is refused, not wrapped.
        for q in [
            &b"Page=9223372036854775807&PageSize=3"[..],
            b"Page=4611686018427387904&PageSize=2",
        ] {
            assert!(ListRequest::from_query(q).is_err());
        }
        assert_eq!(
            r.url("http://h/v1/X", 1, Some("PA1".into())),
            "http://h/v1/X?FriendlyName=a+b&PageSize=2&Page=1&PageToken=PA1"
        );
    }
}
