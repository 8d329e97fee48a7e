//! What a reconcile will ask of SendGrid, for the pacer: a drift check, or a change and since
//! when it is due.

use super::conditions;
use crate::api::{Mode, READY, RECONCILE_REQUESTED_AT, SendGridEnforcedTls, condition_status};
use crate::sendgrid::budget::{Demand, Requests};
use std::time::SystemTime;

/// What a reconcile of `res` will ask of SendGrid: a drift check when it is in sync at its
/// generation with no request pending, otherwise a change. A change arose when the resource was
/// created, or now when it was edited, requested or is being deleted.
pub fn demand(res: &SendGridEnforcedTls, now: SystemTime) -> Demand {
    let meta = &res.metadata;
    let status = res.status.as_ref();
    let requested = meta
        .annotations
        .as_ref()
        .and_then(|a| a.get(RECONCILE_REQUESTED_AT))
        .is_some_and(|asked| {
            status.and_then(|s| s.last_handled_reconcile_at.as_ref()) != Some(asked)
        });
    let deleting = meta.deletion_timestamp.is_some();
    let in_sync = status
        .and_then(|s| conditions::find(&s.conditions, READY))
        .is_some_and(|c| {
            c.status == condition_status(true) && c.observed_generation == meta.generation
        });
    if in_sync && !requested && !deleting {
        return Demand::Check;
    }
    let edited = status
        .and_then(|s| s.observed_generation)
        .is_some_and(|seen| Some(seen) != meta.generation);
    let since = if deleting || requested || edited {
        Some(now)
    } else {
        meta.creation_timestamp
            .as_ref()
            .map(|t| SystemTime::from(t.0))
    };
    // The settings GET; a PATCH unless it only observes; whose account the key reaches, when
    // no account is recorded yet.
    let writes = res.spec.mode() == Mode::Enforce;
    let first = status.is_none_or(|s| s.target.is_none());
    Demand::Change {
        since,
        requests: Requests::settings(1 + u32::from(writes)).and_identity(u32::from(first)),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::api::{Reason, SendGridEnforcedTlsStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
    use k8s_openapi::jiff::Timestamp;
    use kube::ResourceExt;
    use std::time::{Duration, UNIX_EPOCH};

    pub(crate) fn resource(status: Option<SendGridEnforcedTlsStatus>) -> SendGridEnforcedTls {
        let mut res: SendGridEnforcedTls = serde_json::from_value(serde_json::json!({
            "apiVersion": "sendgrid.ops.dev/v1alpha1",
            "kind": "SendGridEnforcedTls",
            "metadata": {"name": "r", "namespace": "ns", "generation": 2,
                         "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"apiKeySecretRef": {"name": "s"}, "requireTls": true},
        }))
        .unwrap();
        res.status = status;
        res
    }

    fn ready_at(generation: i64) -> SendGridEnforcedTlsStatus {
        SendGridEnforcedTlsStatus {
            observed_generation: Some(generation),
            conditions: vec![Condition {
                type_: READY.into(),
                status: condition_status(true).into(),
                reason: Reason::InSync.to_string(),
                message: String::new(),
                observed_generation: Some(generation),
                last_transition_time: Time(Timestamp::UNIX_EPOCH),
            }],
            ..SendGridEnforcedTlsStatus::default()
        }
    }

    #[test]
    fn in_sync_resources_are_checks_and_the_rest_changes_since_when_they_arose() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let created = SystemTime::from(Timestamp::from_second(1_767_225_600).unwrap());
        assert_eq!(demand(&resource(Some(ready_at(2))), now), Demand::Check);
        assert_eq!(
            demand(&resource(None), now),
            Demand::Change {
                since: Some(created),
                requests: Requests::settings(2).and_identity(1),
            },
            "new: whose account its key reaches is read first"
        );
        assert_eq!(
            demand(&resource(Some(ready_at(1))), now),
            Demand::Change {
                since: Some(now),
                requests: Requests::settings(2).and_identity(1)
            },
            "edited, no account recorded"
        );
        let mut known = ready_at(1);
        known.target = Some(crate::api::TargetAccount {
            name: "global-1".into(),
            region: crate::api::Region::Global,
            user_id: 1,
            username: "main".into(),
            on_behalf_of: None,
            secret_resource_version: None,
        });
        assert_eq!(
            demand(&resource(Some(known)), now),
            Demand::Change {
                since: Some(now),
                requests: Requests::settings(2)
            },
            "edited, its account known"
        );
        let mut requested = resource(Some(ready_at(2)));
        requested
            .annotations_mut()
            .insert(RECONCILE_REQUESTED_AT.into(), "1".into());
        assert!(
            matches!(demand(&requested, now), Demand::Change { since: Some(t), .. } if t == now)
        );
        requested.status.as_mut().unwrap().last_handled_reconcile_at = Some("1".into());
        assert_eq!(demand(&requested, now), Demand::Check, "already handled");
        let mut deleting = resource(Some(ready_at(2)));
        deleting.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        assert!(
            matches!(demand(&deleting, now), Demand::Change { since: Some(t), .. } if t == now)
        );
    }
}
