//! Who holds a target when several resources point at the same SendGrid settings: the oldest.
//! A newer resource that manages a field differently is in conflict and must not write.

use crate::api::TlsSettings;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// One resource as the conflict check sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    /// "namespace/name"
    pub id: String,
    pub created: Option<Time>,
    pub target: String,
    pub managed: TlsSettings,
}

/// True when both manage some field with different values.
pub fn disagree(a: &TlsSettings, b: &TlsSettings) -> bool {
    fn clash<T: PartialEq>(a: Option<T>, b: Option<T>) -> bool {
        matches!((a, b), (Some(a), Some(b)) if a != b)
    }
    clash(a.require_tls, b.require_tls)
        || clash(a.require_valid_cert, b.require_valid_cert)
        || clash(a.minimum_tls_version, b.minimum_tls_version)
}

/// The resource `me` is in conflict with: the oldest claim on its target that is older than `me`
/// and disagrees with it on some field. Ties on creation time go to the smaller namespace/name.
/// (Checking every older claim, not just the oldest, keeps two newer resources that each agree
/// with the oldest from fighting over a field it does not manage.)
pub fn conflict_with<'a>(
    me: &'a Claim,
    others: impl IntoIterator<Item = &'a Claim>,
) -> Option<String> {
    let age = |c: &Claim| (c.created.clone().map(|t| t.0), c.id.clone());
    let mine = age(me);
    others
        .into_iter()
        .filter(|c| c.target == me.target && c.id != me.id && age(c) < mine)
        .filter(|c| disagree(&c.managed, &me.managed))
        .min_by_key(|c| age(c))
        .map(|c| c.id.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::TlsVersion;
    use k8s_openapi::jiff::Timestamp;

    fn claim(
        id: &str,
        created: i64,
        target: &str,
        tls: Option<bool>,
        v: Option<TlsVersion>,
    ) -> Claim {
        Claim {
            id: id.into(),
            created: Some(Time(Timestamp::from_second(created).unwrap())),
            target: target.into(),
            managed: TlsSettings {
                require_tls: tls,
                require_valid_cert: None,
                minimum_tls_version: v,
            },
        }
    }

    #[test]
    fn newer_disagreeing_resource_loses() {
        let old = claim("a/old", 1, "t", Some(true), None);
        let new = claim("a/new", 2, "t", Some(false), None);
        assert_eq!(conflict_with(&new, [&old]), Some("a/old".into()));
        assert_eq!(conflict_with(&old, [&new]), None);
    }

    #[test]
    fn agreement_other_targets_and_disjoint_fields_are_fine() {
        let old = claim("a/old", 1, "t", Some(true), None);
        assert_eq!(
            conflict_with(&claim("a/same", 2, "t", Some(true), None), [&old]),
            None
        );
        assert_eq!(
            conflict_with(&claim("a/other", 2, "u", Some(false), None), [&old]),
            None
        );
        let disjoint = claim("a/v", 2, "t", None, Some(TlsVersion::V1_3));
        assert_eq!(conflict_with(&disjoint, [&old]), None);
    }

    #[test]
    fn any_older_disagreeing_claim_wins_not_only_the_oldest() {
        let oldest = claim("a/tls-only", 1, "t", Some(true), None);
        let middle = claim("a/v12", 2, "t", None, Some(TlsVersion::V1_2));
        let newest = claim("a/v13", 3, "t", None, Some(TlsVersion::V1_3));
        assert_eq!(conflict_with(&middle, [&oldest, &newest]), None);
        assert_eq!(
            conflict_with(&newest, [&oldest, &middle]),
            Some("a/v12".into())
        );
    }

    #[test]
    fn ties_go_to_the_smaller_name() {
        let a = claim("a/a", 1, "t", Some(true), None);
        let b = claim("a/b", 1, "t", Some(false), None);
        assert_eq!(conflict_with(&b, [&a]), Some("a/a".into()));
        assert_eq!(conflict_with(&a, [&b]), None);
    }
}
