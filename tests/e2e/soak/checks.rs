//! The invariants, checked after every step over what the step did (its window: the
//! simulator's requests, the SendGridTarget versions, the resources before and after) and over
//! the settled state at its end.

use super::history::Version;
use super::tap::Sent;
use super::world::{
    Account, CLEANUP_TIMEOUT, DELETION_SLACK, KEYS, World, current_condition, id, is_paused,
};
use crate::env::is_ready;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::{Duration, SystemTime};

/// The managed fields: spec name, SendGrid's name, SendGrid's default.
const FIELDS: [(&str, &str, &str); 3] = [
    ("requireTls", "require_tls", "false"),
    ("requireValidCert", "require_valid_cert", "false"),
    ("minimumTlsVersion", "version", "1.1"),
];
/// Synced reasons of a resource that has no usable key.
const KEY_FAILURES: [&str; 5] = [
    "SecretNotFound",
    "SecretKeyNotFound",
    "SecretKeyInvalid",
    "SecretForbidden",
    "Unauthorized",
];
/// The shortest piece of a key that must never appear.
const PIECE: usize = 8;

#[derive(Debug)]
pub struct Violation {
    pub invariant: &'static str,
    pub evidence: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.invariant, self.evidence)
    }
}

fn violation(invariant: &'static str, evidence: String) -> Violation {
    Violation {
        invariant,
        evidence,
    }
}

/// What one step did.
pub struct Window<'a> {
    pub world: &'a World,
    pub from: SystemTime,
    pub to: SystemTime,
    pub before: &'a [Value],
    pub after: &'a [Value],
    pub versions: &'a [Version],
}

impl Window<'_> {
    /// The resources at the start or the end of the step (a deleted one is only in `before`).
    fn resources(&self) -> impl Iterator<Item = &Value> {
        self.before.iter().chain(self.after)
    }

    fn on(&self, account: &Account) -> impl Iterator<Item = &Value> {
        self.resources().filter(move |o| {
            self.world
                .account_of_spec(&o["spec"])
                .is_some_and(|a| a.user_id == account.user_id)
        })
    }

    /// The versions of `account`'s SendGridTarget during the step: the one it started with and
    /// every one seen until its end.
    fn target(&self, account: &Account) -> Vec<&Version> {
        let name = account.target_name();
        let of: Vec<&Version> = self.versions.iter().filter(|v| v.name == name).collect();
        let start = of.iter().rposition(|v| v.at < self.from).unwrap_or(0);
        of[start..]
            .iter()
            .copied()
            .filter(|v| v.at <= self.to)
            .collect()
    }

    /// Every value `account`'s `field` had in SendGrid from `from` to `to` (the one at `from`,
    /// then each PATCH that landed).
    fn sendgrid_values(
        &self,
        account: &Account,
        (wire, default): (&str, &str),
        from: SystemTime,
        to: SystemTime,
    ) -> BTreeSet<String> {
        let landed: Vec<(SystemTime, String)> = self
            .world
            .ledger
            .all()
            .iter()
            .filter(|r| r.method == "PATCH" && r.status == 200)
            .filter(|r| r.on_behalf_of.as_deref() == account.subuser)
            .filter_map(|r| Some((r.at, norm(&r.body.as_ref()?[wire])?)))
            .collect();
        let at_start = landed
            .iter()
            .rev()
            .find(|(at, _)| *at <= from)
            .map_or(default.to_string(), |(_, v)| v.clone());
        let mut values: BTreeSet<String> = landed
            .into_iter()
            .filter(|(at, _)| *at > from && *at <= to)
            .map(|(_, v)| v)
            .collect();
        values.insert(at_start);
        values
    }
}

/// A field's value as text: `true`, `1.2` (SendGrid's numbers and the spec's strings alike).
fn norm(value: &Value) -> Option<String> {
    match value {
        Value::Bool(b) => Some(b.to_string()),
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => n.as_f64().map(|f| format!("{f:.1}")),
        _ => None,
    }
}

/// Whether SendGrid's `actual` is at least as strict as `declared`.
fn at_least(actual: Option<&str>, declared: &str) -> bool {
    match declared {
        "false" => true,
        "true" => actual == Some("true"),
        version => actual.is_some_and(|a| a >= version),
    }
}

fn field_set(versions: &[&Version], field: &str, part: &str) -> BTreeSet<String> {
    versions
        .iter()
        .filter_map(|v| v.spec.as_ref())
        .flat_map(|spec| {
            let part = &spec["fields"][field][part];
            match part {
                Value::Array(items) => items.iter().filter_map(norm).collect::<Vec<_>>(),
                other => norm(other).into_iter().collect(),
            }
        })
        .collect()
}

/// Invariant 1: every PATCH field sets what a live holder of it declares, or puts back (the recorded
/// original, or SendGrid's default) a field some resource held during the step.
pub fn patches_justified(w: &Window) -> Vec<Violation> {
    let mut found = Vec::new();
    for r in w.world.ledger.between(w.from, w.to) {
        if r.method != "PATCH" {
            continue;
        }
        let Some(account) = w.world.account_of_subuser(r.on_behalf_of.as_deref()) else {
            found.push(violation(
                "1 justified PATCH",
                format!(
                    "PATCH to on-behalf-of {:?}, which no resource names",
                    r.on_behalf_of
                ),
            ));
            continue;
        };
        let target = w.target(account);
        for (field, wire, default) in FIELDS {
            let Some(value) = r.body.as_ref().and_then(|b| norm(&b[wire])) else {
                continue;
            };
            let held = field_set(&target, field, "holders");
            let declaring: BTreeSet<String> = w
                .on(account)
                .filter(|o| o["spec"]["mode"] != "Observe")
                .filter(|o| norm(&o["spec"][field]).as_deref() == Some(value.as_str()))
                .map(id)
                .collect();
            let originals = field_set(&target, field, "original");
            let applies = declaring.iter().any(|d| held.contains(d));
            let puts_back = !held.is_empty() && (originals.contains(&value) || value == default);
            if !applies && !puts_back {
                found.push(violation(
                    "1 justified PATCH",
                    format!(
                        "PATCH {} (answered {}) at {} on {account}: {field}={value}, but no holder declares it and it is no put-back; declaring it: {declaring:?}; holders of {field} seen in {}: {held:?}; originals recorded: {originals:?}",
                        r.body.as_ref().map_or(String::new(), Value::to_string),
                        r.status,
                        time(r.at),
                        account.target_name(),
                    ),
                ));
            }
        }
    }
    found
}

/// Pause: no SendGrid call for an account whose every resource was paused all step (and none
/// for an account no resource names or records).
pub fn paused_make_no_calls(w: &Window) -> Vec<Violation> {
    let mut found = Vec::new();
    let mut reported = BTreeSet::new();
    for r in w.world.ledger.between(w.from, w.to) {
        if !(r.path.ends_with("enforced_tls") || r.path.ends_with("username")) {
            continue;
        }
        let Some(account) = w.world.account_of_subuser(r.on_behalf_of.as_deref()) else {
            continue;
        };
        // Resources that aim at the account, or still record it (a retarget lets the old
        // account go with the resource's current key: a call on the account it left).
        let recording = w
            .resources()
            .filter(|o| o["status"]["target"]["userId"] == account.user_id);
        let callers: Vec<String> = w
            .on(account)
            .chain(recording)
            .filter(|o| !is_paused(o))
            .map(id)
            .collect();
        if callers.is_empty() && reported.insert(account.user_id) {
            let paused: BTreeSet<String> = w.on(account).map(id).collect();
            found.push(violation(
                "pause makes no call",
                format!(
                    "{} {} at {} on {account}, whose resources were all paused (or none): {paused:?}; the operators logged: {:?}",
                    r.method,
                    r.path,
                    time(r.at),
                    w.world.exchanges_near(r.at)
                ),
            ));
        }
    }
    found
}

/// Invariants 2 and 5: never weaker than a live, unpaused Enforce resource that is not in Conflict (and has
/// applied) declares; Ready=True only when SendGrid matches the spec; status.target names
/// the account the spec aims at.
pub fn settled_state(w: &Window) -> Vec<Violation> {
    let mut found = Vec::new();
    for object in w.after {
        if !object["metadata"]["deletionTimestamp"].is_null() || is_paused(object) {
            continue;
        }
        let spec = &object["spec"];
        let Some(account) = w.world.account_of_spec(spec) else {
            continue;
        };
        let who = id(object);
        // Without its Secret a resource cannot read the new target's identity yet.
        let synced = current_condition(object, "Synced").is_some_and(|c| c["status"] == "True");
        let user_id = &object["status"]["target"]["userId"];
        if synced && !user_id.is_null() && *user_id != account.user_id {
            found.push(violation(
                "status.target",
                format!(
                    "{who} aims at {account} but status.target is {}",
                    object["status"]["target"]
                ),
            ));
        }
        let sendgrid = w.world.sendgrid(account);
        let declared: Vec<(&str, String)> = FIELDS
            .iter()
            .filter_map(|(f, _, _)| Some((*f, norm(&spec[*f])?)))
            .collect();
        if is_ready(object) {
            for (field, value) in &declared {
                if norm(&sendgrid[*field]).as_deref() != Some(value.as_str()) {
                    found.push(violation(
                        "5 Ready only in sync",
                        format!(
                            "{who} is Ready=True with {field}={value}, SendGrid {account} holds {sendgrid}"
                        ),
                    ));
                }
            }
        }
        let reason = current_condition(object, "Ready").and_then(|c| c["reason"].as_str());
        let applies = spec["mode"] != "Observe"
            && reason.is_some_and(|r| !["Conflict", "Pending"].contains(&r));
        if applies {
            for (field, value) in &declared {
                if !at_least(norm(&sendgrid[*field]).as_deref(), value) {
                    found.push(violation(
                        "2 never weaker",
                        format!(
                            "{who} (Enforce, Ready reason {reason:?}) declares {field}={value}, SendGrid {account} holds {sendgrid}"
                        ),
                    ));
                }
            }
        }
    }
    found
}

/// Conflict only while a live holder disagrees: the resources in Conflict whose fields no other
/// resource holds with another value (per the account's SendGridTarget and the holders' specs),
/// with the evidence. Stale for a moment is allowed (a loser is reconciled when its holder
/// goes); the caller reports those that stay stale.
pub fn stale_conflicts(w: &Window) -> BTreeMap<String, String> {
    let mut stale = BTreeMap::new();
    for object in w.after {
        let reason = current_condition(object, "Ready").and_then(|c| c["reason"].as_str());
        if reason != Some("Conflict") || is_paused(object) {
            continue;
        }
        // A loser that cannot read its key cannot tell whose account it is on, so cannot judge
        // again: its Ready stays the last judgement (a key failure leaves Ready as it was).
        let synced = current_condition(object, "Synced").and_then(|c| c["reason"].as_str());
        if synced.is_some_and(|r| KEY_FAILURES.contains(&r)) {
            continue;
        }
        let who = id(object);
        let spec = &object["spec"];
        let Some(account) = w.world.account_of_spec(spec) else {
            continue;
        };
        let record = w
            .versions
            .iter()
            .rev()
            .find(|v| v.name == account.target_name())
            .and_then(|v| v.spec.as_ref());
        let disagrees = |field: &str, value: &str| {
            let holders: Vec<&str> = record
                .and_then(|r| r["fields"][field]["holders"].as_array())
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            holders.iter().filter(|h| **h != who).any(|h| {
                w.after
                    .iter()
                    .find(|o| id(o) == **h)
                    .is_some_and(|o| norm(&o["spec"][field]).as_deref() != Some(value))
            })
        };
        let conflicting = FIELDS
            .iter()
            .any(|(field, _, _)| norm(&spec[*field]).is_some_and(|value| disagrees(field, &value)));
        if !conflicting {
            stale.insert(
                who.clone(),
                format!(
                    "{who} is Ready=False Conflict ({}), but no live holder on {account} disagrees; record {}",
                    current_condition(object, "Ready").map_or(Value::Null, |c| c["message"].clone()),
                    record.map_or(Value::Null, |r| r["fields"].clone())
                ),
            );
        }
    }
    stale
}

/// A key rotation (another key of the same account in the Secret) puts nothing back and
/// changes nothing: no PATCH in a step that only rotated a key, the rest being settled.
pub fn rotation_writes_nothing(w: &Window) -> Vec<Violation> {
    w.world
        .ledger
        .between(w.from, w.to)
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .map(|r| {
            violation(
                "rotation puts nothing back",
                format!(
                    "PATCH {} (on-behalf-of {:?}) at {} in a step that only rotated a key",
                    r.body.as_ref().map_or(String::new(), Value::to_string),
                    r.on_behalf_of,
                    time(r.at)
                ),
            )
        })
        .collect()
}

/// Invariant 3: a field's original never changes while its entry exists, and is, when the entry is
/// made, a value SendGrid held then (so never one only the operator wrote since).
pub fn originals_intact(w: &Window) -> Vec<Violation> {
    let mut found = Vec::new();
    let mut by_name: BTreeMap<&str, Vec<&Version>> = BTreeMap::new();
    for v in w.versions.iter().filter(|v| v.at <= w.to) {
        by_name.entry(&v.name).or_default().push(v);
    }
    for (name, versions) in by_name {
        let account = w.world.accounts.iter().find(|a| a.target_name() == name);
        for (i, current) in versions.iter().enumerate() {
            let Some(spec) = current.spec.as_ref().filter(|_| current.at >= w.from) else {
                continue;
            };
            let previous = i.checked_sub(1).map(|p| versions[p]);
            for (field, wire, default) in FIELDS {
                let entry = &spec["fields"][field];
                if entry.is_null() {
                    continue;
                }
                let before = previous
                    .filter(|p| p.uid == current.uid)
                    .and_then(|p| p.spec.as_ref())
                    .map(|s| &s["fields"][field])
                    .filter(|e| !e.is_null());
                if let Some(before) = before {
                    if before["original"] != entry["original"] {
                        found.push(violation(
                            "3 originals intact",
                            format!(
                                "{name} {field}: original {} became {} at {} (entry now {entry})",
                                before["original"],
                                entry["original"],
                                time(current.at)
                            ),
                        ));
                    }
                    continue;
                }
                let Some(account) = account else {
                    found.push(violation(
                        "3 originals intact",
                        format!("{name} is the SendGridTarget of no account the soak uses"),
                    ));
                    continue;
                };
                let Some(original) = norm(&entry["original"]) else {
                    continue;
                };
                // The watch sees a version a moment after it was written.
                let since = previous.map_or(w.world.started, |p| p.at) - Duration::from_secs(2);
                let held = w.sendgrid_values(account, (wire, default), since, current.at);
                if !held.contains(&original) {
                    found.push(violation(
                        "3 originals intact",
                        format!(
                            "{name} {field}: original {original} recorded at {}, but SendGrid held only {held:?} since {} (entry {entry})",
                            time(current.at),
                            time(since)
                        ),
                    ));
                }
            }
        }
    }
    found
}

/// Invariant 4, one writer at a time: every SendGrid request a process sent, it sent while it held the
/// Lease (as the harness's watch saw it, allowing the watch `LAG` to show an acquisition).
pub struct Writers {
    checked: usize,
    pub per_process: BTreeMap<String, usize>,
}

const LAG: Duration = Duration::from_secs(2);

impl Writers {
    pub fn new() -> Writers {
        Writers {
            checked: 0,
            per_process: BTreeMap::new(),
        }
    }

    /// Checks the requests sent up to `LAG` ago (all of them when `all`).
    pub fn check(
        &mut self,
        sends: &[Sent],
        leases: &[Version],
        signals: &[(SystemTime, String)],
        all: bool,
    ) -> Vec<Violation> {
        let holder_at = |t: SystemTime| {
            leases
                .iter()
                .rev()
                .find(|v| v.at <= t)
                .and_then(|v| v.spec.as_ref())
                .and_then(|s| s["holderIdentity"].as_str())
        };
        let horizon = SystemTime::now() - LAG;
        let mut found = Vec::new();
        for sent in &sends[self.checked..] {
            if !all && sent.at > horizon {
                break;
            }
            self.checked += 1;
            if sent.line.is_empty() {
                continue;
            }
            *self.per_process.entry(sent.process.clone()).or_default() += 1;
            let mine = |t| holder_at(t) == Some(sent.process.as_str());
            if !mine(sent.at) && !mine(sent.at + LAG) {
                found.push(violation(
                    "4 one writer",
                    format!(
                        "{} sent `{}` at {} while the Lease was held by {:?}; the last signals before: {:?}",
                        sent.process,
                        sent.line,
                        time(sent.at),
                        holder_at(sent.at),
                        signals
                            .iter()
                            .filter(|(at, _)| *at <= sent.at)
                            .rev()
                            .take(3)
                            .map(|(at, what)| format!("{} {what}", time(*at)))
                            .collect::<Vec<_>>()
                    ),
                ));
            }
        }
        found
    }
}

/// Invariant 6, deletions end: nothing stays marked for deletion past the cleanup timeout and slack.
pub fn deletions_end(w: &Window) -> Vec<Violation> {
    let bound = CLEANUP_TIMEOUT + DELETION_SLACK;
    w.after
        .iter()
        .filter_map(|o| {
            let since: k8s_openapi::jiff::Timestamp =
                o["metadata"]["deletionTimestamp"].as_str()?.parse().ok()?;
            let age = k8s_openapi::jiff::Timestamp::now().duration_since(since);
            (age.as_secs() > bound.as_secs() as i64).then(|| {
                violation(
                    "6 deletions end",
                    format!(
                        "{} marked for deletion {}s ago (bound {bound:?}), finalizers {}: {}",
                        id(o),
                        age.as_secs(),
                        o["metadata"]["finalizers"],
                        o["status"]
                    ),
                )
            })
        })
        .collect()
}

/// Invariant 7: no piece of a key (8 characters or more) in `text`; the evidence names where the piece
/// came from without showing it.
pub fn key_pieces(place: &str, text: &str) -> Option<Violation> {
    for (k, key) in KEYS.iter().enumerate() {
        for at in 0..=key.len() - PIECE {
            let piece = &key[at..at + PIECE];
            if text.contains(piece) {
                let shown = text.replace(piece, "<piece>");
                return Some(violation(
                    "7 no key piece",
                    format!(
                        "characters {at}..{} of key #{k} in {place}: {}",
                        at + PIECE,
                        shown.chars().take(600).collect::<String>()
                    ),
                ));
            }
        }
    }
    None
}

pub fn time(at: SystemTime) -> String {
    k8s_openapi::jiff::Timestamp::try_from(at)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

#[test]
fn values_compare_by_strength() {
    assert!(at_least(Some("1.3"), "1.2") && !at_least(Some("1.1"), "1.2"));
    assert!(at_least(Some("false"), "false") && !at_least(Some("false"), "true"));
    assert_eq!(norm(&serde_json::json!(1.2)).as_deref(), Some("1.2"));
    assert!(key_pieces("a log", &format!("x{}y", &KEYS[1][5..14])).is_some());
    assert!(key_pieces("a log", "nothing here").is_none());
}
