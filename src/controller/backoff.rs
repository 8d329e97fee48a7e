//! Per-resource retry delays: exponential with jitter, capped, forgotten on success.
//!
//! kube's `error_policy` is never told about successes, so the attempt counts live here and the
//! reconcile resets them itself (see kube issue #1916).

use kube::runtime::reflector::ObjectRef;
use rand::RngExt;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct BackoffConfig {
    pub base: Duration,
    pub max: Duration,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig {
            base: Duration::from_secs(2),
            max: Duration::from_secs(300),
        }
    }
}

/// Attempt counts per object.
pub struct Backoff<K> {
    config: BackoffConfig,
    attempts: Mutex<HashMap<K, u32>>,
}

pub type ResourceBackoff<R> = Backoff<ObjectRef<R>>;

impl<K: Eq + Hash + Clone> Backoff<K> {
    pub fn new(config: BackoffConfig) -> Self {
        Backoff {
            config,
            attempts: Mutex::new(HashMap::new()),
        }
    }

    /// The delay before the next attempt for `key`: base * 2^(failures so far), capped, then
    /// jittered down by up to half so that many resources failing together spread out.
    pub fn next(&self, key: &K) -> Duration {
        let attempt = {
            let mut attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
            let n = attempts.entry(key.clone()).or_insert(0);
            *n = n.saturating_add(1);
            *n
        };
        let exp = self
            .config
            .base
            .saturating_mul(1u32 << (attempt - 1).min(20));
        let capped = exp.min(self.config.max);
        let factor = rand::rng().random_range(0.5..=1.0);
        capped.mul_f64(factor)
    }

    pub fn reset(&self, key: &K) {
        self.attempts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }

    pub fn attempts(&self, key: &K) -> u32 {
        self.attempts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .copied()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_caps_jitters_and_resets() {
        let b = Backoff::new(BackoffConfig {
            base: Duration::from_secs(1),
            max: Duration::from_secs(10),
        });
        let bounds = [
            (0.5, 1.0),
            (1.0, 2.0),
            (2.0, 4.0),
            (4.0, 8.0),
            (5.0, 10.0),
            (5.0, 10.0),
        ];
        for (lo, hi) in bounds {
            let d = b.next(&"x").as_secs_f64();
            assert!(d >= lo && d <= hi, "{d} not in {lo}..={hi}");
        }
        assert_eq!(b.attempts(&"x"), 6);
        assert_eq!(b.attempts(&"y"), 0, "per object");
        b.reset(&"x");
        assert!(b.next(&"x") <= Duration::from_secs(1));
    }
}
