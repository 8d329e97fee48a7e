//! The SendGrid API key: kept secret, shown only as a short fingerprint.
//!
//! The key goes into exactly one place, the `Authorization` header built by the client; every
//! Debug, Display, error message and status line uses [`ApiKey::fingerprint`] instead.

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use std::fmt;

/// An API key. Debug and Display print only `ApiKey(key-3f9a1c)`, never the key.
#[derive(Clone)]
pub struct ApiKey(SecretString);

/// Why a Secret's value is not usable as an API key. The message never contains the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid API key: {reason}")]
pub struct InvalidApiKey {
    reason: &'static str,
}

impl ApiKey {
    /// Trims surrounding whitespace (Secrets created with `echo` end in "\n") and accepts only
    /// the shape of a SendGrid key: `SG.`, then two base64url parts separated by a dot. Anything
    /// else (a database password in the wrong Secret, say) is never sent anywhere and never
    /// fingerprinted: a short unsalted hash of a weak secret would be an offline oracle for it.
    pub fn new(raw: &str) -> Result<ApiKey, InvalidApiKey> {
        let key = raw.trim();
        if key.is_empty() {
            return Err(InvalidApiKey {
                reason: "the value is empty",
            });
        }
        let base64url = |part: &str| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        let shaped = key
            .strip_prefix("SG.")
            .and_then(|rest| rest.split_once('.'))
            .is_some_and(|(id, secret)| base64url(id) && base64url(secret));
        if !shaped {
            return Err(InvalidApiKey {
                reason: "the value does not have the shape of a SendGrid API key (SG.<id>.<secret>, base64url); check that the Secret and key are the right ones",
            });
        }
        Ok(ApiKey(SecretString::from(key)))
    }

    /// "key-" and the first 6 hex digits of the key's SHA-256: stable and safe to show.
    pub fn fingerprint(&self) -> String {
        fingerprint_of(&self.digest())
    }

    /// The full SHA-256 of the key: what the rate limiter keys its state by, so two keys whose
    /// short fingerprints collide still get separate limits.
    pub(crate) fn digest(&self) -> [u8; 32] {
        Sha256::digest(self.expose().as_bytes()).into()
    }

    /// The key itself, for the Authorization header (and for scrubbing it out of messages).
    pub(crate) fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

/// The fingerprint of a key known only by its SHA-256 ([`ApiKey::fingerprint`]).
pub fn fingerprint_of(digest: &[u8; 32]) -> String {
    format!("key-{:02x}{:02x}{:02x}", digest[0], digest[1], digest[2])
}

impl PartialEq for ApiKey {
    /// Compares digests rather than the keys themselves, so the comparison takes the same time
    /// wherever two keys differ.
    fn eq(&self, other: &ApiKey) -> bool {
        self.digest() == other.digest()
    }
}

impl Eq for ApiKey {}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey({})", self.fingerprint())
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "SG.abcdefghijklmnop.qrstuvwxyz0123456789";
    const FINGERPRINT: &str = "key-a40d57";

    #[test]
    fn trims_the_trailing_newline_of_a_secret() {
        let key = ApiKey::new(&format!("  {KEY}\n")).unwrap();
        assert_eq!(key.expose(), KEY);
        assert_eq!(key, ApiKey::new(KEY).unwrap());
    }

    #[test]
    fn rejects_what_is_not_shaped_like_a_sendgrid_key_without_echoing_it() {
        for raw in [
            "",
            " \n\t",
            "SG.abc\r\nX-Evil: 1",
            "SG.a\u{7f}b.c",
            "SG.a b.c",
            "SG.é.x",
            "SG.test",
            "SG..secret",
            "SG.id.",
            "SG.id.se.cret",
            "hunter2",
            "postgres://user:pw@db/x",
            "sg.lower.case",
        ] {
            let error = ApiKey::new(raw).unwrap_err().to_string();
            assert!(error.starts_with("invalid API key: "), "{error}");
            if !raw.trim().is_empty() {
                assert!(!error.contains(raw.trim()), "{error}");
            }
        }
    }

    #[test]
    fn fingerprint_is_the_sha256_prefix() {
        // `printf SG.test.key | sha256sum` starts with a40d57.
        let key = ApiKey::new("SG.test.key").unwrap();
        assert_eq!(key.fingerprint(), FINGERPRINT);
        assert_ne!(
            key.fingerprint(),
            ApiKey::new("SG.other.key").unwrap().fingerprint()
        );
    }

    #[test]
    fn debug_and_display_show_only_the_fingerprint() {
        let key = ApiKey::new(KEY).unwrap();
        let shown = format!("{key:?} {key} {:?}", Some(key.clone()));
        assert!(
            !shown.contains(KEY) && !shown.contains("abcdefghij"),
            "{shown}"
        );
        assert_eq!(format!("{key:?}"), format!("ApiKey({})", key.fingerprint()));
        assert_eq!(format!("{key}"), format!("{key:?}"));
    }
}
