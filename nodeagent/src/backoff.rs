//! The agent's one back-off policy: a delay that doubles from a first value up to a cap.
//! Used by the reflectors (relisting after a failed list or a watch that ended early), the
//! service proxy (retrying a failed apply) and the pod workers (restarting a crashing
//! container, where the attempt is the container's restart count).

use std::time::Duration;

/// A doubling, capped delay. [`Backoff::next_delay`] counts failures itself and
/// [`Backoff::reset`] forgets them after a success; [`Backoff::delay`] answers the delay of
/// a given attempt for callers that keep the count elsewhere (a container's restart count).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    pub fn new(first: Duration, max: Duration) -> Backoff {
        Backoff { first, max, failures: 0 }
    }

    /// The delay before attempt `attempt` (0: the first retry): `first * 2^attempt`, capped.
    pub fn delay(&self, attempt: u32) -> Duration {
        self.first.saturating_mul(1u32 << attempt.min(16)).min(self.max)
    }

    /// Count one more failure and answer the delay before the next try.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.delay(self.failures);
        self.failures = self.failures.saturating_add(1);
        delay
    }

    /// Failures counted since the last reset.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The last try succeeded: the next failure waits the first delay again.
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    /// The longest delay this policy waits.
    pub fn max(&self) -> Duration {
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_its_cap() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        let secs: Vec<u64> = (0..8).map(|_| b.next_delay().as_secs()).collect();
        assert_eq!(secs, vec![1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(b.failures(), 8);
    }

    #[test]
    fn reset_starts_over() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(60));
        b.next_delay();
        b.next_delay();
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_millis(100));
    }

    #[test]
    fn a_huge_attempt_stays_at_the_cap() {
        let b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(60));
        assert_eq!(b.delay(3), Duration::from_secs(8));
    }
}
