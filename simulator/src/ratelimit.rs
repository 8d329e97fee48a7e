//! Per-key rate limits in fixed 60-second windows aligned to Unix minutes, as the live API's
//! `X-RateLimit-Reset` values (always a whole minute) suggest, counted per endpoint as SendGrid
//! says ("each endpoint permits a fixed number of requests per refresh period"; the global and
//! EU hosts' copies of an endpoint count as one, on the safe side).

use super::endpoints::Endpoint;
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const WINDOW_SECS: u64 = 60;

/// The three `X-RateLimit-*` header values of one response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateHeaders {
    pub limit: u32,
    pub remaining: u32,
    /// Unix seconds at which the window ends.
    pub reset: u64,
}

/// Whether a request fits in its window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateDecision {
    pub headers: RateHeaders,
    pub allowed: bool,
}

/// Request counts per credential and endpoint for the current window.
#[derive(Debug)]
pub struct RateLimiter {
    limit: u32,
    /// (Credential, endpoint) -> (window number, requests counted in it). Keyed by the presented
    /// credential (or "" for none), which stays in memory only: it is never logged or serialised.
    windows: HashMap<(String, Endpoint), (u64, u32)>,
}

impl RateLimiter {
    pub fn new(limit_per_minute: u32) -> RateLimiter {
        RateLimiter {
            limit: limit_per_minute,
            windows: HashMap::new(),
        }
    }

    /// Counts one request for `credential` to `endpoint` at `now`. Every request counts, refused
    /// or not.
    pub fn check(&mut self, credential: &str, endpoint: Endpoint, now: SystemTime) -> RateDecision {
        let window = unix_secs(now) / WINDOW_SECS;
        // Forget past windows so the map cannot grow without bound.
        self.windows.retain(|_, (w, _)| *w == window);
        let (_, count) = self
            .windows
            .entry((credential.to_owned(), endpoint))
            .or_insert((window, 0));
        *count = count.saturating_add(1);
        RateDecision {
            headers: RateHeaders {
                limit: self.limit,
                remaining: self.limit.saturating_sub(*count),
                reset: (window + 1) * WINDOW_SECS,
            },
            allowed: *count <= self.limit,
        }
    }
}

/// Whole seconds since the Unix epoch (0 for a clock before it).
pub fn unix_secs(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

/// Unix seconds of `at + after`, rounded up so a client waiting until then waits long enough.
pub fn unix_secs_after(at: SystemTime, after: Duration) -> u64 {
    let end = at.duration_since(UNIX_EPOCH).unwrap_or_default() + after;
    end.as_secs() + u64::from(end.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    const TLS: Endpoint = Endpoint::EnforcedTls;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn counts_per_credential_within_a_minute() {
        let mut limiter = RateLimiter::new(2);
        let first = limiter.check("a", TLS, at(1_492_362_485));
        assert_eq!(
            first,
            RateDecision {
                headers: RateHeaders {
                    limit: 2,
                    remaining: 1,
                    reset: 1_492_362_540
                },
                allowed: true
            }
        );
        assert!(limiter.check("a", TLS, at(1_492_362_539)).allowed);
        let third = limiter.check("a", TLS, at(1_492_362_539));
        assert!(!third.allowed);
        assert_eq!(third.headers.remaining, 0);
        // Another key has its own window, and so has another endpoint.
        assert_eq!(
            limiter.check("b", TLS, at(1_492_362_539)).headers.remaining,
            1
        );
        let identity = limiter.check("a", Endpoint::Username, at(1_492_362_539));
        assert!(identity.allowed);
        assert_eq!(identity.headers.remaining, 1);
    }

    #[test]
    fn a_new_minute_starts_a_new_window() {
        let mut limiter = RateLimiter::new(1);
        assert!(limiter.check("a", TLS, at(119)).allowed);
        assert!(!limiter.check("a", TLS, at(119)).allowed);
        let next = limiter.check("a", TLS, at(120));
        assert!(next.allowed);
        assert_eq!(next.headers.reset, 180);
        assert_eq!(limiter.windows.len(), 1);
    }

    #[test]
    fn reset_after_rounds_up() {
        let now = at(100) + Duration::from_millis(1);
        assert_eq!(unix_secs_after(now, Duration::from_secs(2)), 103);
        assert_eq!(unix_secs_after(at(100), Duration::from_secs(2)), 102);
    }
}
