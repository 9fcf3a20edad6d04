//! `If-Match`: the version of a resource a change is conditional on.
//!
//! Responses carry the version as an entity tag (`ETag: "3"`); a client sends it back quoted or
//! bare, weak or strong. `*` matches any version. The engine compares one version, so a value
//! that can name no version (not ASCII, not a number) or names several different ones fails
//! here with 412, as a tag that does not match would.

use axum::extract::FromRequestParts;
use axum::http::header::IF_MATCH;
use axum::http::request::Parts;

use crate::error::ApiError;

/// The `If-Match` precondition of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IfMatch(Option<i64>);

impl IfMatch {
    /// The version the change expects, or `None` when any version will do.
    pub fn version(self) -> Option<i64> {
        self.0
    }

    /// Reads every `If-Match` line, joined as one list.
    pub fn parse<'a>(lines: impl IntoIterator<Item = &'a [u8]>) -> Result<IfMatch, ApiError> {
        let lines: Vec<String> = lines
            .into_iter()
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect();
        if lines.is_empty() {
            return Ok(IfMatch(None));
        }
        let text = lines.join(", ");
        let fails = |why: &str| ApiError::PreconditionFailed(format!("If-Match '{text}' {why}"));
        let tags: Vec<&str> = text
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .collect();
        if tags.contains(&"*") {
            return Ok(IfMatch(None));
        }
        let mut version = None;
        for tag in tags {
            let parsed: i64 = tag
                .trim_start_matches("W/")
                .trim_matches('"')
                .parse()
                .map_err(|_| fails("names no version of this resource"))?;
            match version {
                Some(v) if v != parsed => {
                    return Err(fails("names more than one version; send one"))
                }
                _ => version = Some(parsed),
            }
        }
        match version {
            Some(v) => Ok(IfMatch(Some(v))),
            None => Err(fails("names no version of this resource")),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        IfMatch::parse(parts.headers.get_all(IF_MATCH).iter().map(|v| v.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(lines: &[&str]) -> Result<Option<i64>, ApiError> {
        IfMatch::parse(lines.iter().map(|l| l.as_bytes())).map(IfMatch::version)
    }

    #[test]
    fn tags_quoted_bare_weak_or_any() {
        assert_eq!(parse(&[]).unwrap(), None);
        assert_eq!(parse(&["*"]).unwrap(), None);
        assert_eq!(parse(&["\"3\", *"]).unwrap(), None);
        assert_eq!(parse(&["3"]).unwrap(), Some(3));
        assert_eq!(parse(&["\"3\""]).unwrap(), Some(3));
        assert_eq!(parse(&["W/\"3\""]).unwrap(), Some(3));
        assert_eq!(parse(&["\"3\"", "3"]).unwrap(), Some(3));
    }

    #[test]
    fn tags_that_name_no_single_version_fail() {
        for bad in [&["abc"][..], &["\"1\", \"2\""], &["1", "2"], &[""], &["é"]] {
            let err = parse(bad).unwrap_err();
            assert!(
                matches!(err, ApiError::PreconditionFailed(_)),
                "{bad:?}: {err}"
            );
            assert!(err.to_string().contains("If-Match"), "{err}");
        }
    }
}
