//! Who holds a target when several resources point at the same SendGrid settings: the oldest
//! (creationTimestamp, then namespace/name). A newer resource that manages a field differently
//! is in conflict and must not write.
//!
//! A claim counts from the moment a resource exists, not from its first status write: an older
//! resource that has not been reconciled yet (its target is still unknown) but could share the
//! target makes a newer one wait, so two resources created in one `kubectl apply` cause one
//! PATCH, never two.

use crate::api::{OnBehalfOfRef, Region, TlsSettings};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// One resource as the conflict check sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim<'a> {
    /// (namespace, name)
    pub id: (&'a str, &'a str),
    pub created: Option<&'a Time>,
    /// The region and on-behalf-of of the spec: resources with different places never share a
    /// target.
    pub place: Place<'a>,
    /// `status.target`; `None` until the resource was reconciled once.
    pub target: Option<&'a str>,
    /// True once the resource was reconciled (it has a status), with or without a target.
    pub reconciled: bool,
    pub managed: TlsSettings,
}

impl<'a> Claim<'a> {
    /// Older sorts first: creation time, then namespace/name.
    fn age(&self) -> (Option<k8s_openapi::jiff::Timestamp>, (&'a str, &'a str)) {
        (self.created.map(|t| t.0), self.id)
    }
}

/// Where in SendGrid a spec points, before its key is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place<'a> {
    pub region: Region,
    pub on_behalf_of: Option<&'a OnBehalfOfRef>,
}

/// Where a resource stands among the claims on its target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// No older resource disagrees: this one may write.
    Free,
    /// This older resource holds the target and disagrees: never write.
    Conflict(String),
    /// This older resource may share the target but has not said which yet: wait for it.
    Wait(String),
}

/// True when both manage some field with different values.
pub fn disagree(a: &TlsSettings, b: &TlsSettings) -> bool {
    a.fields()
        .zip(b.fields())
        .any(|((_, a), (_, b))| matches!((a, b), (Some(a), Some(b)) if a != b))
}

/// Whether `other` can stand in `me`'s way on `target`: an older claim that disagrees and holds
/// the target, or has not said yet and could (same place, never reconciled).
fn contends(me: &Claim, other: &Claim, target: &str) -> bool {
    let shares = match other.target {
        Some(t) => t == target,
        None => !other.reconciled && other.place == me.place,
    };
    shares && other.id != me.id && other.age() < me.age() && disagree(&other.managed, &me.managed)
}

/// Where `me` (on `target`) stands among `others`. Any older disagreeing claim on the target
/// wins, not only the oldest (so two newer resources that each agree with the oldest do not fight
/// over a field it does not manage); ties on creation time go to the smaller namespace/name.
pub fn standing<'a>(
    me: &Claim<'a>,
    target: &str,
    others: impl IntoIterator<Item = Claim<'a>>,
) -> Standing {
    let mut conflict: Option<Claim<'a>> = None;
    let mut wait: Option<Claim<'a>> = None;
    for other in others.into_iter().filter(|o| contends(me, o, target)) {
        let slot = if other.target.is_some() {
            &mut conflict
        } else {
            &mut wait
        };
        if slot.as_ref().is_none_or(|s| other.age() < s.age()) {
            *slot = Some(other);
        }
    }
    let name = |c: Claim| format!("{}/{}", c.id.0, c.id.1);
    match (conflict, wait) {
        (Some(holder), _) => Standing::Conflict(name(holder)),
        (None, Some(first)) => Standing::Wait(name(first)),
        (None, None) => Standing::Free,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::TlsVersion;
    use k8s_openapi::jiff::Timestamp;

    const T: &str = "global/-/key-1";

    fn time(secs: i64) -> Time {
        Time(Timestamp::from_second(secs).unwrap())
    }

    struct Fixture {
        times: Vec<Time>,
        sub: OnBehalfOfRef,
    }

    impl Fixture {
        fn new() -> Fixture {
            Fixture {
                times: (0..5).map(time).collect(),
                sub: OnBehalfOfRef {
                    subuser: Some("sub".into()),
                    account_id: None,
                },
            }
        }

        fn claim<'a>(
            &'a self,
            id: &'a str,
            created: usize,
            target: Option<&'a str>,
            tls: Option<bool>,
            v: Option<TlsVersion>,
        ) -> Claim<'a> {
            Claim {
                id: id.split_once('/').unwrap(),
                created: Some(&self.times[created]),
                place: Place {
                    region: Region::Global,
                    on_behalf_of: None,
                },
                target,
                reconciled: target.is_some(),
                managed: TlsSettings {
                    require_tls: tls,
                    require_valid_cert: None,
                    minimum_tls_version: v,
                },
            }
        }
    }

    #[test]
    fn newer_disagreeing_resource_loses() {
        let f = Fixture::new();
        let old = f.claim("a/old", 1, Some(T), Some(true), None);
        let new = f.claim("a/new", 2, Some(T), Some(false), None);
        assert_eq!(
            standing(&new, T, [old.clone()]),
            Standing::Conflict("a/old".into())
        );
        assert_eq!(standing(&old, T, [new]), Standing::Free);
    }

    #[test]
    fn agreement_other_targets_and_disjoint_fields_are_fine() {
        let f = Fixture::new();
        let old = f.claim("a/old", 1, Some(T), Some(true), None);
        let same = f.claim("a/same", 2, Some(T), Some(true), None);
        assert_eq!(standing(&same, T, [old.clone()]), Standing::Free);
        let other = f.claim("a/other", 2, Some("u"), Some(false), None);
        assert_eq!(standing(&other, "u", [old.clone()]), Standing::Free);
        let disjoint = f.claim("a/v", 2, Some(T), None, Some(TlsVersion::V1_3));
        assert_eq!(standing(&disjoint, T, [old]), Standing::Free);
    }

    #[test]
    fn any_older_disagreeing_claim_wins_not_only_the_oldest() {
        let f = Fixture::new();
        let oldest = f.claim("a/tls-only", 1, Some(T), Some(true), None);
        let middle = f.claim("a/v12", 2, Some(T), None, Some(TlsVersion::V1_2));
        let newest = f.claim("a/v13", 3, Some(T), None, Some(TlsVersion::V1_3));
        assert_eq!(
            standing(&middle, T, [oldest.clone(), newest.clone()]),
            Standing::Free
        );
        assert_eq!(
            standing(&newest, T, [oldest, middle]),
            Standing::Conflict("a/v12".into())
        );
    }

    #[test]
    fn ties_go_to_the_smaller_name() {
        let f = Fixture::new();
        let a = f.claim("a/a", 1, Some(T), Some(true), None);
        let b = f.claim("a/b", 1, Some(T), Some(false), None);
        assert_eq!(
            standing(&b, T, [a.clone()]),
            Standing::Conflict("a/a".into())
        );
        assert_eq!(standing(&a, T, [b]), Standing::Free);
    }

    #[test]
    fn an_older_resource_not_yet_reconciled_in_the_same_place_is_waited_for() {
        let f = Fixture::new();
        let unresolved = f.claim("a/a", 1, None, Some(true), None);
        let me = f.claim("a/b", 1, None, Some(false), None);
        assert_eq!(
            standing(&me, T, [unresolved.clone()]),
            Standing::Wait("a/a".into())
        );
        // Another place (a subuser) cannot share the target.
        let mut elsewhere = unresolved.clone();
        elsewhere.place.on_behalf_of = Some(&f.sub);
        assert_eq!(standing(&me, T, [elsewhere]), Standing::Free);
        // Reconciled without a target (its Secret is missing): it claims nothing.
        let mut failed = unresolved.clone();
        failed.reconciled = true;
        assert_eq!(standing(&me, T, [failed]), Standing::Free);
        // Agreeing, or newer: no wait.
        let agreeing = f.claim("a/c", 0, None, Some(false), None);
        assert_eq!(standing(&me, T, [agreeing]), Standing::Free);
        assert_eq!(standing(&unresolved, T, [me.clone()]), Standing::Free);
        // A known holder beats a wait.
        let holder = f.claim("a/0", 0, Some(T), Some(true), None);
        assert_eq!(
            standing(&me, T, [unresolved, holder]),
            Standing::Conflict("a/0".into())
        );
    }
}
