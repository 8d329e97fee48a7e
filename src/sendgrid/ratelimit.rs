//! One rate limiter per API key, shared by every resource that uses the key, with one block per
//! endpoint (SendGrid counts each endpoint on its own).
//!
//! SendGrid says in every response how much of the key's window is left
//! (`X-RateLimit-Limit/-Remaining/-Reset`, Reset in Unix seconds). After a 429, or a response
//! with Remaining 0, further requests with that key are refused here until Reset, without being
//! sent: hammering an exhausted window only prolongs the lockout for every resource on the key.
//! The limiter never sleeps; callers requeue until the returned reset time.

use super::account::Endpoint;
use reqwest::header::HeaderMap;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long to hold off when SendGrid says "stop" without saying until when (or names a time
/// already past by our clock): long enough to not hammer, short enough to not matter.
const FALLBACK_BLOCK: Duration = Duration::from_secs(1);
/// Upper bound on one block: SendGrid's windows are a minute; a Reset hours ahead is garbled,
/// and must not silence a key for good.
const MAX_BLOCK: Duration = Duration::from_secs(3600);
/// Reset values below this (2001-09-09) are read as seconds from now rather than a Unix time:
/// some proxies and APIs send a delta, and a 1970 date would otherwise mean "no wait".
const DELTA_BELOW: u64 = 1_000_000_000;
/// Larger Reset values are cut to this before any date arithmetic, which would overflow.
const MAX_RESET_SECS: f64 = 1e11;

/// The window state SendGrid reported in one response's headers.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateLimitHeaders {
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
    pub reset: Option<SystemTime>,
}

impl RateLimitHeaders {
    /// Reads the headers (names are case-insensitive: `X-Ratelimit-Reset` is what SendGrid
    /// actually sends); an absent or garbled value is `None`.
    pub fn parse(headers: &HeaderMap, now: SystemTime) -> RateLimitHeaders {
        let number = |name: &str| -> Option<f64> {
            let text = headers.get(name)?.to_str().ok()?.trim();
            text.parse::<f64>()
                .ok()
                .filter(|n| n.is_finite() && *n >= 0.0)
        };
        let reset = number("x-ratelimit-reset").map(|secs| {
            let secs = Duration::from_secs_f64(secs.min(MAX_RESET_SECS));
            if secs.as_secs() < DELTA_BELOW {
                now + secs
            } else {
                UNIX_EPOCH + secs
            }
        });
        RateLimitHeaders {
            limit: number("x-ratelimit-limit").map(|n| n as u64),
            remaining: number("x-ratelimit-remaining").map(|n| n as u64),
            reset,
        }
    }
}

/// Why a request was refused locally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Blocked {
    pub until: SystemTime,
    pub limit: Option<u64>,
}

/// The limiters of all keys, by the key's full SHA-256 and the endpoint. Only blocked ones have
/// an entry, so the map stays as small as the set of exhausted windows.
#[derive(Debug, Default)]
pub(crate) struct RateLimits {
    blocked: Mutex<HashMap<([u8; 32], Endpoint), Blocked>>,
}

impl RateLimits {
    /// `Err` with the block when this key must not send to `endpoint` now.
    pub fn check(
        &self,
        key: &[u8; 32],
        endpoint: Endpoint,
        now: SystemTime,
    ) -> Result<(), Blocked> {
        let mut blocked = self.lock();
        match blocked.get(&(*key, endpoint)) {
            Some(block) if block.until > now => Err(*block),
            Some(_) => {
                blocked.remove(&(*key, endpoint));
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Learns from one response: blocks the key's endpoint after a 429 or Remaining 0 and
    /// returns until when. A block is only ever extended, never shortened, because responses to concurrent
    /// requests may arrive out of order.
    pub fn record(
        &self,
        key: &[u8; 32],
        endpoint: Endpoint,
        status: u16,
        headers: &RateLimitHeaders,
        now: SystemTime,
    ) -> Option<SystemTime> {
        if status != 429 && headers.remaining != Some(0) {
            return None;
        }
        let until = headers
            .reset
            .unwrap_or(now)
            .clamp(now + FALLBACK_BLOCK, now + MAX_BLOCK);
        let mut blocked = self.lock();
        blocked.retain(|_, block| block.until > now);
        let block = blocked.entry((*key, endpoint)).or_insert(Blocked {
            until,
            limit: headers.limit,
        });
        if until > block.until {
            block.until = until;
        }
        block.limit = headers.limit.or(block.limit);
        Some(block.until)
    }

    /// The map is only touched in short non-async sections; a panic elsewhere while holding it
    /// leaves consistent data, so a poisoned lock is simply taken over.
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<([u8; 32], Endpoint), Blocked>> {
        self.blocked.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    const S: Endpoint = Endpoint::Settings;
    use reqwest::header::{HeaderName, HeaderValue};

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    HeaderValue::from_str(v).unwrap(),
                )
            })
            .collect()
    }

    const NOW: u64 = 1_764_140_400;

    #[test]
    fn parses_headers_case_insensitively() {
        let parsed = RateLimitHeaders::parse(
            &headers(&[
                ("X-Ratelimit-Limit", "600"),
                ("x-ratelimit-remaining", " 599 "),
                ("X-RATELIMIT-RESET", "1764140460"),
            ]),
            at(NOW),
        );
        assert_eq!(
            parsed,
            RateLimitHeaders {
                limit: Some(600),
                remaining: Some(599),
                reset: Some(at(1_764_140_460)),
            }
        );
    }

    #[test]
    fn garbled_headers_are_none_and_small_resets_are_deltas() {
        let parsed = RateLimitHeaders::parse(
            &headers(&[
                ("X-RateLimit-Limit", "lots"),
                ("X-RateLimit-Remaining", "-1"),
                ("X-RateLimit-Reset", "soon"),
            ]),
            at(NOW),
        );
        assert_eq!(parsed, RateLimitHeaders::default());
        let delta = RateLimitHeaders::parse(&headers(&[("X-RateLimit-Reset", "30")]), at(NOW));
        assert_eq!(delta.reset, Some(at(NOW + 30)));
    }

    #[test]
    fn blocks_after_429_until_reset_then_allows() {
        let limits = RateLimits::default();
        let key = [1; 32];
        let other = [2; 32];
        let reported = RateLimitHeaders {
            limit: Some(150),
            remaining: Some(0),
            reset: Some(at(NOW + 20)),
        };
        assert_eq!(
            limits.record(&key, S, 429, &reported, at(NOW)),
            Some(at(NOW + 20))
        );
        assert_eq!(
            limits.check(&key, S, at(NOW + 19)),
            Err(Blocked {
                until: at(NOW + 20),
                limit: Some(150)
            })
        );
        assert_eq!(
            limits.check(&other, S, at(NOW + 19)),
            Ok(()),
            "other keys are unaffected"
        );
        assert_eq!(
            limits.check(&key, Endpoint::Username, at(NOW + 19)),
            Ok(()),
            "the key's other endpoints have their own windows"
        );
        assert_eq!(limits.check(&key, S, at(NOW + 20)), Ok(()));
        assert_eq!(limits.check(&key, S, at(NOW + 21)), Ok(()));
    }

    #[test]
    fn remaining_zero_blocks_even_on_success() {
        let limits = RateLimits::default();
        let reported = RateLimitHeaders {
            remaining: Some(0),
            reset: Some(at(NOW + 5)),
            ..Default::default()
        };
        assert_eq!(
            limits.record(&[1; 32], S, 200, &reported, at(NOW)),
            Some(at(NOW + 5))
        );
        assert!(limits.check(&[1; 32], S, at(NOW + 4)).is_err());
        let fine = RateLimitHeaders {
            remaining: Some(3),
            reset: Some(at(NOW + 5)),
            ..Default::default()
        };
        assert_eq!(limits.record(&[3; 32], S, 200, &fine, at(NOW)), None);
        assert_eq!(limits.check(&[3; 32], S, at(NOW)), Ok(()));
    }

    #[test]
    fn missing_past_or_absurd_resets_are_bounded() {
        let limits = RateLimits::default();
        let none = RateLimitHeaders::default();
        assert_eq!(
            limits.record(&[1; 32], S, 429, &none, at(NOW)),
            Some(at(NOW + 1))
        );
        let past = RateLimitHeaders {
            reset: Some(at(NOW - 100)),
            ..Default::default()
        };
        assert_eq!(
            limits.record(&[2; 32], S, 429, &past, at(NOW)),
            Some(at(NOW + 1))
        );
        let far = RateLimitHeaders {
            reset: Some(at(NOW + 86_400 * 365)),
            ..Default::default()
        };
        assert_eq!(
            limits.record(&[3; 32], S, 429, &far, at(NOW)),
            Some(at(NOW + 3600))
        );
    }

    #[test]
    fn a_block_is_never_shortened() {
        let limits = RateLimits::default();
        let long = RateLimitHeaders {
            reset: Some(at(NOW + 60)),
            ..Default::default()
        };
        let short = RateLimitHeaders {
            reset: Some(at(NOW + 10)),
            ..Default::default()
        };
        limits.record(&[1; 32], S, 429, &long, at(NOW));
        assert_eq!(
            limits.record(&[1; 32], S, 429, &short, at(NOW)),
            Some(at(NOW + 60))
        );
    }
}
