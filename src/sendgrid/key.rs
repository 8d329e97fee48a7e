//! The SendGrid API key: kept secret, never shown, not even as a digest.
//!
//! The key goes into exactly one place, the `Authorization` header built by the client; every
//! Debug and Display prints `ApiKey(..)`. One copy of each distinct key is kept in memory
//! ([`KeyCopies`]), however many resources use it.

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, Weak};

/// The longest value accepted as a key: SendGrid's keys are 69 characters; a larger value is
/// not a key, and a tenant's megabyte-sized Secret must not grow the operator.
pub const MAX_KEY_LEN: usize = 256;

/// An API key. Debug and Display print only `ApiKey(..)`. Clones share one copy.
#[derive(Clone)]
pub struct ApiKey(Arc<Held>);

struct Held {
    secret: SecretString,
    /// The SHA-256 of the key, in memory only: what the rate limiter and the identity cache key
    /// their state by. Never published.
    digest: [u8; 32],
}

/// Why a Secret's value is not usable as an API key. The message never contains the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid API key: {reason}")]
pub struct InvalidApiKey {
    reason: &'static str,
}

const TOO_LONG: InvalidApiKey = InvalidApiKey {
    reason: "the value is longer than 256 characters, so it is not a SendGrid API key; check that the Secret and key are the right ones",
};

impl ApiKey {
    /// Trims surrounding whitespace (Secrets created with `echo` end in "\n") and accepts only
    /// the shape of a SendGrid key: `SG.`, then two base64url parts separated by a dot, at most
    /// [`MAX_KEY_LEN`] characters. Anything else (a database password in the wrong Secret, say)
    /// is never sent anywhere.
    pub fn new(raw: &str) -> Result<ApiKey, InvalidApiKey> {
        let key = raw.trim();
        if key.is_empty() {
            return Err(InvalidApiKey {
                reason: "the value is empty",
            });
        }
        if key.len() > MAX_KEY_LEN {
            return Err(TOO_LONG);
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
        Ok(ApiKey(Arc::new(Held {
            digest: Sha256::digest(key.as_bytes()).into(),
            secret: SecretString::from(key),
        })))
    }

    /// [`ApiKey::new`] of a Secret's bytes: a value far longer than any key is refused before it
    /// is copied as text.
    pub fn from_bytes(raw: &[u8]) -> Result<ApiKey, InvalidApiKey> {
        // Room for the whitespace `new` trims.
        if raw.len() > MAX_KEY_LEN + 64 {
            return Err(TOO_LONG);
        }
        let text = std::str::from_utf8(raw).map_err(|_| InvalidApiKey {
            reason: "the value is not UTF-8 text",
        })?;
        ApiKey::new(text)
    }

    /// The full SHA-256 of the key, in memory only: what per-key state is keyed by.
    pub(crate) fn digest(&self) -> [u8; 32] {
        self.0.digest
    }

    /// The key itself, for the Authorization header (and for scrubbing it out of messages).
    pub(crate) fn expose(&self) -> &str {
        self.0.secret.expose_secret()
    }
}

/// The keys in use, one copy each: a key read again from any Secret becomes a clone of the copy
/// already held. Entries go when the last clone does.
#[derive(Default)]
pub struct KeyCopies(Mutex<HashMap<[u8; 32], Weak<Held>>>);

impl KeyCopies {
    /// The copy held of `key`, or `key` itself, now held.
    pub fn share(&self, key: ApiKey) -> ApiKey {
        let mut copies = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(held) = copies.get(&key.digest()).and_then(Weak::upgrade) {
            return ApiKey(held);
        }
        // Keep the map as small as the keys in use: sweep the dead entries as it doubles.
        if copies.len() >= 64 && copies.len().is_power_of_two() {
            copies.retain(|_, held| held.strong_count() > 0);
        }
        copies.insert(key.digest(), Arc::downgrade(&key.0));
        key
    }

    /// How many distinct keys are held.
    #[cfg(test)]
    fn held(&self) -> usize {
        let copies = self.0.lock().unwrap_or_else(|e| e.into_inner());
        copies
            .values()
            .filter(|held| held.strong_count() > 0)
            .count()
    }
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
        f.write_str("ApiKey(..)")
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

    #[test]
    fn trims_the_trailing_newline_of_a_secret() {
        let key = ApiKey::new(&format!("  {KEY}\n")).unwrap();
        assert_eq!(key.expose(), KEY);
        assert_eq!(key, ApiKey::new(KEY).unwrap());
    }

    #[test]
    fn rejects_what_is_not_shaped_like_a_sendgrid_key_without_echoing_it() {
        let long = format!("SG.{}.{}", "a".repeat(126), "b".repeat(127));
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
            &long,
        ] {
            let error = ApiKey::new(raw).unwrap_err().to_string();
            assert!(error.starts_with("invalid API key: "), "{error}");
            if !raw.trim().is_empty() {
                assert!(!error.contains(raw.trim()), "{error}");
            }
        }
        assert!(ApiKey::new(&long[1..]).is_err(), "no SG. prefix");
        let longest = format!("SG.{}.{}", "a".repeat(126), "b".repeat(126));
        assert_eq!(longest.len(), MAX_KEY_LEN);
        assert!(ApiKey::new(&longest).is_ok());
        assert_eq!(ApiKey::from_bytes(&[b'x'; 1 << 20]).unwrap_err(), TOO_LONG);
        assert!(ApiKey::from_bytes(b"SG.a.\xff").is_err());
        assert!(ApiKey::from_bytes(format!("{longest}\n").as_bytes()).is_ok());
    }

    #[test]
    fn debug_and_display_show_nothing_of_the_key() {
        let key = ApiKey::new(KEY).unwrap();
        let shown = format!("{key:?} {key} {:?}", Some(key.clone()));
        assert_eq!(shown, "ApiKey(..) ApiKey(..) Some(ApiKey(..))");
    }

    #[test]
    fn one_copy_per_distinct_key_however_often_it_is_read() {
        let copies = KeyCopies::default();
        let held: Vec<ApiKey> = (0..120)
            .map(|_| copies.share(ApiKey::new(KEY).unwrap()))
            .collect();
        assert!(held.iter().all(|k| Arc::ptr_eq(&k.0, &held[0].0)));
        let other = copies.share(ApiKey::new("SG.other.key").unwrap());
        assert_eq!(copies.held(), 2);
        drop(held);
        assert_eq!(copies.held(), 1);
        drop(other);
        assert_eq!(copies.held(), 0);
    }
}
