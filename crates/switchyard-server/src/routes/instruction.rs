//! Call-control instructions on a reservation (`Instruction=dequeue|call|redirect|conference`),
//! validated as Twilio documents their parameters before anything changes: an invalid one is a
//! 400 and the reservation stays pending. Switchyard has no voice backend, so a valid one
//! accepts the reservation with the instruction recorded.

use switchyard_core::model::is_http_url;
use switchyard_core::sid::{ActivitySid, CallSid, Sid};

use crate::error::{ApiError, ApiResult};
use crate::params::Params;

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
pub(super) fn validate(instruction: &str, f: &Params) -> ApiResult<&'static str> {
    let check = Check(f);
    match instruction.to_ascii_lowercase().as_str() {
        "dequeue" => {
            check.sid::<ActivitySid>("DequeuePostWorkActivitySid", 40130)?;
            check.one_of("DequeueRecord", RECORD)?;
            check.range("DequeueTimeout", 1..=999)?;
            check.url("DequeueStatusCallbackUrl", 40157)?;
            check.each_of("DequeueStatusCallbackEvent", CALL_EVENTS, 40134)?;
            Ok("dequeue")
        }
        "call" => {
            check.required("CallFrom")?;
            check.required("CallUrl")?;
            check.url("CallUrl", 40112)?;
            check.url("CallStatusCallbackUrl", 40158)?;
            check.one_of("CallAccept", BOOLEANS)?;
            check.one_of("CallRecord", RECORD)?;
            check.range("CallTimeout", 1..=999)?;
            Ok("call")
        }
        "redirect" => {
            check.required("RedirectUrl")?;
            check.url("RedirectUrl", 40120)?;
            match f.str("RedirectCallSid") {
                Some(s) if CallSid::is_valid(s) => {}
                _ => {
                    let message = "RedirectCallSid must be a Call SID (CA…)".to_owned();
                    return Err(coded(40121, message));
                }
            }
            check.one_of("RedirectAccept", BOOLEANS)?;
            Ok("redirect")
        }
        "conference" => {
            check.sid::<ActivitySid>("PostWorkActivitySid", 20001)?;
            check.range("Timeout", 1..=999)?;
            check.url("StatusCallback", 40159)?;
            check.one_of("StatusCallbackMethod", METHODS)?;
            check.each_of("StatusCallbackEvent", CALL_EVENTS, 20001)?;
            for flag in [
                "Record",
                "Muted",
                "StartConferenceOnEnter",
                "EndConferenceOnExit",
                "EndConferenceOnCustomerExit",
                "BeepOnCustomerEntrance",
                "EarlyMedia",
            ] {
                check.one_of(flag, BOOLEANS)?;
            }
            check.one_of("Beep", BEEP)?;
            check.url("WaitUrl", 20001)?;
            check.one_of("WaitMethod", METHODS)?;
            check.range("MaxParticipants", 2..=250)?;
            check.url("ConferenceStatusCallback", 20001)?;
            check.one_of("ConferenceStatusCallbackMethod", METHODS)?;
            check.each_of("ConferenceStatusCallbackEvent", CONFERENCE_EVENTS, 20001)?;
            check.one_of("ConferenceRecord", CONFERENCE_RECORD)?;
            check.one_of("ConferenceTrim", CONFERENCE_TRIM)?;
            check.one_of("RecordingChannels", RECORDING_CHANNELS)?;
            check.url("RecordingStatusCallback", 20001)?;
            check.one_of("RecordingStatusCallbackMethod", METHODS)?;
            check.url("ConferenceRecordingStatusCallback", 20001)?;
            check.one_of("ConferenceRecordingStatusCallbackMethod", METHODS)?;
            check.one_of("Region", REGIONS)?;
            check.one_of("JitterBufferSize", JITTER_BUFFER)?;
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

/// The checks, each on one parameter when it is given (an empty value counts as not given).
struct Check<'a>(&'a Params);

impl Check<'_> {
    fn given(&self, name: &str) -> Option<&str> {
        self.0.str(name).filter(|v| !v.is_empty())
    }

    fn required(&self, name: &str) -> ApiResult<()> {
        match self.given(name) {
            Some(_) => Ok(()),
            None => Err(ApiError::Invalid(format!(
                "Missing required parameter {name}"
            ))),
        }
    }

    fn one_of(&self, name: &str, allowed: &[&str]) -> ApiResult<()> {
        match self.given(name) {
            Some(v) if !allowed.iter().any(|a| a.eq_ignore_ascii_case(v)) => Err(coded(
                20001,
                format!("{name} must be one of {}, got '{v}'", allowed.join(", ")),
            )),
            _ => Ok(()),
        }
    }

    /// A repeated (or comma-separated) parameter whose every value is one of `allowed`.
    fn each_of(&self, name: &str, allowed: &[&str], code: u32) -> ApiResult<()> {
        for v in self.0.list(name) {
            if !allowed.contains(&v.as_str()) {
                return Err(coded(
                    code,
                    format!(
                        "{name} values must be among {}, got '{v}'",
                        allowed.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    fn range(&self, name: &str, allowed: std::ops::RangeInclusive<i64>) -> ApiResult<()> {
        match self.0.int(name)? {
            Some(v) if !allowed.contains(&v) => Err(ApiError::Invalid(format!(
                "{name} must be between {} and {}, got {v}",
                allowed.start(),
                allowed.end()
            ))),
            _ => Ok(()),
        }
    }

    fn url(&self, name: &str, code: u32) -> ApiResult<()> {
        match self.given(name) {
            Some(v) if !is_http_url(v) => Err(coded(
                code,
                format!("{name} must be an absolute http or https URL, got '{v}'"),
            )),
            _ => Ok(()),
        }
    }

    fn sid<T: Sid>(&self, name: &str, code: u32) -> ApiResult<()> {
        match self.given(name) {
            Some(v) if v.parse::<T>().is_err() => Err(coded(
                code,
                format!("{name} is not a valid Activity SID: '{v}'"),
            )),
            _ => Ok(()),
        }
    }
}
