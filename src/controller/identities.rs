//! Whose account each key reaches, as SendGrid said (`GET /v3/user/username`), and which scopes
//! each key was seen to hold (`GET /v3/scopes`), in memory only: read once per distinct key
//! (region and on-behalf-of too, for the account), so the steady state makes no identity or
//! scopes request. Across restarts, `status.target` with the Secret's resourceVersion stands in.

use crate::api::{Region, TargetAccount};
use crate::sendgrid::{Account, ApiKey, Identity};
use std::collections::HashMap;
use std::sync::Mutex;

/// At most this many identities (and as many keys' scopes) are kept; past it the cache starts
/// afresh (each costs one request to learn again).
const MAX_ENTRIES: usize = 100_000;

/// Key digest, region and on-behalf-of header value.
type Reach = ([u8; 32], Region, Option<String>);

/// A key's digest: in memory only, never in any object.
type Digest = [u8; 32];

#[derive(Default)]
pub struct Identities {
    reached: Mutex<HashMap<Reach, Identity>>,
    /// The scopes SendGrid listed for each key, kept only from an answer that granted what the
    /// asking resource needed: a key found lacking is asked again on its next retry, so a scope
    /// added in SendGrid heals it.
    scopes: Mutex<HashMap<Digest, Vec<String>>>,
    /// The missing scopes last logged for each key, so a key is logged once, not per retry.
    warned: Mutex<HashMap<Digest, Vec<String>>>,
}

fn reach(account: &Account) -> Reach {
    (
        account.key.digest(),
        account.region,
        account.on_behalf_of.as_ref().map(|o| o.header_value()),
    )
}

fn hex(digest: &Digest) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Inserts into a map bounded by [`MAX_ENTRIES`].
fn bounded_insert<K: std::hash::Hash + Eq, V>(map: &Mutex<HashMap<K, V>>, key: K, value: V) {
    let mut entries = lock(map);
    if entries.len() >= MAX_ENTRIES {
        entries.clear();
    }
    entries.insert(key, value);
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Identities {
    /// The identity SendGrid gave for this account's key, region and on-behalf-of, if known.
    pub fn get(&self, account: &Account) -> Option<Identity> {
        lock(&self.reached).get(&reach(account)).cloned()
    }

    pub fn remember(&self, account: &Account, identity: &Identity) {
        bounded_insert(&self.reached, reach(account), identity.clone());
    }

    /// The name of the turn (see `turns`) that makes concurrent first reads of one key and
    /// account one read. In memory only, like the digest it is made of.
    pub fn turn(&self, account: &Account) -> String {
        let (digest, region, on_behalf_of) = reach(account);
        format!(
            "identity/{}/{}/{}",
            hex(&digest),
            region.as_str(),
            on_behalf_of.unwrap_or_default()
        )
    }

    /// `key` is known to reach `target` (with the target's region and on-behalf-of).
    pub fn reaches(&self, key: &ApiKey, target: &TargetAccount) -> bool {
        Account::at(target, key.clone()).is_ok_and(|account| {
            self.get(&account)
                .is_some_and(|identity| identity.user_id == target.user_id)
        })
    }

    /// The scopes SendGrid last granted `key`, if kept.
    pub fn scopes(&self, key: &ApiKey) -> Option<Vec<String>> {
        lock(&self.scopes).get(&key.digest()).cloned()
    }

    /// Keeps SendGrid's list of `key`'s scopes (an answer that granted what was needed).
    pub fn grant(&self, key: &ApiKey, scopes: Vec<String>) {
        lock(&self.warned).remove(&key.digest());
        bounded_insert(&self.scopes, key.digest(), scopes);
    }

    /// Whether `missing` is news for `key` (not the last set logged for it); notes it if so.
    pub fn newly_missing(&self, key: &ApiKey, missing: &[String]) -> bool {
        let digest = key.digest();
        if lock(&self.warned).get(&digest).map(Vec::as_slice) == Some(missing) {
            return false;
        }
        bounded_insert(&self.warned, digest, missing.to_vec());
        true
    }

    /// The name of the turn that makes concurrent first scopes reads of one key one read.
    pub fn scopes_turn(&self, key: &ApiKey) -> String {
        format!("scopes/{}", hex(&key.digest()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> ApiKey {
        ApiKey::new(text).unwrap()
    }

    #[test]
    fn scopes_are_kept_per_key_and_missing_ones_logged_once_per_set() {
        let ids = Identities::default();
        let (one, two) = (key("SG.key-one.0123456789"), key("SG.key-two.0123456789"));
        assert_eq!(ids.scopes(&one), None);
        ids.grant(&one, vec!["user.username.read".into()]);
        assert_eq!(ids.scopes(&one), Some(vec!["user.username.read".into()]));
        assert_eq!(ids.scopes(&two), None, "another key knows nothing");

        let update = vec!["user.settings.enforced_tls.update".to_string()];
        assert!(ids.newly_missing(&two, &update));
        assert!(!ids.newly_missing(&two, &update), "the same set again");
        assert!(ids.newly_missing(&two, &[]), "another set is news");
        assert!(ids.newly_missing(&two, &update));
        // Once granted, a later lack is news again.
        ids.grant(&two, Vec::new());
        assert!(ids.newly_missing(&two, &update));
    }
}
