//! Claims on an account's fields, decided without I/O, against the account's `SendGridTarget`
//! record: who holds each field, what the operator wrote, and the original.
//!
//! - The first resource to record a field holds it; one that declares the same value shares it;
//!   one that declares another value while a live resource holds it is in `Conflict`: it holds
//!   nothing on that account, and sends nothing. A holder whose spec now declares the same value
//!   (or no longer declares the field) does not block it, even before that holder could act on
//!   its edit (its key missing, say): the holders' specs are what is agreed, not the last write.
//! - A field whose holders are all gone keeps its original: the next resource inherits it, so the
//!   operator's own write is never anyone's original.
//! - Letting a field go ([`release`]: deletion, a move to another account, a field no longer
//!   declared) puts it back only when no other live holder declares it, only if the operator
//!   ever changed it, and only while SendGrid still shows what the operator wrote.

use crate::api::{DeletionPolicy, FieldClaim, TargetFields, TlsSettings, TlsVersion};
use std::collections::BTreeMap;
use std::fmt::Display;

/// The resource that claims (`namespace/name`), the holders known to be gone, and what the
/// other holders' specs declare now.
#[derive(Debug, Clone, Copy)]
pub struct Claimant<'a> {
    pub id: &'a str,
    /// Holders confirmed deleted: they are dropped from the record.
    pub gone: &'a [String],
    /// The managed fields of other holders' specs, by `namespace/name`, as the API server has
    /// them. A holder not in it (not found, not readable) counts as disagreeing.
    pub declared: &'a BTreeMap<String, TlsSettings>,
}

/// What claiming a spec's fields on an account comes to.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// A live resource holds a field with another value: this one holds nothing here and sends
    /// nothing. `record` drops it (and gone holders) from the record, if that changes anything.
    Conflict {
        holder: String,
        fields: Vec<&'static str>,
        record: Option<TargetFields>,
    },
    /// This resource holds every field it declares.
    Held(Letting),
}

/// A change to an account: the record to write (compare-and-swap) before any PATCH, the PATCH,
/// and what was left as is.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Letting {
    /// The record as it must be before the PATCH; `None` when it stays as it is.
    pub record: Option<TargetFields>,
    /// The fields to send: declared ones SendGrid does not show, and ones put back.
    pub changes: TlsSettings,
    /// The fields put back, a subset of `changes`.
    pub put_back: TlsSettings,
    /// Fields let go that were not put back, and why (for the Warning).
    pub left: Vec<String>,
}

/// Claims the fields `wanted` declares and lets go of the ones it held and no longer declares
/// (put back as `policy` says), given what SendGrid shows now (`seen`).
pub fn claim(
    record: &TargetFields,
    me: Claimant,
    wanted: &TlsSettings,
    policy: DeletionPolicy,
    seen: &TlsSettings,
) -> Claim {
    let mut next = swept(record, me);
    let mut out = Letting::default();
    let mut conflicts = Vec::new();
    let mut holder = None;
    let mut take = |name: &'static str, conflict: Option<String>| {
        if let Some(other) = conflict {
            conflicts.push(name);
            holder.get_or_insert(other);
        }
    };
    take(
        "requireTls",
        step(
            &mut next.require_tls,
            me.id,
            wanted.require_tls,
            seen.require_tls,
            policy,
            TlsSettings::SENDGRID_DEFAULTS.require_tls,
            &|holder| me.declared.get(holder).map(|d| d.require_tls),
            &mut out,
            |s, v| s.require_tls = Some(v),
            "requireTls",
        ),
    );
    take(
        "requireValidCert",
        step(
            &mut next.require_valid_cert,
            me.id,
            wanted.require_valid_cert,
            seen.require_valid_cert,
            policy,
            TlsSettings::SENDGRID_DEFAULTS.require_valid_cert,
            &|holder| me.declared.get(holder).map(|d| d.require_valid_cert),
            &mut out,
            |s, v| s.require_valid_cert = Some(v),
            "requireValidCert",
        ),
    );
    take(
        "minimumTlsVersion",
        step(
            &mut next.minimum_tls_version,
            me.id,
            wanted.minimum_tls_version,
            seen.minimum_tls_version,
            policy,
            TlsSettings::SENDGRID_DEFAULTS.minimum_tls_version,
            &|holder| me.declared.get(holder).map(|d| d.minimum_tls_version),
            &mut out,
            |s, v: TlsVersion| s.minimum_tls_version = Some(v),
            "minimumTlsVersion",
        ),
    );
    if let Some(holder) = holder {
        // All or nothing: in conflict it holds nothing here, and nothing is put back.
        let released = release(record, me, DeletionPolicy::Orphan, seen);
        return Claim::Conflict {
            holder,
            fields: conflicts,
            record: released.record,
        };
    }
    out.record = (next != *record).then_some(next);
    Claim::Held(out)
}

/// Lets go of every field `me` holds on the account (deletion, or a move to another account),
/// putting back as `policy` says. `DeletionPolicy::Orphan` only drops the claim, with no write
/// to SendGrid: also what a paused resource, or one without a key, does.
pub fn release(
    record: &TargetFields,
    me: Claimant,
    policy: DeletionPolicy,
    seen: &TlsSettings,
) -> Letting {
    match claim(record, me, &TlsSettings::default(), policy, seen) {
        Claim::Held(letting) => letting,
        Claim::Conflict { .. } => unreachable!("declaring nothing conflicts with no one"),
    }
}

/// `record`, with the originals an older operator kept in a resource's `status.original` for the
/// declared fields the record has no entry for (unheld: the claim then inherits them), so that
/// an upgrade never takes the operator's own earlier write for the original.
pub fn seeded(
    record: &TargetFields,
    wanted: &TlsSettings,
    legacy: Option<&TlsSettings>,
) -> TargetFields {
    let Some(legacy) = legacy else {
        return record.clone();
    };
    fn seed<T: Copy>(entry: &mut Option<FieldClaim<T>>, wanted: Option<T>, original: Option<T>) {
        if let (None, Some(want), Some(original)) = (&entry, wanted, original) {
            *entry = Some(FieldClaim {
                original: Some(original),
                written: want,
                holders: Vec::new(),
            });
        }
    }
    let mut next = record.clone();
    seed(
        &mut next.require_tls,
        wanted.require_tls,
        legacy.require_tls,
    );
    seed(
        &mut next.require_valid_cert,
        wanted.require_valid_cert,
        legacy.require_valid_cert,
    );
    seed(
        &mut next.minimum_tls_version,
        wanted.minimum_tls_version,
        legacy.minimum_tls_version,
    );
    next
}

/// `record` without the holders known to be gone.
fn swept(record: &TargetFields, me: Claimant) -> TargetFields {
    let mut next = record.clone();
    let gone = |holders: &mut Vec<String>| holders.retain(|h| !me.gone.contains(h));
    if let Some(f) = &mut next.require_tls {
        gone(&mut f.holders);
    }
    if let Some(f) = &mut next.require_valid_cert {
        gone(&mut f.holders);
    }
    if let Some(f) = &mut next.minimum_tls_version {
        gone(&mut f.holders);
    }
    next
}

/// One field: claim it (`wanted` set) or let it go (unset). Adds what to send to `out`; returns
/// the holder it conflicts with, if any.
#[allow(clippy::too_many_arguments)]
fn step<T: Copy + PartialEq + Display>(
    entry: &mut Option<FieldClaim<T>>,
    me: &str,
    wanted: Option<T>,
    seen: Option<T>,
    policy: DeletionPolicy,
    default: Option<T>,
    declared_by: &dyn Fn(&str) -> Option<Option<T>>,
    out: &mut Letting,
    set: fn(&mut TlsSettings, T),
    name: &str,
) -> Option<String> {
    let Some(want) = wanted else {
        match let_go(entry, me, policy, seen, default) {
            Released::PutBack(value) => {
                set(&mut out.changes, value);
                set(&mut out.put_back, value);
            }
            Released::Left(why) => out.left.push(format!("{name} {why}")),
            Released::NotHeld | Released::StillHeld | Released::Kept | Released::AsItWas => {}
        }
        return None;
    };
    match entry {
        None => {
            *entry = Some(FieldClaim {
                original: seen,
                written: want,
                holders: vec![me.to_string()],
            });
        }
        Some(e) => {
            // Another holder blocks a different value unless its spec now agrees or lets go.
            let blocks = |h: &&String| match declared_by(h) {
                None => true,
                Some(declared) => declared.is_some_and(|v| v != want),
            };
            if e.written != want
                && let Some(other) = e.holders.iter().filter(|h| *h != me).find(blocks)
            {
                return Some(other.to_string());
            }
            // The same value (shared), or no live holder but this one (an heir, or a change of
            // its own value): the original stays the account's.
            e.written = want;
            if !e.holders.iter().any(|h| h == me) {
                e.holders.push(me.to_string());
            }
        }
    }
    if seen != Some(want) {
        set(&mut out.changes, want);
    }
    None
}

/// What letting one field go comes to.
#[derive(Debug, PartialEq)]
enum Released<T> {
    /// This resource did not hold it.
    NotHeld,
    /// Another live resource still holds it.
    StillHeld,
    /// No holder left, nothing put back (Orphan): the original stays for the next holder.
    Kept,
    /// Write this value back.
    PutBack(T),
    /// SendGrid already shows what the policy puts back, or the operator never changed it.
    AsItWas,
    /// Not put back, and why.
    Left(String),
}

fn let_go<T: Copy + PartialEq + Display>(
    entry: &mut Option<FieldClaim<T>>,
    me: &str,
    policy: DeletionPolicy,
    seen: Option<T>,
    default: Option<T>,
) -> Released<T> {
    let Some(e) = entry else {
        return Released::NotHeld;
    };
    if !e.holders.iter().any(|h| h == me) {
        return Released::NotHeld;
    }
    e.holders.retain(|h| h != me);
    if !e.holders.is_empty() {
        return Released::StillHeld;
    }
    let goal = match policy {
        DeletionPolicy::Orphan => return Released::Kept,
        DeletionPolicy::Restore => e.original,
        DeletionPolicy::Reset => default,
    };
    let written = e.written;
    let original = e.original;
    // SendGrid is as it was, or someone else's now: the record of this field is done.
    *entry = None;
    if original == Some(written) {
        // The operator never changed it: never written.
        return Released::AsItWas;
    }
    if seen != Some(written) {
        let shows = seen.map_or_else(|| "nothing".to_string(), |v| v.to_string());
        return Released::Left(format!(
            "left as is: SendGrid shows {shows}, not the {written} the operator wrote, so someone changed it since"
        ));
    }
    match goal {
        Some(value) if Some(value) == seen => Released::AsItWas,
        Some(value) => Released::PutBack(value),
        None => {
            Released::Left("left as is: SendGrid reported no original value to restore".to_string())
        }
    }
}

impl TargetFields {
    /// Every resource holding a field, sorted, each once.
    pub fn holders(&self) -> Vec<String> {
        let mut all: Vec<String> = [
            self.require_tls.as_ref().map(|f| &f.holders),
            self.require_valid_cert.as_ref().map(|f| &f.holders),
            self.minimum_tls_version.as_ref().map(|f| &f.holders),
        ]
        .into_iter()
        .flatten()
        .flatten()
        .cloned()
        .collect();
        all.sort();
        all.dedup();
        all
    }

    /// The values the operator holds the account to.
    pub fn written(&self) -> TlsSettings {
        TlsSettings {
            require_tls: self.require_tls.as_ref().map(|f| f.written),
            require_valid_cert: self.require_valid_cert.as_ref().map(|f| f.written),
            minimum_tls_version: self.minimum_tls_version.as_ref().map(|f| f.written),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DeletionPolicy::*;
    use TlsVersion::*;

    fn version(
        original: Option<TlsVersion>,
        written: TlsVersion,
        holders: &[&str],
    ) -> TargetFields {
        TargetFields {
            minimum_tls_version: Some(FieldClaim {
                original,
                written,
                holders: holders.iter().map(|h| h.to_string()).collect(),
            }),
            ..TargetFields::default()
        }
    }

    fn wants(v: TlsVersion) -> TlsSettings {
        TlsSettings {
            minimum_tls_version: Some(v),
            ..TlsSettings::default()
        }
    }

    const NONE: &[String] = &[];
    /// No other holder's spec known: each counts as disagreeing.
    static EVERYONE_DISAGREES: BTreeMap<String, TlsSettings> = BTreeMap::new();

    fn me(id: &str) -> Claimant<'_> {
        Claimant {
            id,
            gone: NONE,
            declared: &EVERYONE_DISAGREES,
        }
    }

    fn held(claim: Claim) -> Letting {
        match claim {
            Claim::Held(letting) => letting,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_first_claim_records_sendgrids_value_as_the_original_before_any_patch() {
        let out = held(claim(
            &TargetFields::default(),
            me("mail/a"),
            &wants(V1_2),
            Orphan,
            &wants(V1_1),
        ));
        assert_eq!(out.record, Some(version(Some(V1_1), V1_2, &["mail/a"])));
        assert_eq!(out.changes, wants(V1_2));
        // Already as wanted: recorded (the operator did not change it), nothing sent.
        let out = held(claim(
            &TargetFields::default(),
            me("mail/a"),
            &wants(V1_2),
            Orphan,
            &wants(V1_2),
        ));
        assert_eq!(out.record, Some(version(Some(V1_2), V1_2, &["mail/a"])));
        assert!(out.changes.is_empty());
    }

    #[test]
    fn a_holder_in_sync_writes_nothing_and_puts_drift_back() {
        let record = version(Some(V1_1), V1_2, &["mail/a"]);
        let out = held(claim(
            &record,
            me("mail/a"),
            &wants(V1_2),
            Orphan,
            &wants(V1_2),
        ));
        assert_eq!(out, Letting::default());
        let out = held(claim(
            &record,
            me("mail/a"),
            &wants(V1_2),
            Orphan,
            &wants(V1_1),
        ));
        assert_eq!(out.record, None, "drift changes no record");
        assert_eq!(out.changes, wants(V1_2));
    }

    /// A holder whose spec moved since its last write: it blocks another value only while its
    /// spec still declares one of its own (or the cache does not have it).
    #[test]
    fn a_holder_blocks_only_while_its_spec_disagrees() {
        // mail/a wrote 1.2 and cannot act on its edit yet; mail/b wants 1.3, SendGrid shows 1.2.
        let record = version(Some(V1_1), V1_2, &["mail/a"]);
        let table: [(Option<TlsSettings>, bool); 5] = [
            (None, true),                          // not found: counts as disagreeing
            (Some(wants(V1_2)), true),             // still declares what it wrote
            (Some(wants(V1_1)), true),             // declares yet another value
            (Some(wants(V1_3)), false),            // now agrees
            (Some(TlsSettings::default()), false), // declares it no more (or is being deleted)
        ];
        for (declares, blocks) in table {
            let declared: BTreeMap<String, TlsSettings> = declares
                .map(|d| ("mail/a".to_string(), d))
                .into_iter()
                .collect();
            let b = Claimant {
                id: "mail/b",
                gone: NONE,
                declared: &declared,
            };
            let got = claim(&record, b, &wants(V1_3), Restore, &wants(V1_2));
            if blocks {
                assert!(
                    matches!(got, Claim::Conflict { ref holder, .. } if holder == "mail/a"),
                    "{declares:?}: {got:?}"
                );
            } else {
                let out = held(got);
                // mail/b joins; the account's original stays; the PATCH sends its value.
                assert_eq!(
                    out.record,
                    Some(version(Some(V1_1), V1_3, &["mail/a", "mail/b"])),
                    "{declares:?}"
                );
                assert_eq!(out.changes, wants(V1_3));
            }
        }
    }

    #[test]
    fn agreeing_resources_share_a_field_and_a_disagreeing_one_conflicts_and_holds_nothing() {
        let record = version(Some(V1_1), V1_2, &["mail/a"]);
        let out = held(claim(
            &record,
            me("mail/b"),
            &wants(V1_2),
            Orphan,
            &wants(V1_2),
        ));
        assert_eq!(
            out.record,
            Some(version(Some(V1_1), V1_2, &["mail/a", "mail/b"]))
        );
        assert!(out.changes.is_empty());
        assert_eq!(
            claim(&record, me("mail/c"), &wants(V1_3), Restore, &wants(V1_2)),
            Claim::Conflict {
                holder: "mail/a".into(),
                fields: vec!["minimumTlsVersion"],
                record: None
            }
        );
        // A co-holder that changes its mind leaves the field to the others, putting nothing
        // back; and a conflict on one field drops its claim on every other field too.
        let mut shared = version(Some(V1_1), V1_2, &["mail/a", "mail/b"]);
        shared.require_tls = Some(FieldClaim {
            original: Some(false),
            written: true,
            holders: vec!["mail/b".into()],
        });
        let wanted = TlsSettings {
            require_tls: Some(true),
            ..wants(V1_3)
        };
        match claim(
            &shared,
            me("mail/b"),
            &wanted,
            Reset,
            &TlsSettings::default(),
        ) {
            Claim::Conflict { holder, record, .. } => {
                assert_eq!(holder, "mail/a");
                let record = record.expect("drops mail/b");
                assert_eq!(record.holders(), vec!["mail/a".to_string()]);
                let tls = record.require_tls.expect("the original stays for an heir");
                assert_eq!(
                    (tls.original, tls.written, tls.holders.len()),
                    (Some(false), true, 0)
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_heir_inherits_the_accounts_original_never_the_operators_write() {
        // The holder went (Orphan, or swept as gone): its write is not the heir's original.
        for (record, gone) in [
            (version(Some(V1_1), V1_2, &[]), vec![]),
            (
                version(Some(V1_1), V1_2, &["mail/a"]),
                vec!["mail/a".to_string()],
            ),
        ] {
            let heir = Claimant {
                id: "mail/b",
                gone: &gone,
                declared: &EVERYONE_DISAGREES,
            };
            let out = held(claim(&record, heir, &wants(V1_3), Restore, &wants(V1_2)));
            assert_eq!(out.record, Some(version(Some(V1_1), V1_3, &["mail/b"])));
            assert_eq!(out.changes, wants(V1_3));
        }
        // A sole holder that raises its value keeps the account's original too.
        let record = version(Some(V1_1), V1_2, &["mail/a"]);
        let out = held(claim(
            &record,
            me("mail/a"),
            &wants(V1_3),
            Restore,
            &wants(V1_2),
        ));
        assert_eq!(out.record, Some(version(Some(V1_1), V1_3, &["mail/a"])));
    }

    #[test]
    fn letting_go_puts_back_only_what_the_operator_changed_and_still_shows() {
        let record = version(Some(V1_1), V1_3, &["mail/a"]);
        let restore = release(&record, me("mail/a"), Restore, &wants(V1_3));
        assert_eq!(
            (restore.record.clone(), restore.changes, restore.put_back),
            (Some(TargetFields::default()), wants(V1_1), wants(V1_1))
        );
        let reset = release(&record, me("mail/a"), Reset, &wants(V1_3));
        assert_eq!(reset.changes, wants(V1_1), "SendGrid's default");
        // Someone changed it since: left as is, and said.
        let changed = release(&record, me("mail/a"), Restore, &wants(V1_2));
        assert!(changed.changes.is_empty());
        assert_eq!(changed.left.len(), 1);
        assert!(
            changed.left[0]
                .starts_with("minimumTlsVersion left as is: SendGrid shows 1.2, not the 1.3"),
            "{:?}",
            changed.left
        );
        // The operator never changed it (SendGrid already had 1.3): never written.
        let never = release(
            &version(Some(V1_3), V1_3, &["mail/a"]),
            me("mail/a"),
            Reset,
            &wants(V1_3),
        );
        assert!(never.changes.is_empty() && never.left.is_empty());
        // Reset of a field the operator set to SendGrid's default: already there, nothing sent.
        let to_default = version(Some(V1_3), V1_1, &["mail/a"]);
        let reset = release(&to_default, me("mail/a"), Reset, &wants(V1_1));
        assert!(
            reset.changes.is_empty() && reset.left.is_empty(),
            "{reset:?}"
        );
        assert_eq!(reset.record, Some(TargetFields::default()));
        // Another live holder declares it: kept.
        let shared = version(Some(V1_1), V1_3, &["mail/a", "mail/b"]);
        let kept = release(&shared, me("mail/a"), Restore, &wants(V1_3));
        assert!(kept.changes.is_empty());
        assert_eq!(kept.record, Some(version(Some(V1_1), V1_3, &["mail/b"])));
        // Orphan: the claim goes, the original stays for the next holder.
        let orphan = release(&record, me("mail/a"), Orphan, &wants(V1_3));
        assert!(orphan.changes.is_empty());
        assert_eq!(orphan.record, Some(version(Some(V1_1), V1_3, &[])));
        // Not a holder (a Conflict loser): nothing at all.
        assert_eq!(
            release(&record, me("mail/c"), Restore, &wants(V1_3)),
            Letting::default()
        );
    }

    #[test]
    fn a_field_no_longer_declared_is_let_go_like_a_deletion_of_that_field() {
        let mut record = version(Some(V1_1), V1_3, &["mail/a"]);
        record.require_tls = Some(FieldClaim {
            original: Some(false),
            written: true,
            holders: vec!["mail/a".into()],
        });
        let seen = TlsSettings {
            require_tls: Some(true),
            ..wants(V1_3)
        };
        let out = held(claim(&record, me("mail/a"), &wants(V1_3), Restore, &seen));
        assert_eq!(out.changes.require_tls, Some(false));
        assert_eq!(out.put_back.require_tls, Some(false));
        assert_eq!(out.record, Some(version(Some(V1_1), V1_3, &["mail/a"])));
    }

    #[test]
    fn an_upgrade_takes_the_original_an_older_status_kept() {
        let legacy = TlsSettings {
            require_tls: Some(false),
            ..wants(V1_1)
        };
        let seeded = seeded(&TargetFields::default(), &wants(V1_3), Some(&legacy));
        assert_eq!(
            seeded,
            version(Some(V1_1), V1_3, &[]),
            "only declared fields"
        );
        // SendGrid shows the older operator's write (1.3): the original is still 1.1.
        let out = held(claim(
            &seeded,
            me("mail/a"),
            &wants(V1_3),
            Restore,
            &wants(V1_3),
        ));
        assert_eq!(out.record, Some(version(Some(V1_1), V1_3, &["mail/a"])));
        // A record entry wins over the older status.
        let record = version(Some(V1_2), V1_3, &["mail/b"]);
        assert_eq!(seeded_of(&record, &legacy), record);
    }

    fn seeded_of(record: &TargetFields, legacy: &TlsSettings) -> TargetFields {
        seeded(record, &wants(V1_3), Some(legacy))
    }

    #[test]
    fn holders_are_listed_once_sorted() {
        let mut record = version(None, V1_2, &["mail/b", "mail/a"]);
        record.require_tls = Some(FieldClaim {
            original: None,
            written: true,
            holders: vec!["mail/a".into()],
        });
        assert_eq!(
            record.holders(),
            vec!["mail/a".to_string(), "mail/b".to_string()]
        );
        assert_eq!(
            record.written(),
            TlsSettings {
                require_tls: Some(true),
                ..wants(V1_2)
            }
        );
    }
}
