//! The simulator's configuration types and its whole mutable state (keys, accounts, rate
//! windows, faults, request log). Pure: no I/O, no clock of its own (callers pass `now`).

use super::accounts::{Accounts, SimAccount, SimUser, Target};
use super::faults::{Fault, Faults};
use super::ratelimit::RateLimiter;
use super::settings::{Region, TlsSettings};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::time::SystemTime;

/// The oldest requests are forgotten beyond this many, so a long-running demo stays small.
const MAX_LOGGED: usize = 10_000;

/// An API key permission the simulator knows. JSON (`POST /_sim/keys`): the short names
/// `read`, `update`, `username` or SendGrid's own names.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Deserialize)]
pub enum Scope {
    /// `user.settings.enforced_tls.read`: GET the Enforced TLS settings.
    #[serde(rename = "read", alias = "user.settings.enforced_tls.read")]
    Read,
    /// `user.settings.enforced_tls.update`: PATCH them.
    #[serde(rename = "update", alias = "user.settings.enforced_tls.update")]
    Update,
    /// `user.username.read` ("User Account" read): `GET /v3/user/username`.
    #[serde(rename = "username", alias = "user.username.read")]
    UsernameRead,
}

impl Scope {
    /// What a key gets unless told otherwise: everything the operator needs.
    pub const ALL: [Scope; 3] = [Scope::Read, Scope::Update, Scope::UsernameRead];

    /// SendGrid's name of the scope, as `GET /v3/scopes` lists it.
    pub fn sendgrid_name(self) -> &'static str {
        match self {
            Scope::Read => "user.settings.enforced_tls.read",
            Scope::Update => "user.settings.enforced_tls.update",
            Scope::UsernameRead => "user.username.read",
        }
    }
}

/// A configured API key: which parent account it belongs to and its scopes.
///
/// JSON form (for `POST /_sim/keys`): `{"key":"SG.x","account":"main","scopes":["read"]}`;
/// `account` defaults to "main" and `scopes` to [`Scope::ALL`]. A second key of the same account
/// (a rotation) reaches the same accounts, with the same user ids. Debug shows only the key's
/// fingerprint.
#[derive(Clone, Deserialize)]
pub struct SimKey {
    pub key: String,
    #[serde(default = "main_account")]
    pub account: String,
    #[serde(default = "all_scopes")]
    pub scopes: Vec<Scope>,
}

fn main_account() -> String {
    "main".to_owned()
}

fn all_scopes() -> Vec<Scope> {
    Scope::ALL.to_vec()
}

impl fmt::Debug for SimKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimKey")
            .field("key", &fingerprint(&self.key))
            .field("account", &self.account)
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// Everything the simulator starts with. A key may name an account missing from `accounts`: it
/// then gets a parent account of that name without subusers.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub keys: Vec<SimKey>,
    pub accounts: Vec<SimAccount>,
    /// Requests per key per 60-second window; 600 by default, what the live API reports.
    pub rate_limit_per_minute: u32,
    /// The first user id given out (1001 by default). Simulators whose accounts meet in one
    /// cluster (tests sharing a control plane) need ids of their own, as real accounts have.
    pub first_user_id: u64,
}

impl Default for SimConfig {
    fn default() -> SimConfig {
        SimConfig {
            keys: Vec::new(),
            accounts: Vec::new(),
            rate_limit_per_minute: 600,
            first_user_id: super::accounts::FIRST_USER_ID,
        }
    }
}

impl SimConfig {
    /// One parent account "main" with the subusers and customer account the files in
    /// `examples/` name — "marketing-sub", "transactional-sub", "billing-sub" (global),
    /// "eu-sub", "eu-marketing-sub" (eu), customer account "1234567" — and the given keys with
    /// [`Scope::ALL`].
    pub fn with_keys(keys: &[&str]) -> SimConfig {
        SimConfig {
            keys: keys
                .iter()
                .map(|key| SimKey {
                    key: (*key).to_owned(),
                    account: main_account(),
                    scopes: all_scopes(),
                })
                .collect(),
            accounts: vec![SimAccount {
                name: main_account(),
                subusers: vec![
                    ("marketing-sub".to_owned(), Region::Global),
                    ("transactional-sub".to_owned(), Region::Global),
                    ("billing-sub".to_owned(), Region::Global),
                    ("eu-sub".to_owned(), Region::Eu),
                    ("eu-marketing-sub".to_owned(), Region::Eu),
                ],
                customer_accounts: vec!["1234567".to_owned()],
            }],
            ..SimConfig::default()
        }
    }
}

/// One request to the simulated SendGrid API, as the request log keeps it.
#[derive(Clone, Debug, Serialize)]
pub struct LoggedRequest {
    pub method: String,
    /// The host it was sent to: `/v3/...` is global, `/eu/v3/...` is EU.
    pub region: Region,
    pub path: String,
    pub on_behalf_of: Option<String>,
    /// "key-" and 6 hex digits of the presented key's SHA-256; never the key. `None` when no
    /// Bearer key was sent, or the value cannot be an API key at all.
    pub key_fingerprint: Option<String>,
    /// The JSON body (a string holding the raw text when it was not JSON).
    pub body: Option<serde_json::Value>,
    /// The status answered; 0 when the connection was dropped without a response.
    pub status: u16,
    /// When it arrived; JSON: RFC 3339 UTC with milliseconds, for people reading `/_sim/requests`.
    #[serde(serialize_with = "rfc3339")]
    pub at: SystemTime,
}

/// How many API requests got one answer, by everything the log keeps except body and time. The
/// counts are exact however many requests there were; the log keeps only the latest ones.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RequestCount {
    pub method: String,
    pub region: Region,
    /// As logged: `/v3/user/username`, `/eu/v3/user/settings/enforced_tls`, ...
    pub path: String,
    pub on_behalf_of: Option<String>,
    pub key_fingerprint: Option<String>,
    pub status: u16,
    pub count: u64,
}

/// What a [`RequestCount`] counts by.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct CountKey {
    method: String,
    region: Region,
    path: String,
    on_behalf_of: Option<String>,
    key_fingerprint: Option<String>,
    status: u16,
}

fn rfc3339<S: serde::Serializer>(at: &SystemTime, serializer: S) -> Result<S::Ok, S::Error> {
    let at = jiff::Timestamp::try_from(*at).map_err(serde::ser::Error::custom)?;
    serializer.collect_str(&format_args!("{at:.3}"))
}

/// The fingerprint the operator's client shows for the same key: "key-" and 6 hex digits of its
/// SHA-256. `None` for a value that is not shaped like a SendGrid key (`SG.<id>.<secret>`,
/// base64url parts), as the client fingerprints none: a short hash of some other secret sent by
/// mistake would help guess it.
pub fn fingerprint(key: &str) -> Option<String> {
    let key = key.trim();
    let base64url = |part: &str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let (id, secret) = key.strip_prefix("SG.")?.split_once('.')?;
    if !(base64url(id) && base64url(secret)) {
        return None;
    }
    let digest = Sha256::digest(key.as_bytes());
    Some(format!(
        "key-{:02x}{:02x}{:02x}",
        digest[0], digest[1], digest[2]
    ))
}

/// All mutable simulator state.
#[derive(Debug)]
pub struct SimState {
    pub(super) keys: HashMap<String, SimKey>,
    pub(super) accounts: Accounts,
    pub(super) limiter: RateLimiter,
    pub(super) faults: Faults,
    log: VecDeque<LoggedRequest>,
    counts: HashMap<CountKey, u64>,
}

impl SimState {
    pub fn new(config: SimConfig) -> SimState {
        let mut state = SimState {
            keys: HashMap::new(),
            accounts: Accounts::new(&config.accounts, config.first_user_id),
            limiter: RateLimiter::new(config.rate_limit_per_minute),
            faults: Faults::default(),
            log: VecDeque::new(),
            counts: HashMap::new(),
        };
        for key in config.keys {
            state.add_key(key);
        }
        state
    }

    /// Adds or replaces a key (creating its parent account if needed).
    pub fn add_key(&mut self, key: SimKey) {
        self.accounts.ensure(&key.account);
        self.keys.insert(key.key.clone(), key);
    }

    /// Adds subusers and customer accounts to a parent account (creating it if needed); ones
    /// that exist keep their settings.
    pub fn add_account(&mut self, account: &SimAccount) {
        self.accounts.add(account);
    }

    /// Revokes a key; false if it did not exist.
    pub fn remove_key(&mut self, key: &str) -> bool {
        self.keys.remove(key).is_some()
    }

    /// The stored settings of `account` (a parent) or of its subuser / `account-id <id>`
    /// customer account; `None` if there is no such account.
    pub fn settings(&mut self, account: &str, on_behalf_of: Option<&str>) -> Option<TlsSettings> {
        let user = self
            .accounts
            .get_mut(account, Target::parse(on_behalf_of))?;
        Some(user.stored.to_settings())
    }

    /// Username, user id and region of `account` (a parent) or of its subuser / `account-id
    /// <id>` customer account; `None` if there is no such account.
    pub fn user(&mut self, account: &str, on_behalf_of: Option<&str>) -> Option<SimUser> {
        let user = self
            .accounts
            .get_mut(account, Target::parse(on_behalf_of))?;
        Some(user.profile.clone())
    }

    /// A change made "in the UI": only the set fields change. Returns the new settings, or
    /// `None` if there is no such account.
    pub fn set_from_ui(
        &mut self,
        account: &str,
        on_behalf_of: Option<&str>,
        changes: TlsSettings,
    ) -> Option<TlsSettings> {
        let stored = &mut self
            .accounts
            .get_mut(account, Target::parse(on_behalf_of))?
            .stored;
        stored.apply(changes);
        Some(stored.to_settings())
    }

    pub fn inject(&mut self, fault: Fault) {
        self.faults.inject(fault);
    }

    pub fn clear_faults(&mut self) {
        self.faults.clear();
    }

    pub fn latency(&self, patch: bool) -> Option<std::time::Duration> {
        self.faults.latency(patch)
    }

    pub fn record(&mut self, request: LoggedRequest) {
        let key = CountKey {
            method: request.method.clone(),
            region: request.region,
            path: request.path.clone(),
            on_behalf_of: request.on_behalf_of.clone(),
            key_fingerprint: request.key_fingerprint.clone(),
            status: request.status,
        };
        *self.counts.entry(key).or_default() += 1;
        if self.log.len() == MAX_LOGGED {
            self.log.pop_front();
        }
        self.log.push_back(request);
    }

    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.log.iter().cloned().collect()
    }

    /// Exact request counts since the start (or the last clear), in a stable order.
    pub fn counts(&self) -> Vec<RequestCount> {
        let mut counts: Vec<RequestCount> = self
            .counts
            .iter()
            .map(|(key, count)| RequestCount {
                method: key.method.clone(),
                region: key.region,
                path: key.path.clone(),
                on_behalf_of: key.on_behalf_of.clone(),
                key_fingerprint: key.key_fingerprint.clone(),
                status: key.status,
                count: *count,
            })
            .collect();
        type Order<'a> = (
            &'a Option<String>,
            &'a Option<String>,
            &'a str,
            &'a str,
            u16,
        );
        fn order(c: &RequestCount) -> Order<'_> {
            (
                &c.on_behalf_of,
                &c.key_fingerprint,
                &c.path,
                &c.method,
                c.status,
            )
        }
        counts.sort_by(|a, b| order(a).cmp(&order(b)));
        counts
    }

    /// Clears the log and the counts.
    pub fn clear_requests(&mut self) {
        self.log.clear();
        self.counts.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TlsVersion;
    use std::time::UNIX_EPOCH;

    #[test]
    fn with_keys_builds_the_documented_accounts() {
        let mut state = SimState::new(SimConfig::with_keys(&["SG.one", "SG.two"]));
        assert_eq!(state.keys.len(), 2);
        assert_eq!(state.keys["SG.one"].scopes, Scope::ALL);
        for target in [
            None,
            Some("marketing-sub"),
            Some("eu-sub"),
            Some("account-id 1234567"),
        ] {
            assert_eq!(
                state.settings("main", target),
                Some(TlsSettings::SENDGRID_DEFAULTS),
                "{target:?}"
            );
        }
        assert_eq!(state.settings("main", Some("ghost")), None);
        assert_eq!(state.settings("ghost", None), None);
    }

    #[test]
    fn set_from_ui_changes_only_given_fields_of_one_target() {
        let mut state = SimState::new(SimConfig::with_keys(&[]));
        let changed = state.set_from_ui(
            "main",
            Some("marketing-sub"),
            TlsSettings {
                minimum_tls_version: Some(TlsVersion::V1_3),
                ..TlsSettings::default()
            },
        );
        assert_eq!(
            changed.and_then(|s| s.minimum_tls_version),
            Some(TlsVersion::V1_3)
        );
        assert_eq!(
            state.settings("main", Some("marketing-sub")),
            Some(TlsSettings {
                minimum_tls_version: Some(TlsVersion::V1_3),
                ..TlsSettings::SENDGRID_DEFAULTS
            })
        );
        assert_eq!(
            state.settings("main", None),
            Some(TlsSettings::SENDGRID_DEFAULTS)
        );
        assert_eq!(
            state.set_from_ui("main", Some("ghost"), TlsSettings::SENDGRID_DEFAULTS),
            None
        );
    }

    #[test]
    fn fleets_come_from_patterns_and_can_be_added_later() {
        let none: &[&str] = &[];
        let account =
            SimAccount::fleet("main", &["team-{0..1}"], &["eu-{8..9}"], &["{100..101}"]).unwrap();
        let subusers: Vec<(&str, Region)> = account
            .subusers
            .iter()
            .map(|(name, region)| (name.as_str(), *region))
            .collect();
        assert_eq!(
            subusers,
            [
                ("team-0", Region::Global),
                ("team-1", Region::Global),
                ("eu-8", Region::Eu),
                ("eu-9", Region::Eu)
            ]
        );
        assert_eq!(account.customer_accounts, ["100", "101"]);
        let error = SimAccount::fleet("main", &["x{3..1}"], none, none).unwrap_err();
        assert!(error.contains("x{3..1}"), "{error}");

        let mut state = SimState::new(SimConfig::with_keys(&[]));
        assert_eq!(state.settings("main", Some("team-1")), None);
        state.add_account(&account);
        state.add_account(&SimAccount::fleet("other", &["solo"], none, none).unwrap());
        for (account, target) in [
            ("main", Some("team-1")),
            ("main", Some("eu-9")),
            ("main", Some("account-id 101")),
            ("main", Some("marketing-sub")),
            ("other", Some("solo")),
        ] {
            assert_eq!(
                state.settings(account, target),
                Some(TlsSettings::SENDGRID_DEFAULTS),
                "{account} {target:?}"
            );
        }
    }

    #[test]
    fn keys_can_be_added_replaced_and_removed() {
        let mut state = SimState::new(SimConfig::default());
        state.add_key(SimKey {
            key: "SG.k".into(),
            account: "other".into(),
            scopes: vec![Scope::Read],
        });
        assert_eq!(
            state.settings("other", None),
            Some(TlsSettings::SENDGRID_DEFAULTS)
        );
        state.add_key(SimKey {
            key: "SG.k".into(),
            account: "other".into(),
            scopes: vec![],
        });
        assert!(state.keys["SG.k"].scopes.is_empty());
        assert!(state.remove_key("SG.k"));
        assert!(!state.remove_key("SG.k"));
    }

    #[test]
    fn key_json_defaults_and_debug_hides_the_key() {
        let key: SimKey = serde_json::from_str(r#"{"key":"SG.secret.value"}"#).unwrap();
        assert_eq!(
            (key.account.as_str(), key.scopes),
            ("main", Scope::ALL.to_vec())
        );
        let key: SimKey = serde_json::from_str(
            r#"{"key":"SG.k.v","scopes":["read","user.settings.enforced_tls.update","user.username.read"]}"#,
        )
        .unwrap();
        assert_eq!(key.scopes, Scope::ALL);
        let names: Vec<&str> = Scope::ALL.iter().map(|s| s.sendgrid_name()).collect();
        assert_eq!(
            names,
            [
                "user.settings.enforced_tls.read",
                "user.settings.enforced_tls.update",
                "user.username.read"
            ]
        );
        let shown = format!("{key:?} {:?}", SimConfig::with_keys(&["SG.secret.value"]));
        assert!(!shown.contains("SG.secret.value"), "{shown}");
        assert!(shown.contains(&fingerprint("SG.secret.value").unwrap()));
    }

    #[test]
    fn fingerprints_match_the_client() {
        // `printf SG.test.key | sha256sum` starts with a40d57, as in the client's own test.
        assert_eq!(fingerprint("SG.test.key").as_deref(), Some("key-a40d57"));
        assert_eq!(fingerprint(" SG.test.key\n").as_deref(), Some("key-a40d57"));
        assert_eq!(fingerprint(""), None);
        for not_a_key in [
            "SG.test",
            "SG..key",
            "SG.a b.c",
            "hunter2",
            "Bearer SG.test.key",
        ] {
            assert_eq!(fingerprint(not_a_key), None, "{not_a_key}");
        }
    }

    #[test]
    fn the_log_is_bounded() {
        let mut state = SimState::new(SimConfig::default());
        for status in 0..=MAX_LOGGED {
            state.record(LoggedRequest {
                method: "GET".into(),
                region: Region::Global,
                path: "/".into(),
                on_behalf_of: None,
                key_fingerprint: None,
                body: None,
                status: (status % 600) as u16,
                at: UNIX_EPOCH,
            });
        }
        let log = state.requests();
        assert_eq!(log.len(), MAX_LOGGED);
        // The counts stay exact past the log's bound.
        let counted: u64 = state.counts().iter().map(|c| c.count).sum();
        assert_eq!(counted, MAX_LOGGED as u64 + 1);
        assert_eq!(state.counts().len(), 600);
        assert_eq!(
            serde_json::to_value(&log[0]).unwrap()["at"],
            "1970-01-01T00:00:00.000Z"
        );
        assert_eq!(log[0].status, 1);
        state.clear_requests();
        assert!(state.requests().is_empty());
        assert!(state.counts().is_empty());
    }
}
