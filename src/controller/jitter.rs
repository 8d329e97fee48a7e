//! Random spreading of requeues: resources scheduled for the same moment (synced together, or
//! waiting for the same rate-limit window) must not all call SendGrid in the same instant.

use rand::RngExt;
use std::time::Duration;

/// How far a drift check may move from its interval, either way.
const RESYNC_SPREAD: f64 = 0.1;

/// The delay until a drift check: `every`, give or take a tenth. Resources synced together
/// drift apart with each resync instead of checking SendGrid in one burst, and on average they
/// are checked once per interval.
pub fn resync(every: Duration) -> Duration {
    every.mul_f64(rand::rng().random_range(1.0 - RESYNC_SPREAD..=1.0 + RESYNC_SPREAD))
}

/// A delay of up to `max`, to spread reconciles that wait for the same moment.
pub fn up_to(max: Duration) -> Duration {
    max.mul_f64(rand::rng().random_range(0.0..=1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resyncs_stay_within_a_tenth_and_spread() {
        let every = Duration::from_secs(600);
        let delays: Vec<Duration> = (0..1000).map(|_| resync(every)).collect();
        assert!(
            delays
                .iter()
                .all(|d| *d >= every.mul_f64(0.9) && *d <= every.mul_f64(1.1))
        );
        let earliest = delays.iter().min().unwrap();
        let latest = delays.iter().max().unwrap();
        // 1000 draws over a 120 s range: all within one second is (practically) impossible.
        assert!(
            *latest - *earliest > Duration::from_secs(60),
            "{earliest:?}..{latest:?}"
        );
    }

    #[test]
    fn up_to_stays_below_its_bound() {
        let max = Duration::from_secs(2);
        assert!((0..1000).map(|_| up_to(max)).all(|d| d <= max));
        assert_eq!(up_to(Duration::ZERO), Duration::ZERO);
    }
}
