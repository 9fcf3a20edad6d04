//! Request parameters: Twilio's PascalCase form fields and query parameters.
//!
//! Both arrive as `application/x-www-form-urlencoded` pairs. [`Params`] keeps them in order (some
//! parameters repeat, e.g. `AssignmentStatus`) and converts each with an error that names the field.
//! Unknown fields are ignored, as Twilio does.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use switchyard_core::sid::Sid;

use crate::error::ApiError;

/// Largest request body read: room for the largest workflow configuration Twilio accepts
/// ([`MAX_CONFIGURATION_LEN`](switchyard_core::workflow::MAX_CONFIGURATION_LEN) bytes), even
/// with every byte of it percent-encoded (three bytes each), and the other fields.
pub const MAX_BODY_LEN: usize = 3 * switchyard_core::workflow::MAX_CONFIGURATION_LEN + 65_536;

/// Parameters of a request, from its body (`Form`) or its query string (`Query`).
#[derive(Debug, Clone, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

/// Body parameters of a POST.
#[derive(Debug, Clone, Default)]
pub struct Form(pub Params);

/// Query parameters of a GET.
#[derive(Debug, Clone, Default)]
pub struct Query(pub Params);

impl<S: Send + Sync> FromRequest<S> for Form {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
        let body = Bytes::from_request(req, state).await.map_err(|e| match e {
            BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_)) => {
                ApiError::Invalid(format!(
                    "The request body is larger than {MAX_BODY_LEN} bytes"
                ))
            }
            e if timed_out(&e) => ApiError::BodyTimeout,
            e => ApiError::Invalid(format!("Could not read the request body: {e}")),
        })?;
        Ok(Form(Params::parse(&body)?))
    }
}

/// Whether reading the body failed because it stalled past `--idle-timeout`.
fn timed_out(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(e) = cause {
        if e.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cause = e.source();
    }
    false
}

impl<S: Send + Sync> FromRequestParts<S> for Query {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Ok(Query(Params::parse(
            parts.uri.query().unwrap_or("").as_bytes(),
        )?))
    }
}

/// Decodes one form-encoded component (`+` is a space, `%XX` a byte) into UTF-8 text.
fn decode_component(raw: &[u8]) -> Result<String, &'static str> {
    let spaced: Vec<u8> = raw
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    let bytes: Vec<u8> = percent_encoding::percent_decode(&spaced).collect();
    let text = String::from_utf8(bytes).map_err(|_| "is not valid UTF-8")?;
    if text.contains('\0') {
        return Err("must not contain NUL characters");
    }
    Ok(text)
}

/// Whether a Twilio boolean parameter is true: `true`, `1` or `yes`, in any case.
pub fn truthy(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "true" | "1" | "yes"
    )
}

impl Params {
    /// Parses `a=1&b=2` form data. A name or value that does not decode to UTF-8, or holds a
    /// NUL character, is refused with an error naming the parameter (rather than silently
    /// replaced: what is stored is what was sent).
    pub fn parse(bytes: &[u8]) -> Result<Params, ApiError> {
        let mut pairs = Vec::new();
        for piece in bytes.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            let (name, value) = match piece.iter().position(|b| *b == b'=') {
                Some(i) => (&piece[..i], &piece[i + 1..]),
                None => (piece, &[][..]),
            };
            let name = decode_component(name).map_err(|why| {
                let shown = String::from_utf8_lossy(name);
                ApiError::Invalid(format!("The parameter name '{shown}' {why}"))
            })?;
            let value = decode_component(value)
                .map_err(|why| ApiError::Invalid(format!("Parameter {name} {why}")))?;
            pairs.push((name, value));
        }
        Ok(Params { pairs })
    }

    /// All pairs, in order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// The last value of `name`, as sent.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The last value of `name`, owned.
    pub fn string(&self, name: &str) -> Option<String> {
        self.str(name).map(str::to_owned)
    }

    /// Every value of `name`, with comma-separated lists split.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// A boolean: `true`/`1`/`yes` are true, anything else false.
    pub fn bool(&self, name: &str) -> Option<bool> {
        self.str(name).map(truthy)
    }

    /// A strict boolean: only `true` or `false` (any case).
    pub fn strict_bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.str(name).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(None),
            Some(v) if v == "true" => Ok(Some(true)),
            Some(v) if v == "false" => Ok(Some(false)),
            Some(v) => Err(ApiError::Invalid(format!(
                "{name} must be true or false, got '{v}'"
            ))),
        }
    }

    /// An integer.
    pub fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.str(name)
            .map(|v| {
                v.trim()
                    .parse::<i64>()
                    .map_err(|_| ApiError::Invalid(format!("{name} must be an integer, got '{v}'")))
            })
            .transpose()
    }

    /// A SID of kind `T`; an empty value counts as absent.
    pub fn sid<T: Sid>(&self, name: &str) -> Result<Option<T>, ApiError> {
        match self.str(name) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse::<T>()
                .map(Some)
                .map_err(|e| ApiError::Invalid(format!("{name}: {e}"))),
        }
    }

    /// A value parsed with `FromStr`, where `expected` says what is allowed.
    pub fn parsed<T: std::str::FromStr>(
        &self,
        name: &str,
        expected: &str,
    ) -> Result<Option<T>, ApiError> {
        self.str(name)
            .map(|v| {
                v.parse::<T>()
                    .map_err(|_| ApiError::Invalid(format!("{name} must be {expected}, got '{v}'")))
            })
            .transpose()
    }
    /// An ISO 8601 date-time (`2014-05-14T10:50:02Z`, or with an offset or fractions).
    pub fn date(&self, name: &str) -> Result<Option<switchyard_core::Timestamp>, ApiError> {
        let Some(v) = self.str(name).filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        let parsed = chrono::DateTime::parse_from_rfc3339(v)
            .map(|d| d.timestamp_millis())
            .or_else(|_| {
                chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S")
                    .map(|d| d.and_utc().timestamp_millis())
            })
            .or_else(|_| {
                chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").map(|d| {
                    d.and_hms_opt(0, 0, 0)
                        .map_or(0, |d| d.and_utc().timestamp_millis())
                })
            })
            .map_err(|_| {
                ApiError::Invalid(format!("{name} must be an ISO 8601 date, got '{v}'"))
            })?;
        Ok(Some(switchyard_core::Timestamp::from_millis(parsed)))
    }
    /// A value parsed with `parse`, where `expected` says what is allowed.
    pub fn parsed_with<T>(
        &self,
        name: &str,
        expected: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Option<T>, ApiError> {
        self.str(name)
            .filter(|v| !v.is_empty())
            .map(|v| {
                parse(v).ok_or_else(|| {
                    ApiError::Invalid(format!("{name} must be {expected}, got '{v}'"))
                })
            })
            .transpose()
    }
}

/// Parses a task list `Ordering`: `Attribute:order` pairs over `DateCreated`, `Priority` and
/// `VirtualStartTime`, `asc` or `desc`.
pub fn ordering(value: &str) -> Result<Vec<(switchyard_engine::TaskOrder, bool)>, ApiError> {
    use switchyard_engine::TaskOrder;
    let bad = || {
        ApiError::Invalid(format!(
            "Ordering must be Attribute:order pairs over DateCreated, Priority and VirtualStartTime with asc or desc, got '{value}'"
        ))
    };
    let mut keys = Vec::new();
    for pair in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (attr, order) = pair.split_once(':').unwrap_or((pair, "asc"));
        let key = match attr {
            "DateCreated" => TaskOrder::DateCreated,
            "Priority" => TaskOrder::Priority,
            "VirtualStartTime" => TaskOrder::VirtualStartTime,
            _ => return Err(bad()),
        };
        let desc = match order.to_ascii_lowercase().as_str() {
            "asc" => false,
            "desc" => true,
            _ => return Err(bad()),
        };
        keys.push((key, desc));
    }
    let has = |k| keys.iter().any(|(key, _)| *key == k);
    if has(TaskOrder::DateCreated) && has(TaskOrder::VirtualStartTime) {
        return Err(ApiError::Invalid(
            "Ordering cannot use DateCreated and VirtualStartTime together".into(),
        ));
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_and_comma_lists() {
        let p = Params::parse(b"A=pending%2Creserved&A=assigned&B=x&B=y").unwrap();
        assert_eq!(p.list("A"), vec!["pending", "reserved", "assigned"]);
        assert_eq!(p.str("B"), Some("y"));
        assert_eq!(p.str("C"), None);
    }

    #[test]
    fn booleans_and_integers() {
        let p = Params::parse(b"T=yes&F=no&N=12&Bad=1x&S=TRUE").unwrap();
        assert_eq!(p.bool("T"), Some(true));
        assert_eq!(p.bool("F"), Some(false));
        assert_eq!(p.int("N").unwrap(), Some(12));
        assert_eq!(
            p.int("Bad").unwrap_err().to_string(),
            "Bad must be an integer, got '1x'"
        );
        assert_eq!(p.strict_bool("S").unwrap(), Some(true));
        assert!(p.strict_bool("T").is_err());
    }

    #[test]
    fn text_is_decoded_exactly_or_refused() {
        let p = Params::parse(b"From=%2B15551234&Name=a+b%20c&Empty=&Bare").unwrap();
        assert_eq!(p.str("From"), Some("+15551234"));
        assert_eq!(p.str("Name"), Some("a b c"));
        assert_eq!((p.str("Empty"), p.str("Bare")), (Some(""), Some("")));
        let err = Params::parse(b"FriendlyName=%FF%FE")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("FriendlyName") && err.contains("UTF-8"),
            "{err}"
        );
        let err = Params::parse(b"FriendlyName=a%00b")
            .unwrap_err()
            .to_string();
        assert!(err.contains("FriendlyName") && err.contains("NUL"), "{err}");
        assert!(Params::parse(b"%C3%28=x").is_err());
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config { cases: 512, ..Default::default() })]

        /// Any bytes: parsed or refused, never a panic.
        #[test]
        fn any_bytes_parse_or_are_refused(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let _ = Params::parse(&bytes);
        }

        /// Any text without NUL survives encoding and parsing exactly, repeats and order kept.
        #[test]
        fn encoded_text_round_trips(pairs in proptest::collection::vec(("[^\\x00]{0,12}", "[^\\x00]{0,24}"), 0..6)) {
            let mut form = form_urlencoded::Serializer::new(String::new());
            for (k, v) in &pairs {
                form.append_pair(k, v);
            }
            let encoded = form.finish();
            let parsed = Params::parse(encoded.as_bytes()).unwrap();
            proptest::prop_assert_eq!(parsed.pairs(), &pairs[..]);
        }
    }
}
