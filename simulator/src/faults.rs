//! Injectable faults: what the simulator does instead of (or before) answering normally.
//!
//! Latency applies to every API response until cleared, and so does a refused version (an account
//! whose plan lacks it: the one 400 the simulator gives to a well-formed PATCH). The counted faults (server errors,
//! dropped connections, 429 bursts) queue up in injection order: each API request takes one unit
//! from the front of the queue, so `ServerErrors{count: 2}` then `DropConnections{count: 1}` gives
//! two 5xx answers and then one dropped connection.

use super::settings::TlsVersion;
use serde::Deserialize;
use std::collections::VecDeque;
use std::time::Duration;

/// A fault to inject into the simulated SendGrid API (admin endpoints are never affected).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Delay every API response by this much (until cleared); replaces an earlier latency. The
    /// request is decided, applied and logged on arrival; only the answer waits.
    Latency(Duration),
    /// Like `Latency`, for PATCH answers only (a write that lands but whose answer is late).
    PatchLatency(Duration),
    /// A PATCH setting `version` to this gets 400 `{"errors":[{"field":"version","message":"TLS
    /// 1.3 is not available on this account's plan"}]}` and changes nothing (until cleared).
    RefuseVersion(TlsVersion),
    /// After each PATCH of an account, its next `count` GETs answer what it held before the
    /// PATCH (SendGrid's GET may lag a PATCH; until cleared).
    LaggingReads { count: u32 },
    /// The next `count` requests get this status with `{"errors":[{"message":...}]}`.
    ServerErrors { count: u32, status: u16 },
    /// The next `count` requests: the connection is closed without writing a response.
    DropConnections { count: u32 },
    /// The next `count` requests get 429 with `X-RateLimit-Reset` = now + `reset_after`.
    RateLimitBurst { count: u32, reset_after: Duration },
    /// The next `count` requests get `status` with an error message that echoes the request's
    /// Authorization header after `padding` characters, as a careless proxy might: a test of
    /// the client's scrubbing wherever a cut falls.
    EchoAuthorization {
        count: u32,
        status: u16,
        padding: usize,
    },
}

/// What the front of the fault queue says about the current request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Injected {
    ServerError { status: u16 },
    DropConnection,
    RateLimited { reset_after: Duration },
    EchoAuthorization { status: u16, padding: usize },
}

/// The active faults.
#[derive(Debug, Default)]
pub struct Faults {
    latency: Option<Duration>,
    patch_latency: Option<Duration>,
    refused: Vec<TlsVersion>,
    /// GETs per account that answer the settings from before its last PATCH.
    lagging_reads: u32,
    /// Counted faults with their remaining counts; never holds a zero count.
    queue: VecDeque<(Injected, u32)>,
}

impl Faults {
    pub fn inject(&mut self, fault: Fault) {
        let (injected, count) = match fault {
            Fault::Latency(delay) => {
                self.latency = Some(delay).filter(|d| !d.is_zero());
                return;
            }
            Fault::PatchLatency(delay) => {
                self.patch_latency = Some(delay).filter(|d| !d.is_zero());
                return;
            }
            Fault::RefuseVersion(version) => {
                if !self.refuses(version) {
                    self.refused.push(version);
                }
                return;
            }
            Fault::LaggingReads { count } => {
                self.lagging_reads = count;
                return;
            }
            Fault::ServerErrors { count, status } => (Injected::ServerError { status }, count),
            Fault::DropConnections { count } => (Injected::DropConnection, count),
            Fault::RateLimitBurst { count, reset_after } => {
                (Injected::RateLimited { reset_after }, count)
            }
            Fault::EchoAuthorization {
                count,
                status,
                padding,
            } => (Injected::EchoAuthorization { status, padding }, count),
        };
        if count > 0 {
            self.queue.push_back((injected, count));
        }
    }

    pub fn clear(&mut self) {
        *self = Faults::default();
    }

    /// The delay of an answer to a request with this method.
    pub fn latency(&self, patch: bool) -> Option<Duration> {
        self.patch_latency.filter(|_| patch).or(self.latency)
    }

    /// How many GETs after a PATCH answer the settings from before it.
    pub fn lagging_reads(&self) -> u32 {
        self.lagging_reads
    }

    /// Whether a PATCH may not set this version.
    pub fn refuses(&self, version: TlsVersion) -> bool {
        self.refused.contains(&version)
    }

    /// Takes one unit of the oldest counted fault, if any.
    pub fn next(&mut self) -> Option<Injected> {
        let (injected, remaining) = self.queue.front_mut()?;
        let injected = *injected;
        *remaining -= 1;
        if *remaining == 0 {
            self.queue.pop_front();
        }
        Some(injected)
    }
}

/// The JSON form of [`Fault`] accepted by `POST /_sim/faults`, durations in milliseconds:
/// `{"kind":"latency","ms":500}`, `{"kind":"server_errors","count":2,"status":503}` (status
/// 500 when omitted), `{"kind":"drop_connections","count":1}`,
/// `{"kind":"rate_limit_burst","count":3,"reset_after_ms":2000}`,
/// `{"kind":"refuse_version","version":"1.3"}`.
#[derive(Deserialize, Debug, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultRequest {
    Latency {
        ms: u64,
    },
    ServerErrors {
        count: u32,
        #[serde(default = "internal_server_error")]
        status: u16,
    },
    DropConnections {
        count: u32,
    },
    RateLimitBurst {
        count: u32,
        reset_after_ms: u64,
    },
    RefuseVersion {
        version: TlsVersion,
    },
}

fn internal_server_error() -> u16 {
    500
}

impl FaultRequest {
    /// The fault, or why it is not one (a server error's status must be 5xx).
    pub fn into_fault(self) -> Result<Fault, String> {
        Ok(match self {
            FaultRequest::Latency { ms } => Fault::Latency(Duration::from_millis(ms)),
            FaultRequest::ServerErrors { count, status } => {
                if !(500..=599).contains(&status) {
                    return Err(format!("status must be 500-599, got {status}"));
                }
                Fault::ServerErrors { count, status }
            }
            FaultRequest::DropConnections { count } => Fault::DropConnections { count },
            FaultRequest::RateLimitBurst {
                count,
                reset_after_ms,
            } => Fault::RateLimitBurst {
                count,
                reset_after: Duration::from_millis(reset_after_ms),
            },
            FaultRequest::RefuseVersion { version } => Fault::RefuseVersion(version),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_faults_are_taken_in_injection_order() {
        let mut faults = Faults::default();
        faults.inject(Fault::ServerErrors {
            count: 2,
            status: 503,
        });
        faults.inject(Fault::DropConnections { count: 0 });
        faults.inject(Fault::DropConnections { count: 1 });
        let taken: Vec<_> = std::iter::from_fn(|| faults.next()).collect();
        assert_eq!(
            taken,
            [
                Injected::ServerError { status: 503 },
                Injected::ServerError { status: 503 },
                Injected::DropConnection
            ]
        );
    }

    #[test]
    fn latency_stays_until_cleared_and_zero_means_none() {
        let mut faults = Faults::default();
        faults.inject(Fault::Latency(Duration::from_millis(20)));
        assert_eq!(faults.next(), None);
        assert_eq!(faults.latency(false), Some(Duration::from_millis(20)));
        faults.inject(Fault::Latency(Duration::ZERO));
        assert_eq!(faults.latency(false), None);
        faults.inject(Fault::PatchLatency(Duration::from_millis(7)));
        assert_eq!(faults.latency(false), None, "PATCH answers only");
        assert_eq!(faults.latency(true), Some(Duration::from_millis(7)));
        faults.inject(Fault::Latency(Duration::from_millis(5)));
        faults.inject(Fault::RateLimitBurst {
            count: 1,
            reset_after: Duration::from_secs(2),
        });
        faults.clear();
        assert_eq!((faults.latency(true), faults.next()), (None, None));
    }

    #[test]
    fn refused_versions_stay_until_cleared() {
        let mut faults = Faults::default();
        assert!(!faults.refuses(TlsVersion::V1_3));
        faults.inject(Fault::RefuseVersion(TlsVersion::V1_3));
        faults.inject(Fault::RefuseVersion(TlsVersion::V1_3));
        assert_eq!(faults.next(), None, "not a counted fault");
        assert!(faults.refuses(TlsVersion::V1_3) && !faults.refuses(TlsVersion::V1_2));
        faults.clear();
        assert!(!faults.refuses(TlsVersion::V1_3));
    }

    #[test]
    fn json_form_parses_and_checks_the_status() {
        let parse = |json: &str| {
            serde_json::from_str::<FaultRequest>(json)
                .map_err(|e| e.to_string())
                .and_then(FaultRequest::into_fault)
        };
        assert_eq!(
            parse(r#"{"kind":"latency","ms":250}"#),
            Ok(Fault::Latency(Duration::from_millis(250)))
        );
        assert_eq!(
            parse(r#"{"kind":"server_errors","count":2}"#),
            Ok(Fault::ServerErrors {
                count: 2,
                status: 500
            })
        );
        assert_eq!(
            parse(r#"{"kind":"drop_connections","count":1}"#),
            Ok(Fault::DropConnections { count: 1 })
        );
        assert_eq!(
            parse(r#"{"kind":"rate_limit_burst","count":3,"reset_after_ms":1500}"#),
            Ok(Fault::RateLimitBurst {
                count: 3,
                reset_after: Duration::from_millis(1500)
            })
        );
        assert_eq!(
            parse(r#"{"kind":"refuse_version","version":"1.3"}"#),
            Ok(Fault::RefuseVersion(TlsVersion::V1_3))
        );
        assert!(parse(r#"{"kind":"refuse_version","version":1.3}"#).is_err());
        assert!(parse(r#"{"kind":"server_errors","count":1,"status":404}"#).is_err());
        assert!(parse(r#"{"kind":"meteor","count":1}"#).is_err());
    }
}
