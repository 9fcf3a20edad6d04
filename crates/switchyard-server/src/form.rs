//! Request parameters as typed structs: Twilio's PascalCase form fields and query parameters.
//!
//! Both arrive as `application/x-www-form-urlencoded` pairs. A route declares what it reads as a
//! `#[derive(Deserialize)]` struct (`#[serde(default, rename_all = "PascalCase")]`), each field
//! converted by one of [`field`](crate::field)'s functions; [`Form`] reads it from the body and
//! [`Query`] from the query string, through `serde_html_form` (which gathers repeated keys such as
//! `AssignmentStatus=a&AssignmentStatus=b`). An error names the parameter, as Twilio's do.
//! Unknown parameters are ignored, as Twilio does.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Largest request body read: room for the largest workflow configuration Twilio accepts
/// ([`MAX_CONFIGURATION_LEN`](switchyard_core::workflow::MAX_CONFIGURATION_LEN) bytes), even
/// with every byte of it percent-encoded (three bytes each), and the other fields.
pub const MAX_BODY_LEN: usize = 3 * switchyard_core::workflow::MAX_CONFIGURATION_LEN + 65_536;

/// Parameters of a POST, from its body.
#[derive(Debug, Clone, Default)]
pub struct Form<T>(pub T);

/// Parameters of a GET, from its query string.
#[derive(Debug, Clone, Default)]
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Form<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        Ok(Form(parse(&body(req, state).await?)?))
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Ok(Query(parse(parts.uri.query().unwrap_or("").as_bytes())?))
    }
}

/// The whole request body, or the error a client should see when it cannot be read.
pub(crate) async fn body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
    Bytes::from_request(req, state).await.map_err(|e| match e {
        BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_)) => {
            ApiError::Invalid(format!(
                "The request body is larger than {MAX_BODY_LEN} bytes"
            ))
        }
        e if timed_out(&e) => ApiError::BodyTimeout,
        e => ApiError::Invalid(format!("Could not read the request body: {e}")),
    })
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

/// Reads `a=1&b=2` form data into `T`. A name or value that does not decode to UTF-8, or holds
/// a NUL character, is refused with an error naming the parameter, rather than silently
/// replaced: what is stored is what was sent.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    check_text(bytes)?;
    let de = serde_html_form::Deserializer::from_bytes(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        let message = e.into_inner().to_string();
        // Every field converter writes what follows the parameter's name.
        ApiError::Invalid(match field.as_str() {
            "." => message.trim_start().to_owned(),
            _ => format!("{field}{message}"),
        })
    })
}

/// Every pair of `bytes`, decoded, in order; for echoing a list's filters in its page URLs.
pub fn pairs(bytes: &[u8]) -> Result<Vec<(String, String)>, ApiError> {
    check_text(bytes)?;
    Ok(form_urlencoded::parse(bytes).into_owned().collect())
}

/// Refuses a name or value that is not UTF-8 or holds a NUL once decoded.
fn check_text(bytes: &[u8]) -> Result<(), ApiError> {
    for piece in bytes.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match piece.iter().position(|b| *b == b'=') {
            Some(i) => (&piece[..i], &piece[i + 1..]),
            None => (piece, &[][..]),
        };
        let name = decode_component(name).map_err(|why| {
            let shown = String::from_utf8_lossy(name);
            ApiError::Invalid(format!("The parameter name '{shown}' {why}"))
        })?;
        decode_component(value)
            .map_err(|why| ApiError::Invalid(format!("Parameter {name} {why}")))?;
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field;
    use serde::Deserialize;

    #[derive(Debug, Default, Deserialize)]
    #[serde(default, rename_all = "PascalCase")]
    struct Sample {
        #[serde(deserialize_with = "field::text")]
        from: Option<String>,
        #[serde(deserialize_with = "field::text")]
        name: Option<String>,
        #[serde(deserialize_with = "field::text")]
        empty: Option<String>,
        #[serde(deserialize_with = "field::int")]
        priority: Option<i64>,
        #[serde(deserialize_with = "field::list")]
        status: Vec<String>,
    }

    #[test]
    fn text_is_decoded_exactly_or_refused() {
        let s: Sample = parse(b"From=%2B15551234&Name=a+b%20c&Empty=&Other=x").unwrap();
        assert_eq!(s.from.as_deref(), Some("+15551234"));
        assert_eq!(s.name.as_deref(), Some("a b c"));
        assert_eq!(s.empty.as_deref(), Some(""));
        let err = parse::<Sample>(b"FriendlyName=%FF%FE")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("FriendlyName") && err.contains("UTF-8"),
            "{err}"
        );
        let err = parse::<Sample>(b"Name=a%00b").unwrap_err().to_string();
        assert!(err.contains("Name") && err.contains("NUL"), "{err}");
        assert!(parse::<Sample>(b"%C3%28=x").is_err());
    }

    #[test]
    fn errors_name_the_parameter_and_repeats_keep_the_last() {
        let err = parse::<Sample>(b"Priority=1x").unwrap_err().to_string();
        assert_eq!(err, "Priority must be an integer, got '1x'");
        let s: Sample = parse(b"Priority=1&Priority=2&Status=a%2Cb&Status=c").unwrap();
        assert_eq!(s.priority, Some(2));
        assert_eq!(s.status, ["a", "b", "c"]);
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config { cases: 512, ..Default::default() })]

        /// Any bytes: parsed or refused, never a panic.
        #[test]
        fn any_bytes_parse_or_are_refused(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let _ = parse::<Sample>(&bytes);
        }

        /// Any text without NUL survives encoding and parsing exactly, repeats and order kept.
        #[test]
        fn encoded_text_round_trips(pairs_in in proptest::collection::vec(("[^\\x00]{0,12}", "[^\\x00]{0,24}"), 0..6)) {
            let mut form = form_urlencoded::Serializer::new(String::new());
            for (k, v) in &pairs_in {
                form.append_pair(k, v);
            }
            let encoded = form.finish();
            proptest::prop_assert_eq!(pairs(encoded.as_bytes()).unwrap(), pairs_in);
        }
    }
}
