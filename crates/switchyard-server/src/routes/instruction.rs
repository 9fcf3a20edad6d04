//! Call-control instructions on a reservation (`Instruction=dequeue|call|redirect|conference`),
//! validated as Twilio documents their parameters before anything changes: an invalid one is a
//! 400 and the reservation stays pending. Switchyard has no voice backend, so a valid one
//! accepts the reservation with the instruction recorded.

use switchyard_core::model::is_http_url;
use switchyard_core::sid::{ActivitySid, CallSid};

use super::reservations::UpdateForm;
use crate::error::{ApiError, ApiResult};

/// Call progress events (`StatusCallbackEvent`, `DequeueStatusCallbackEvent`).
const CALL_EVENTS: &[&str] = &["initiated", "ringing", "answered", "completed"];
/// Conference events (`ConferenceStatusCallbackEvent`).
const CONFERENCE_EVENTS: &[&str] = &["start", "end", "join", "leave", "mute", "hold", "speaker"];
const METHODS: &[&str] = &["GET", "POST"];
const RECORD: &[&str] = &["record-from-answer", "do-not-record"];
const BEEP: &[&str] = &["true", "false", "onEnter", "onExit"];
const CONFERENCE_RECORD: &[&str] = &["true", "false", "record-from-start", "do-not-record"];
const CONFERENCE_TRIM: &[&str] = &["trim-silence", "do-not-trim"];
const RECORDING_CHANNELS: &[&str] = &["mono", "dual"];
const JITTER_BUFFER: &[&str] = &["small", "medium", "large", "off"];
const REGIONS: &[&str] = &["us1", "us2", "ie1", "de1", "sg1", "br1", "au1", "jp1"];
const BOOLEANS: &[&str] = &["true", "false"];

/// Checks an instruction and its parameters; returns the instruction's name in lower case.
pub(super) fn validate(instruction: &str, f: &UpdateForm) -> ApiResult<&'static str> {
    match instruction.to_ascii_lowercase().as_str() {
        "dequeue" => {
            activity(
                "DequeuePostWorkActivitySid",
                &f.dequeue_post_work_activity_sid,
                40130,
            )?;
            one_of("DequeueRecord", &f.dequeue_record, RECORD)?;
            range("DequeueTimeout", f.dequeue_timeout, 1..=999)?;
            url(
                "DequeueStatusCallbackUrl",
                &f.dequeue_status_callback_url,
                40157,
            )?;
            each_of(
                "DequeueStatusCallbackEvent",
                &f.dequeue_status_callback_event,
                CALL_EVENTS,
                40134,
            )?;
            Ok("dequeue")
        }
        "call" => {
            required("CallFrom", &f.call_from)?;
            required("CallUrl", &f.call_url)?;
            url("CallUrl", &f.call_url, 40112)?;
            url("CallStatusCallbackUrl", &f.call_status_callback_url, 40158)?;
            one_of("CallAccept", &f.call_accept, BOOLEANS)?;
            one_of("CallRecord", &f.call_record, RECORD)?;
            range("CallTimeout", f.call_timeout, 1..=999)?;
            Ok("call")
        }
        "redirect" => {
            required("RedirectUrl", &f.redirect_url)?;
            url("RedirectUrl", &f.redirect_url, 40120)?;
            match f.redirect_call_sid.as_deref() {
                Some(s) if CallSid::is_valid(s) => {}
                _ => {
                    let message = "RedirectCallSid must be a Call SID (CA…)".to_owned();
                    return Err(coded(40121, message));
                }
            }
            one_of("RedirectAccept", &f.redirect_accept, BOOLEANS)?;
            Ok("redirect")
        }
        "conference" => {
            activity("PostWorkActivitySid", &f.post_work_activity_sid, 20001)?;
            range("Timeout", f.timeout, 1..=999)?;
            url("StatusCallback", &f.status_callback, 40159)?;
            one_of("StatusCallbackMethod", &f.status_callback_method, METHODS)?;
            each_of(
                "StatusCallbackEvent",
                &f.status_callback_event,
                CALL_EVENTS,
                20001,
            )?;
            for (name, value) in [
                ("Record", &f.record),
                ("Muted", &f.muted),
                ("StartConferenceOnEnter", &f.start_conference_on_enter),
                ("EndConferenceOnExit", &f.end_conference_on_exit),
                (
                    "EndConferenceOnCustomerExit",
                    &f.end_conference_on_customer_exit,
                ),
                ("BeepOnCustomerEntrance", &f.beep_on_customer_entrance),
                ("EarlyMedia", &f.early_media),
            ] {
                one_of(name, value, BOOLEANS)?;
            }
            one_of("Beep", &f.beep, BEEP)?;
            url("WaitUrl", &f.wait_url, 20001)?;
            one_of("WaitMethod", &f.wait_method, METHODS)?;
            range("MaxParticipants", f.max_participants, 2..=250)?;
            url(
                "ConferenceStatusCallback",
                &f.conference_status_callback,
                20001,
            )?;
            one_of(
                "ConferenceStatusCallbackMethod",
                &f.conference_status_callback_method,
                METHODS,
            )?;
            each_of(
                "ConferenceStatusCallbackEvent",
                &f.conference_status_callback_event,
                CONFERENCE_EVENTS,
                20001,
            )?;
            one_of("ConferenceRecord", &f.conference_record, CONFERENCE_RECORD)?;
            one_of("ConferenceTrim", &f.conference_trim, CONFERENCE_TRIM)?;
            one_of(
                "RecordingChannels",
                &f.recording_channels,
                RECORDING_CHANNELS,
            )?;
            url(
                "RecordingStatusCallback",
                &f.recording_status_callback,
                20001,
            )?;
            one_of(
                "RecordingStatusCallbackMethod",
                &f.recording_status_callback_method,
                METHODS,
            )?;
            url(
                "ConferenceRecordingStatusCallback",
                &f.conference_recording_status_callback,
                20001,
            )?;
            one_of(
                "ConferenceRecordingStatusCallbackMethod",
                &f.conference_recording_status_callback_method,
                METHODS,
            )?;
            one_of("Region", &f.region, REGIONS)?;
            one_of("JitterBufferSize", &f.jitter_buffer_size, JITTER_BUFFER)?;
            Ok("conference")
        }
        _ => Err(ApiError::Invalid(format!(
            "Instruction must be dequeue, call, redirect or conference, got '{instruction}'"
        ))),
    }
}

fn coded(code: u32, message: String) -> ApiError {
    if code == 20001 {
        ApiError::Invalid(message)
    } else {
        ApiError::InvalidWithCode { code, message }
    }
}

// The checks, each on one parameter when it is given (an empty value counts as not given); the
// name is the parameter's, for the message.

fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

fn required(name: &str, value: &Option<String>) -> ApiResult<()> {
    match given(value) {
        Some(_) => Ok(()),
        None => Err(ApiError::Invalid(format!(
            "Missing required parameter {name}"
        ))),
    }
}

fn one_of(name: &str, value: &Option<String>, allowed: &[&str]) -> ApiResult<()> {
    match given(value) {
        Some(v) if !allowed.iter().any(|a| a.eq_ignore_ascii_case(v)) => Err(coded(
            20001,
            format!("{name} must be one of {}, got '{v}'", allowed.join(", ")),
        )),
        _ => Ok(()),
    }
}

/// A repeated (or comma-separated) parameter whose every value is one of `allowed`.
fn each_of(name: &str, values: &[String], allowed: &[&str], code: u32) -> ApiResult<()> {
    match values.iter().find(|v| !allowed.contains(&v.as_str())) {
        Some(v) => Err(coded(
            code,
            format!(
                "{name} values must be among {}, got '{v}'",
                allowed.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

fn range(name: &str, value: Option<i64>, allowed: std::ops::RangeInclusive<i64>) -> ApiResult<()> {
    match value {
        Some(v) if !allowed.contains(&v) => Err(ApiError::Invalid(format!(
            "{name} must be between {} and {}, got {v}",
            allowed.start(),
            allowed.end()
        ))),
        _ => Ok(()),
    }
}

fn url(name: &str, value: &Option<String>, code: u32) -> ApiResult<()> {
    match given(value) {
        Some(v) if !is_http_url(v) => Err(coded(
            code,
            format!("{name} must be an absolute http or https URL, got '{v}'"),
        )),
        _ => Ok(()),
    }
}

fn activity(name: &str, value: &Option<String>, code: u32) -> ApiResult<()> {
    match given(value) {
        Some(v) if v.parse::<ActivitySid>().is_err() => Err(coded(
            code,
            format!("{name} is not a valid Activity SID: '{v}'"),
        )),
        _ => Ok(()),
    }
}
