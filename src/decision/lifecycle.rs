//! Where a resource is in its life, decided without I/O: add or drop the finalizer, sync, move
//! to a new target (putting the old one back first), clean up on deletion, or let go.
//!
//! A target is a SendGrid account (region and SendGrid's user id): a new key of the same account
//! is a rotation and changes nothing here. A retarget (another region, on-behalf-of, or a key
//! that reaches another account) is a deletion from the old target: one target's original is
//! never written to another. A paused resource makes no SendGrid call at all: it is not synced,
//! and its deletion acts as Orphan. Deletion
//! never hangs: without a key for the target, the operator retries until `--cleanup-timeout`
//! and then lets the resource go with a Warning naming what was left as is.

use crate::api::{DeletionPolicy, TargetAccount};
use std::time::Duration;

/// What the lifecycle decision knows.
#[derive(Debug, Clone)]
pub struct Life<'a> {
    pub policy: DeletionPolicy,
    /// How long ago this replica first saw the deletion, on its own monotonic clock; None when
    /// the resource is not being deleted.
    pub deleting_for: Option<Duration>,
    pub has_finalizer: bool,
    /// The paused annotation is "true".
    pub paused: bool,
    /// The target this resource last acted on (`status.target`).
    pub recorded: Option<&'a TargetAccount>,
    /// The resource reached SendGrid once (`status.observed` is set), even if an older status
    /// did not record the target.
    pub reached: bool,
    /// The target the spec and the current key reach; None when the key cannot be read.
    pub current: Option<&'a TargetAccount>,
    /// A key for `recorded` is at hand: the current one, or the last one read (in memory).
    pub recorded_key: bool,
    pub cleanup_timeout: Duration,
}

/// The next thing to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Add (true) or drop (false) the finalizer, then carry on.
    SetFinalizer(bool),
    /// Bring the current target in line with the spec, after dealing with a retarget.
    Sync(Option<Retarget>),
    /// Paused: no SendGrid call; say so in the status.
    Paused,
    /// Deleting: put this target back as the policy says, then let go.
    Cleanup(TargetAccount),
    /// Deleting, but no key for the target yet: retry; give up after this long.
    WaitForKey(Duration),
    /// Deleting: drop the finalizer. `Some` names what was left as is (a Warning).
    Release(Option<String>),
    /// Deleting without our finalizer: nothing to do.
    Nothing,
}

/// What a change of target does to the old one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retarget {
    /// Put the old target back as the deletion policy says, then move on.
    CleanUp(TargetAccount),
    /// Nothing to put back (Orphan): drop the claim and move on.
    Forget(TargetAccount),
    /// The old target's key is gone: drop the claim, move on, and say what was left as is.
    Abandon(TargetAccount),
}

impl Retarget {
    pub fn old(&self) -> &TargetAccount {
        match self {
            Retarget::CleanUp(t) | Retarget::Forget(t) | Retarget::Abandon(t) => t,
        }
    }
}

/// Decides the next step for a resource.
pub fn plan(life: &Life) -> Plan {
    let restores_nothing = life.policy == DeletionPolicy::Orphan;
    let Some(deleting_for) = life.deleting_for else {
        let wants_finalizer = life.policy != DeletionPolicy::Orphan;
        if wants_finalizer != life.has_finalizer {
            return Plan::SetFinalizer(wants_finalizer);
        }
        if life.paused {
            return Plan::Paused;
        }
        let retarget = match (life.recorded, life.current) {
            (Some(old), Some(new)) if !old.same_account(new) => Some(if restores_nothing {
                Retarget::Forget(old.clone())
            } else if life.recorded_key {
                Retarget::CleanUp(old.clone())
            } else {
                Retarget::Abandon(old.clone())
            }),
            _ => None,
        };
        return Plan::Sync(retarget);
    };
    if !life.has_finalizer {
        return Plan::Nothing;
    }
    if restores_nothing {
        return Plan::Release(None);
    }
    if life.paused {
        let target = life
            .recorded
            .map_or_else(|| "its target".to_string(), ToString::to_string);
        return Plan::Release(Some(format!(
            "{target} left as is: the resource is paused, so its deletion acts as deletionPolicy Orphan (deletionPolicy {:?} was not carried out)",
            life.policy
        )));
    }
    match (life.recorded, life.current) {
        (Some(target), _) if life.recorded_key => Plan::Cleanup(target.clone()),
        (None, Some(current)) => Plan::Cleanup(current.clone()),
        // Never reached SendGrid: nothing of ours to put back.
        (None, None) if !life.reached => Plan::Release(None),
        (target, _) => {
            let target = target.map_or_else(|| "its target".to_string(), ToString::to_string);
            match life.cleanup_timeout.checked_sub(deleting_for) {
                Some(left) if !left.is_zero() => Plan::WaitForKey(left),
                _ => Plan::Release(Some(format!(
                    "{target} left as is: no API key for it could be read within the cleanup timeout of {}s, so deletionPolicy {:?} was not carried out",
                    life.cleanup_timeout.as_secs(),
                    life.policy
                ))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{OnBehalfOfRef, Region};

    /// The account `user_id`, reached through the Secret version `secret`.
    fn target(sub: Option<&str>, user_id: u64, secret: &str) -> TargetAccount {
        TargetAccount {
            name: TargetAccount::name_of(Region::Global, user_id),
            region: Region::Global,
            user_id,
            username: sub.unwrap_or("parent").into(),
            on_behalf_of: sub.map(|s| OnBehalfOfRef {
                subuser: Some(s.into()),
                account_id: None,
            }),
            secret_resource_version: Some(secret.into()),
        }
    }

    struct Case {
        policy: DeletionPolicy,
        deleting: Option<u64>,
        finalizer: bool,
        paused: bool,
        recorded: Option<TargetAccount>,
        reached: bool,
        current: Option<TargetAccount>,
        recorded_key: bool,
    }

    impl Case {
        fn live(policy: DeletionPolicy) -> Case {
            Case {
                policy,
                deleting: None,
                finalizer: policy != DeletionPolicy::Orphan,
                paused: false,
                recorded: Some(target(Some("a"), 1, "1")),
                reached: true,
                current: Some(target(Some("a"), 1, "1")),
                recorded_key: true,
            }
        }

        fn plan(&self) -> Plan {
            plan(&Life {
                policy: self.policy,
                deleting_for: self.deleting.map(Duration::from_secs),
                has_finalizer: self.finalizer,
                paused: self.paused,
                recorded: self.recorded.as_ref(),
                reached: self.reached,
                current: self.current.as_ref(),
                recorded_key: self.recorded_key,
                cleanup_timeout: Duration::from_secs(600),
            })
        }
    }

    #[test]
    fn live_resources_sync_after_setting_the_finalizer_their_policy_needs() {
        use DeletionPolicy::*;
        assert_eq!(Case::live(Restore).plan(), Plan::Sync(None));
        assert_eq!(Case::live(Orphan).plan(), Plan::Sync(None));
        let mut c = Case::live(Restore);
        c.finalizer = false;
        assert_eq!(c.plan(), Plan::SetFinalizer(true));
        let mut c = Case::live(Orphan);
        c.finalizer = true;
        assert_eq!(c.plan(), Plan::SetFinalizer(false));
        // No key: sync reports the failure; no retarget can be judged.
        let mut c = Case::live(Reset);
        c.current = None;
        assert_eq!(c.plan(), Plan::Sync(None));
    }

    #[test]
    fn a_new_key_of_the_same_account_is_a_rotation_not_a_retarget() {
        use DeletionPolicy::*;
        for policy in [Orphan, Restore, Reset] {
            let mut c = Case::live(policy);
            // Another Secret version (a new key), even another on-behalf-of spelling: the same
            // user id is the same account, so nothing is put back.
            c.current = Some(target(Some("a"), 1, "2"));
            assert_eq!(c.plan(), Plan::Sync(None), "{policy:?}");
            c.current = Some(TargetAccount {
                on_behalf_of: None,
                ..target(Some("a"), 1, "3")
            });
            assert_eq!(c.plan(), Plan::Sync(None), "{policy:?}");
        }
    }

    #[test]
    fn a_paused_resource_is_not_synced_and_its_deletion_acts_as_orphan() {
        use DeletionPolicy::*;
        let mut c = Case::live(Restore);
        c.paused = true;
        c.current = Some(target(Some("b"), 2, "1"));
        assert_eq!(c.plan(), Plan::Paused, "no retarget while paused");
        c.deleting = Some(10);
        match c.plan() {
            Plan::Release(Some(why)) => assert!(
                why.starts_with("global-1 (a) left as is: the resource is paused"),
                "{why}"
            ),
            other => panic!("{other:?}"),
        }
        c.finalizer = false;
        assert_eq!(c.plan(), Plan::Nothing);
        let mut c = Case::live(Orphan);
        c.paused = true;
        c.deleting = Some(10);
        c.finalizer = true;
        assert_eq!(c.plan(), Plan::Release(None), "Orphan has nothing to say");
        // The finalizer its policy needs is still added: that is no SendGrid call.
        let mut c = Case::live(Reset);
        c.paused = true;
        c.finalizer = false;
        assert_eq!(c.plan(), Plan::SetFinalizer(true));
    }

    #[test]
    fn a_new_target_first_puts_the_old_one_back() {
        use DeletionPolicy::*;
        let old = target(Some("a"), 1, "1");
        let mut c = Case::live(Restore);
        c.current = Some(target(Some("b"), 2, "1"));
        assert_eq!(c.plan(), Plan::Sync(Some(Retarget::CleanUp(old.clone()))));
        c.recorded_key = false;
        assert_eq!(c.plan(), Plan::Sync(Some(Retarget::Abandon(old.clone()))));
        let mut c = Case::live(Reset);
        c.current = Some(target(Some("a"), 3, "2"));
        assert_eq!(c.plan(), Plan::Sync(Some(Retarget::CleanUp(old.clone()))));
        let mut c = Case::live(Orphan);
        c.current = Some(target(None, 4, "1"));
        assert_eq!(c.plan(), Plan::Sync(Some(Retarget::Forget(old))));
    }

    #[test]
    fn deletion_cleans_up_releases_or_waits_for_a_key_until_the_timeout() {
        use DeletionPolicy::*;
        let old = target(Some("a"), 1, "1");
        let deleting = |policy, since| {
            let mut c = Case::live(policy);
            c.deleting = Some(since);
            c
        };
        assert_eq!(deleting(Restore, 10).plan(), Plan::Cleanup(old.clone()));
        assert_eq!(deleting(Reset, 10).plan(), Plan::Cleanup(old.clone()));
        let mut c = deleting(Orphan, 10);
        c.finalizer = true;
        assert_eq!(c.plan(), Plan::Release(None));
        let mut c = deleting(Restore, 10);
        c.finalizer = false;
        assert_eq!(c.plan(), Plan::Nothing);
        // The Secret went first: the key in memory is gone too.
        let mut c = deleting(Reset, 10);
        c.recorded_key = false;
        c.current = None;
        assert_eq!(c.plan(), Plan::WaitForKey(Duration::from_secs(590)));
        c.deleting = Some(600);
        match c.plan() {
            Plan::Release(Some(why)) => {
                assert!(why.starts_with("global-1 (a) left as is"), "{why}")
            }
            other => panic!("{other:?}"),
        }
        // Never reached SendGrid (no recorded target) and no key: nothing to undo.
        let mut c = deleting(Reset, 10);
        c.recorded = None;
        c.reached = false;
        c.current = None;
        assert_eq!(c.plan(), Plan::Release(None));
        // Reached it, but an older status did not record where: wait for the key.
        c.reached = true;
        assert_eq!(c.plan(), Plan::WaitForKey(Duration::from_secs(590)));
        // No recorded target yet (an older status), but the key reaches one.
        let mut c = deleting(Reset, 10);
        c.recorded = None;
        assert_eq!(c.plan(), Plan::Cleanup(old));
    }
}
