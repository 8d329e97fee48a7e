//! An object that does not match the CRD (say, written before a CRD upgrade) is reported and
//! skipped: it must not stop the others. Being deleted with our finalizer, it is let go after
//! `--cleanup-timeout` (its spec cannot be read, so nothing can be put back).

use super::{Event, Retry};
use crate::api::Reason;
use std::time::Duration;

/// What is known of a malformed object.
#[derive(Debug, Clone, Copy)]
pub struct Malformed<'a> {
    /// Why it does not parse.
    pub error: &'a str,
    /// No retry is under way: it is new, or changed since it was last skipped.
    pub first: bool,
    /// Our finalizer is on it.
    pub has_finalizer: bool,
    /// How long ago this replica first saw its deletion, on its own monotonic clock; None when
    /// it is not being deleted.
    pub deleting_for: Option<Duration>,
    pub cleanup_timeout: Duration,
}

/// What to do with it.
#[derive(Debug, Clone, PartialEq)]
pub struct MalformedPlan {
    /// The Warning saying it is skipped; once per change, so the retries while a deletion waits
    /// out the cleanup timeout repeat nothing.
    pub warning: Option<Event>,
    pub next: Next,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Nothing until it changes.
    AwaitChange,
    /// Deleting, the cleanup timeout not up yet: come back.
    Retry(Retry),
    /// Deleting, the cleanup timeout up: drop our finalizer.
    LetGo,
}

pub fn plan(m: &Malformed) -> MalformedPlan {
    let warning = m.first.then(|| {
        Event::warning(
            Reason::InvalidObject,
            format!(
                "does not match the SendGridEnforcedTls schema, so it is skipped: {}",
                m.error
            ),
        )
    });
    let next = match m.deleting_for {
        Some(elapsed) if m.has_finalizer => {
            if elapsed >= m.cleanup_timeout {
                Next::LetGo
            } else {
                Next::Retry(Retry::BackoffAtMost(m.cleanup_timeout))
            }
        }
        _ => Next::AwaitChange,
    };
    MalformedPlan { warning, next }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(600);

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn skipped_with_one_warning_and_let_go_once_the_cleanup_timeout_is_up() {
        let wait = Next::Retry(Retry::BackoffAtMost(TIMEOUT));
        // (first, has_finalizer, deleting_for, warns, next)
        let cases = [
            (true, false, None, true, Next::AwaitChange),
            (false, false, None, false, Next::AwaitChange),
            (true, true, None, true, Next::AwaitChange),
            (true, false, Some(secs(900)), true, Next::AwaitChange),
            (true, true, Some(secs(0)), true, wait.clone()),
            (false, true, Some(secs(599)), false, wait),
            (false, true, Some(secs(600)), false, Next::LetGo),
            (true, true, Some(secs(900)), true, Next::LetGo),
        ];
        for (first, has_finalizer, deleting_for, warns, next) in cases {
            let got = plan(&Malformed {
                error: "spec.requireTls: invalid type",
                first,
                has_finalizer,
                deleting_for,
                cleanup_timeout: TIMEOUT,
            });
            let case = format!("first {first}, finalizer {has_finalizer}, {deleting_for:?}");
            assert_eq!(got.next, next, "{case}");
            assert_eq!(got.warning.is_some(), warns, "{case}");
            if let Some(warning) = got.warning {
                assert_eq!(warning.kind, super::super::EventKind::Warning);
                assert_eq!(warning.reason, Reason::InvalidObject);
                assert!(
                    warning
                        .message
                        .ends_with("skipped: spec.requireTls: invalid type")
                );
            }
        }
    }
}
