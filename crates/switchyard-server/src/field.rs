//! Converters for one form field each, used as `#[serde(deserialize_with = "field::int")]` on the
//! fields of a route's form struct (see [`form`](crate::form)).
//!
//! A parameter may be sent more than once: a single-valued one takes its last value, a list takes
//! every value with comma-separated lists split. An error's message is what follows the
//! parameter's name, which [`form::parse`](crate::form::parse) puts in front of it, so every
//! message begins with a space or a colon.

use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use switchyard_core::model::QueueOrder;
use switchyard_core::routing::{ReservationStatus, TaskStatus};
use switchyard_core::sid::Sid;
use switchyard_core::Timestamp;

/// Every value sent for one parameter, in order.
fn values<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    struct Values;
    impl<'de> Visitor<'de> for Values {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(" must be text")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(vec![v.to_owned()])
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut all = Vec::new();
            while let Some(v) = seq.next_element::<String>()? {
                all.push(v);
            }
            Ok(all)
        }
    }
    d.deserialize_any(Values)
}

/// The last value sent for one parameter.
fn last<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(values(d)?.pop().unwrap_or_default())
}

/// Text, exactly as sent (an empty value is kept).
pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    last(d).map(Some)
}

/// Text where an empty value counts as not given.
pub fn nonempty_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    last(d).map(|v| Some(v).filter(|v| !v.is_empty()))
}

/// An integer.
pub fn int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let v = last(d)?;
    v.trim()
        .parse()
        .map(Some)
        .map_err(|_| de::Error::custom(format!(" must be an integer, got '{v}'")))
}

/// Whether a Twilio boolean parameter is true: `true`, `1` or `yes`, in any case.
pub fn truthy(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "true" | "1" | "yes"
    )
}

/// A lenient boolean: `true`/`1`/`yes` (any case) are true, anything else false.
pub fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    last(d).map(|v| Some(truthy(&v)))
}

/// A strict boolean: only `true` or `false` (any case).
pub fn strict_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let v = last(d)?.trim().to_ascii_lowercase();
    match v.as_str() {
        "true" => Ok(Some(true)),
        "false" => Ok(Some(false)),
        _ => Err(de::Error::custom(format!(
            " must be true or false, got '{v}'"
        ))),
    }
}

/// A SID of the field's kind; an empty value counts as not given.
pub fn sid<'de, D: Deserializer<'de>, T: Sid>(d: D) -> Result<Option<T>, D::Error> {
    match last(d)? {
        v if v.is_empty() => Ok(None),
        v => v
            .parse()
            .map(Some)
            .map_err(|e| de::Error::custom(format!(": {e}"))),
    }
}

/// An ISO 8601 date-time (`2014-05-14T10:50:02Z`, with an offset or fractions, without a zone
/// as UTC, or a bare date); an empty value counts as not given.
pub fn date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
    let v = last(d)?;
    if v.is_empty() {
        return Ok(None);
    }
    chrono::DateTime::parse_from_rfc3339(&v)
        .map(|d| d.timestamp_millis())
        .or_else(|_| {
            chrono::NaiveDateTime::parse_from_str(&v, "%Y-%m-%dT%H:%M:%S")
                .map(|d| d.and_utc().timestamp_millis())
        })
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(&v, "%Y-%m-%d").map(|d| {
                d.and_hms_opt(0, 0, 0)
                    .map_or(0, |d| d.and_utc().timestamp_millis())
            })
        })
        .map(|ms| Some(Timestamp::from_millis(ms)))
        .map_err(|_| de::Error::custom(format!(" must be an ISO 8601 date, got '{v}'")))
}

/// Every value, comma-separated lists split, blanks dropped.
pub fn list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(values(d)?
        .iter()
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .collect())
}

/// A value that must be one of a fixed set of words.
pub trait Choice: Sized {
    /// The allowed words, for the error message.
    const EXPECTED: &'static str;
    /// The value a word names, if any.
    fn from_word(word: &str) -> Option<Self>;
}

impl Choice for TaskStatus {
    const EXPECTED: &'static str = "pending, reserved, assigned, canceled, wrapping or completed";
    fn from_word(word: &str) -> Option<Self> {
        TaskStatus::parse(word)
    }
}

impl Choice for ReservationStatus {
    const EXPECTED: &'static str =
        "pending, accepted, rejected, timeout, canceled, rescinded, wrapping or completed";
    fn from_word(word: &str) -> Option<Self> {
        ReservationStatus::parse(word)
    }
}

impl Choice for QueueOrder {
    const EXPECTED: &'static str = "FIFO or LIFO";
    fn from_word(word: &str) -> Option<Self> {
        word.parse().ok()
    }
}

fn choose<T: Choice, E: de::Error>(word: &str) -> Result<T, E> {
    T::from_word(word).ok_or_else(|| E::custom(format!(" must be {}, got '{word}'", T::EXPECTED)))
}

/// One of a [`Choice`]'s words; an empty value counts as not given.
pub fn choice<'de, D: Deserializer<'de>, T: Choice>(d: D) -> Result<Option<T>, D::Error> {
    match last(d)? {
        v if v.is_empty() => Ok(None),
        v => choose(&v).map(Some),
    }
}

/// A list of a [`Choice`]'s words.
pub fn choices<'de, D: Deserializer<'de>, T: Choice>(d: D) -> Result<Vec<T>, D::Error> {
    list(d)?.iter().map(|v| choose(v)).collect()
}
