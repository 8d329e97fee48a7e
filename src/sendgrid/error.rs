//! What can go wrong talking to SendGrid, one variant per way a caller must react.
//!
//! Messages start with the HTTP status (or what failed instead) and carry SendGrid's own error
//! text; they never contain the API key.

use crate::api::Reason;
use std::time::SystemTime;

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum SendGridError {
    /// 401: the key is wrong, revoked or expired.
    #[error("{message}")]
    Unauthorized { message: String },
    /// 403: the key lacks a scope (or the account is blocked).
    #[error("{message}")]
    Forbidden { message: String },
    /// 404: e.g. an unknown subuser or customer account in on-behalf-of.
    #[error("{message}")]
    NotFound { message: String },
    /// 451: the account lives in the other region.
    #[error("{message}")]
    DataResidency { message: String },
    /// 400, 422 and any other 4xx: SendGrid refused the request itself.
    #[error("{message}")]
    Rejected { status: u16, message: String },
    /// 429, or refused locally while this key's window is exhausted. `reset` is when SendGrid
    /// said the window ends (None when it did not say).
    #[error("{message}")]
    RateLimited {
        reset: Option<SystemTime>,
        message: String,
    },
    /// 5xx, timeout, connection error, unexpected or unreadable response. `status` is None when
    /// no response came.
    #[error("{message}")]
    Unavailable {
        status: Option<u16>,
        message: String,
    },
    /// The client could not be built (bad URL, TLS setup), or was asked for something it must
    /// never send (an empty PATCH). Nothing went over the network.
    #[error("{message}")]
    Config { message: String },
}

impl SendGridError {
    /// The `Synced` reason (and metric label) of this error: the one classification.
    pub fn reason(&self) -> Reason {
        match self {
            SendGridError::Unauthorized { .. } => Reason::Unauthorized,
            SendGridError::Forbidden { .. } => Reason::Forbidden,
            SendGridError::NotFound { .. } => Reason::NotFound,
            SendGridError::DataResidency { .. } => Reason::DataResidency,
            SendGridError::Rejected { .. } => Reason::Rejected,
            SendGridError::RateLimited { .. } => Reason::RateLimited,
            SendGridError::Unavailable { .. } | SendGridError::Config { .. } => {
                Reason::ApiUnavailable
            }
        }
    }

    /// The error for a non-2xx response, from its status and the message already built from
    /// its body. `reset` only matters for 429.
    pub(crate) fn from_status(status: u16, message: String, reset: Option<SystemTime>) -> Self {
        match status {
            401 => SendGridError::Unauthorized { message },
            403 => SendGridError::Forbidden { message },
            404 => SendGridError::NotFound { message },
            451 => SendGridError::DataResidency { message },
            429 => SendGridError::RateLimited { reset, message },
            // Request Timeout and Too Early say "try again", not "this request is wrong".
            408 | 425 => SendGridError::Unavailable {
                status: Some(status),
                message,
            },
            400..=499 => SendGridError::Rejected { status, message },
            _ => SendGridError::Unavailable {
                status: Some(status),
                message,
            },
        }
    }

    /// The same error with every occurrence of `secret` replaced: a guard against a server or
    /// proxy that echoes the Authorization header into its error body.
    pub(crate) fn scrubbed(mut self, secret: &str) -> Self {
        let message = match &mut self {
            SendGridError::Unauthorized { message }
            | SendGridError::Forbidden { message }
            | SendGridError::NotFound { message }
            | SendGridError::DataResidency { message }
            | SendGridError::Rejected { message, .. }
            | SendGridError::RateLimited { message, .. }
            | SendGridError::Unavailable { message, .. }
            | SendGridError::Config { message } => message,
        };
        *message = scrub(message, secret);
        self
    }
}

/// What replaces a secret in any text.
const REDACTED: &str = "[redacted]";
/// A cut that leaves at least this much of the secret's start at the very end of a text is
/// redacted too ("SG." alone says nothing; "SG.x" starts to).
const MIN_PARTIAL: usize = 4;
/// Any run of this many characters of the secret, anywhere, is redacted: its id part, its secret
/// part, the key without `SG.`, a piece left by a cut.
const MIN_RUN: usize = 8;

/// `body` with every occurrence of `secret` replaced, every run of [`MIN_RUN`] or more of its
/// characters, and a start of it at the very end (a body cut inside an echoed key). Runs on the
/// raw body and again on every decoded and cut message, so neither JSON escapes nor a cut can
/// leave a piece of the key that no longer matches.
pub(crate) fn scrub_bytes(body: &[u8], secret: &[u8]) -> Vec<u8> {
    if secret.is_empty() {
        return body.to_vec();
    }
    let run = MIN_RUN.min(secret.len());
    let windows: std::collections::HashSet<&[u8]> = secret.windows(run).collect();
    let mut hidden = vec![false; body.len()];
    for (at, window) in body.windows(run).enumerate() {
        if windows.contains(window) {
            hidden[at..at + run].fill(true);
        }
    }
    let partial = (MIN_PARTIAL.min(secret.len())..secret.len())
        .rev()
        .find(|&n| body.ends_with(&secret[..n]));
    if let Some(n) = partial {
        let len = hidden.len();
        hidden[len - n..].fill(true);
    }
    let mut out = Vec::with_capacity(body.len());
    for (at, &byte) in body.iter().enumerate() {
        match (hidden[at], at > 0 && hidden[at - 1]) {
            (false, _) => out.push(byte),
            (true, false) => out.extend_from_slice(REDACTED.as_bytes()),
            (true, true) => {}
        }
    }
    out
}

/// [`scrub_bytes`] for text.
pub(crate) fn scrub(text: &str, secret: &str) -> String {
    String::from_utf8_lossy(&scrub_bytes(text.as_bytes(), secret.as_bytes())).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_mapping() {
        let class = |status| SendGridError::from_status(status, "m".into(), None).reason();
        assert_eq!(class(401), Reason::Unauthorized);
        assert_eq!(class(403), Reason::Forbidden);
        assert_eq!(class(404), Reason::NotFound);
        assert_eq!(class(451), Reason::DataResidency);
        assert_eq!(class(429), Reason::RateLimited);
        for status in [408, 425] {
            assert_eq!(class(status), Reason::ApiUnavailable, "{status}");
        }
        for status in [400, 405, 409, 413, 422, 499] {
            assert_eq!(class(status), Reason::Rejected, "{status}");
        }
        for status in [500, 502, 503, 504, 301, 100] {
            assert_eq!(class(status), Reason::ApiUnavailable, "{status}");
        }
        assert_eq!(
            SendGridError::from_status(422, "m".into(), None),
            SendGridError::Rejected {
                status: 422,
                message: "m".into()
            }
        );
    }

    #[test]
    fn scrubbed_removes_an_echoed_key() {
        let error =
            SendGridError::from_status(401, "401 Unauthorized: bad key SG.x.y".into(), None);
        assert_eq!(
            error.scrubbed("SG.x.y").to_string(),
            "401 Unauthorized: bad key [redacted]"
        );
    }

    #[test]
    fn scrub_catches_a_key_cut_at_the_end_whatever_the_padding() {
        let key = "SG.abcdefghijklmnopqrstuv.ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq";
        for cut in 0..=key.len() {
            let body = format!("echo: Bearer {}", &key[..cut]);
            let clean = scrub(&body, key);
            let tail = &key[..cut];
            if cut >= MIN_PARTIAL {
                assert!(!clean.contains(tail), "cut {cut}: {clean}");
                assert!(clean.ends_with(REDACTED), "cut {cut}: {clean}");
            }
        }
        assert_eq!(
            scrub(&format!("{key} and {key}!"), key),
            "[redacted] and [redacted]!"
        );
        assert_eq!(scrub("nothing here", key), "nothing here");
    }

    #[test]
    fn scrub_removes_every_part_and_run_of_the_key() {
        let key = "SG.abcdefghijklmnopqrstuv.ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq";
        let (id, secret) = (
            "abcdefghijklmnopqrstuv",
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq",
        );
        for echoed in [
            format!("bad key {id} here"),
            format!("bad key {secret} here"),
            format!("bad key {} here", &key[3..]),
            format!("bad key {} here", &key[10..18]),
            format!("bad key {}", &secret[..20]),
        ] {
            let clean = scrub(&echoed, key);
            assert!(
                clean.starts_with("bad key [redacted]"),
                "{echoed} -> {clean}"
            );
            for piece in key.as_bytes().windows(MIN_RUN) {
                let piece = std::str::from_utf8(piece).unwrap();
                assert!(!clean.contains(piece), "{echoed} -> {clean}");
            }
        }
        assert_eq!(scrub("ABCDEFG is short", key), "ABCDEFG is short");
    }
}
