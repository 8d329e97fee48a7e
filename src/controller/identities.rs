//! Whose account each key reaches, as SendGrid said (`GET /v3/user/username`), in memory only:
//! read once per distinct key, region and on-behalf-of, so the steady state makes no identity
//! request. Across restarts, `status.target` with the Secret's resourceVersion stands in.

use crate::api::{Region, TargetAccount};
use crate::sendgrid::{Account, ApiKey, Identity};
use std::collections::HashMap;
use std::sync::Mutex;

/// At most this many identities are kept; past it the cache starts afresh (each identity costs
/// one request to learn again).
const MAX_ENTRIES: usize = 100_000;

/// Key digest, region and on-behalf-of header value.
type Reach = ([u8; 32], Region, Option<String>);

#[derive(Default)]
pub struct Identities(Mutex<HashMap<Reach, Identity>>);

fn reach(account: &Account) -> Reach {
    (
        account.key.digest(),
        account.region,
        account.on_behalf_of.as_ref().map(|o| o.header_value()),
    )
}

impl Identities {
    /// The identity SendGrid gave for this account's key, region and on-behalf-of, if known.
    pub fn get(&self, account: &Account) -> Option<Identity> {
        self.lock().get(&reach(account)).cloned()
    }

    pub fn remember(&self, account: &Account, identity: &Identity) {
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(reach(account), identity.clone());
    }

    /// The name of the turn (see `turns`) that makes concurrent first reads of one key and
    /// account one read. In memory only, like the digest it is made of.
    pub fn turn(&self, account: &Account) -> String {
        let (digest, region, on_behalf_of) = reach(account);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        format!(
            "identity/{hex}/{}/{}",
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

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Reach, Identity>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}
