//! Fresh identifiers, supplied by the caller: the core has no randomness of its own.

use crate::sid::Sid;

/// Makes fresh SIDs for the resources a decision creates (reservations, events).
pub trait Mint {
    /// A SID of kind `T` never handed out before.
    fn sid<T: Sid>(&mut self) -> T;
}

/// SIDs numbered 1, 2, 3, ...: the same decisions mint the same SIDs, so tests can compare
/// them whole.
#[derive(Debug, Clone, Default)]
pub struct Counter(u128);

impl Mint for Counter {
    fn sid<T: Sid>(&mut self) -> T {
        self.0 += 1;
        T::from_bytes(self.0.to_be_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sid::{EventSid, ReservationSid};

    #[test]
    fn a_counter_never_repeats_and_starts_over_the_same() {
        let (mut a, mut b) = (Counter::default(), Counter::default());
        let first: ReservationSid = a.sid();
        let second: EventSid = a.sid();
        assert_ne!(first.as_str()[2..], second.as_str()[2..]);
        assert_eq!(first, b.sid::<ReservationSid>());
    }
}
