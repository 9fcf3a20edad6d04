//! Resource identifiers.
//!
//! A SID is two upper-case letters naming the resource kind followed by 32 hex digits, e.g.
//! `WS0123456789abcdef0123456789abcdef`. Each kind is its own type, so a worker SID cannot be passed
//! where a queue SID is expected. Parsing accepts either case of hex (as Twilio's spec pattern does);
//! SIDs we mint are lower case.

use std::fmt;
use std::str::FromStr;

/// Length of every SID: a two-letter prefix and 32 hex digits.
pub const SID_LEN: usize = 34;

/// Why a string is not a SID of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{value}' is not a valid {kind} SID (expected '{prefix}' followed by 32 hex digits)")]
pub struct SidError {
    /// The rejected text.
    pub value: String,
    /// Human name of the expected kind.
    pub kind: &'static str,
    /// The expected two-letter prefix.
    pub prefix: &'static str,
}

/// What every SID type offers, so that generic code (ID minting, paging) can work over all of them.
pub trait Sid: FromStr<Err = SidError> + fmt::Display + Clone {
    /// Builds a SID from 16 random bytes supplied by the caller.
    fn from_bytes(bytes: [u8; 16]) -> Self;
    /// The SID as text.
    fn as_str(&self) -> &str;
}

fn is_sid(s: &str, prefix: &str) -> bool {
    s.len() == SID_LEN && s.starts_with(prefix) && s[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

macro_rules! sid_types {
    ($($(#[$doc:meta])* $name:ident => $prefix:literal, $kind:literal;)*) => {$(
        $(#[$doc])*
        // The text inline rather than in a `String`: a routing model holds several copies of
        // each SID, and a heap allocation apiece cost the scale benchmark a tenth of its memory.
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name([u8; SID_LEN]);

        impl $name {
            /// The two-letter prefix of this kind of SID.
            pub const PREFIX: &'static str = $prefix;

            /// Builds a SID from 16 random bytes supplied by the caller (the core has no RNG).
            pub fn from_bytes(bytes: [u8; 16]) -> Self {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let mut text = [0u8; SID_LEN];
                text[..2].copy_from_slice($prefix.as_bytes());
                for (i, b) in bytes.into_iter().enumerate() {
                    text[2 + 2 * i] = HEX[usize::from(b >> 4)];
                    text[3 + 2 * i] = HEX[usize::from(b & 0xf)];
                }
                Self(text)
            }

            /// The SID as text.
            pub fn as_str(&self) -> &str {
                // Only ASCII is ever stored (`from_bytes` writes hex, `from_str` checks it).
                std::str::from_utf8(&self.0).unwrap_or_default()
            }

            /// Whether `s` has this kind's shape.
            pub fn is_valid(s: &str) -> bool {
                is_sid(s, $prefix)
            }
        }

        impl Sid for $name {
            fn from_bytes(bytes: [u8; 16]) -> Self {
                $name::from_bytes(bytes)
            }
            fn as_str(&self) -> &str {
                $name::as_str(self)
            }
        }

        impl FromStr for $name {
            type Err = SidError;
            fn from_str(s: &str) -> Result<Self, SidError> {
                match <[u8; SID_LEN]>::try_from(s.as_bytes()) {
                    Ok(text) if is_sid(s, $prefix) => Ok(Self(text)),
                    _ => Err(SidError { value: s.to_owned(), kind: $kind, prefix: $prefix }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }
    )*};
}

sid_types! {
    /// An account (`AC…`): the owner of workspaces, authenticated with its auth token.
    AccountSid => "AC", "Account";
    /// A workspace (`WS…`).
    WorkspaceSid => "WS", "Workspace";
    /// An activity (`WA…`).
    ActivitySid => "WA", "Activity";
    /// A task channel (`TC…`).
    TaskChannelSid => "TC", "TaskChannel";
    /// A worker (`WK…`).
    WorkerSid => "WK", "Worker";
    /// A worker channel (`WC…`).
    WorkerChannelSid => "WC", "WorkerChannel";
    /// A task queue (`WQ…`).
    TaskQueueSid => "WQ", "TaskQueue";
    /// A workflow (`WW…`).
    WorkflowSid => "WW", "Workflow";
    /// A task (`WT…`).
    TaskSid => "WT", "Task";
    /// A reservation (`WR…`).
    ReservationSid => "WR", "Reservation";
    /// An event (`EV…`).
    EventSid => "EV", "Event";
    /// A voice call (`CA…`), named by call-control instructions.
    CallSid => "CA", "Call";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let s = "WS0123456789abcdef0123456789ABCDEF";
        let sid: WorkspaceSid = s.parse().unwrap();
        assert_eq!(sid.to_string(), s);
    }

    #[test]
    fn rejects_wrong_prefix_length_and_digits() {
        for bad in [
            "WK0123456789abcdef0123456789abcdef",
            "WS0123456789abcdef0123456789abcde",
            "WS0123456789abcdef0123456789abcdeg",
            "",
            "WS",
        ] {
            assert!(bad.parse::<WorkspaceSid>().is_err(), "{bad}");
        }
    }

    #[test]
    fn from_bytes_is_lower_hex() {
        let sid = WorkerSid::from_bytes([0xab; 16]);
        assert_eq!(sid.as_str(), format!("WK{}", "ab".repeat(16)));
        assert!(WorkerSid::is_valid(sid.as_str()));
    }
}
