//! The scopes a resource's API key needs, and what the scopes SendGrid lists for a key
//! (`GET /v3/scopes`) say about using it: checked before the key is first used, so a missing
//! scope is named at once, before any read or write of the settings.

use super::Failure;
use crate::api::{DeletionPolicy, Mode};
use crate::sendgrid::{SendGridError, USERNAME_SCOPE};

/// Reading the Enforced TLS settings (SendGrid's "Enforced TLS" read access).
pub const SETTINGS_READ: &str = "user.settings.enforced_tls.read";
/// Changing them (SendGrid's "Enforced TLS" full access).
pub const SETTINGS_UPDATE: &str = "user.settings.enforced_tls.update";

/// Whether a resource may make the operator write with its key: Enforce changes the settings,
/// and Restore or Reset put them back on deletion or retarget (also after a switch to Observe,
/// when the resource holds fields it changed before).
pub fn writes(mode: Mode, policy: DeletionPolicy) -> bool {
    mode == Mode::Enforce || policy != DeletionPolicy::Orphan
}

/// The scopes a key needs: whose account it reaches (without it, no write could be placed),
/// the settings, and changing them when the resource `writes`.
pub fn needed(writes: bool) -> Vec<&'static str> {
    let mut needed = vec![USERNAME_SCOPE, SETTINGS_READ];
    if writes {
        needed.push(SETTINGS_UPDATE);
    }
    needed
}

/// The scopes of `needed` that `granted` does not list, in `needed`'s order.
pub fn missing(needed: &[&'static str], granted: &[String]) -> Vec<&'static str> {
    needed
        .iter()
        .copied()
        .filter(|scope| !granted.iter().any(|g| g == scope))
        .collect()
}

/// What the listed scopes say about using a key.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    /// Every needed scope is listed: the key may be used, and the answer kept for it.
    Granted,
    /// SendGrid did not say (5xx, timeout, rate limit, a 404 of an API without the endpoint,
    /// ...): go on as without the check; the refusals of the calls themselves still enforce the
    /// scopes.
    Unknown,
    /// Stop before any other call: scopes are missing, or SendGrid refused the key (401).
    Refused(Failure),
}

/// Judges SendGrid's answer to `GET /v3/scopes` for a resource that `writes` (or not).
pub fn check(listed: &Result<Vec<String>, SendGridError>, writes: bool) -> Check {
    match listed {
        Ok(granted) => {
            let missing = missing(&needed(writes), granted);
            if missing.is_empty() {
                Check::Granted
            } else {
                Check::Refused(Failure::MissingScopes {
                    scopes: missing.into_iter().map(str::to_string).collect(),
                })
            }
        }
        Err(e @ SendGridError::Unauthorized { .. }) => Check::Refused(Failure::SendGrid(e.clone())),
        Err(_) => Check::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Reason;

    #[test]
    fn a_resource_writes_when_it_enforces_or_may_put_back() {
        use DeletionPolicy::*;
        use Mode::*;
        let cases = [
            (Enforce, Orphan, true),
            (Enforce, Restore, true),
            (Enforce, Reset, true),
            (Observe, Orphan, false),
            (Observe, Restore, true),
            (Observe, Reset, true),
        ];
        for (mode, policy, want) in cases {
            assert_eq!(writes(mode, policy), want, "{mode:?} {policy:?}");
        }
    }

    #[test]
    fn needed_scopes_add_the_update_scope_only_for_a_writer() {
        assert_eq!(needed(false), [USERNAME_SCOPE, SETTINGS_READ]);
        assert_eq!(
            needed(true),
            [USERNAME_SCOPE, SETTINGS_READ, SETTINGS_UPDATE]
        );
    }

    #[test]
    fn missing_lists_every_needed_scope_not_granted_in_order() {
        let all = needed(true);
        let granted = |scopes: &[&str]| scopes.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let cases: [(&[&str], Vec<&str>); 6] = [
            (&[], all.clone()),
            (&all, vec![]),
            // Unrelated scopes and a different order change nothing.
            (
                &["mail.send", SETTINGS_UPDATE, SETTINGS_READ, USERNAME_SCOPE],
                vec![],
            ),
            (&[USERNAME_SCOPE, SETTINGS_READ], vec![SETTINGS_UPDATE]),
            (&[SETTINGS_READ, SETTINGS_UPDATE], vec![USERNAME_SCOPE]),
            // A name is matched whole: a prefix or another scope of the family is not it.
            (
                &["user.settings.enforced_tls", "user.username.read.x"],
                all.clone(),
            ),
        ];
        for (listed, want) in cases {
            assert_eq!(missing(&all, &granted(listed)), want, "{listed:?}");
        }
    }

    #[test]
    fn sendgrids_answer_grants_refuses_or_says_nothing() {
        let listed = |scopes: &[&str]| Ok(scopes.iter().map(|s| s.to_string()).collect());
        let refused = |scopes: &[&str]| {
            Check::Refused(Failure::MissingScopes {
                scopes: scopes.iter().map(|s| s.to_string()).collect(),
            })
        };
        let unauthorized = SendGridError::Unauthorized {
            message: "401 Unauthorized: bad key".into(),
        };
        let unavailable = |status| SendGridError::Unavailable {
            status,
            message: "no answer".into(),
        };
        let cases = [
            (listed(&needed(true)), true, Check::Granted),
            (listed(&needed(false)), false, Check::Granted),
            (
                listed(&needed(false)),
                true,
                refused(&["user.settings.enforced_tls.update"]),
            ),
            (
                listed(&["mail.send"]),
                false,
                refused(&["user.username.read", "user.settings.enforced_tls.read"]),
            ),
            (
                Err(unauthorized.clone()),
                true,
                Check::Refused(Failure::SendGrid(unauthorized)),
            ),
            (Err(unavailable(Some(503))), true, Check::Unknown),
            (Err(unavailable(None)), true, Check::Unknown),
            (
                Err(SendGridError::NotFound {
                    message: "404 Not Found".into(),
                }),
                true,
                Check::Unknown,
            ),
            (
                Err(SendGridError::Forbidden {
                    message: "403 Forbidden".into(),
                }),
                true,
                Check::Unknown,
            ),
            (
                Err(SendGridError::RateLimited {
                    reset: None,
                    message: "429".into(),
                }),
                true,
                Check::Unknown,
            ),
        ];
        for (answer, writes, want) in cases {
            assert_eq!(check(&answer, writes), want, "{answer:?} writes={writes}");
        }
    }

    #[test]
    fn missing_scopes_are_forbidden_naming_each_and_the_fix() {
        let failure = Failure::MissingScopes {
            scopes: vec![USERNAME_SCOPE.into(), SETTINGS_UPDATE.into()],
        };
        assert_eq!(failure.reason(), Reason::Forbidden);
        assert!(!failure.is_transient());
        let text = failure.to_string();
        for part in [
            "user.username.read, user.settings.enforced_tls.update",
            "GET /v3/scopes",
            "add them to the API key",
        ] {
            assert!(text.contains(part), "{part:?} in {text}");
        }
        let one = Failure::MissingScopes {
            scopes: vec![SETTINGS_UPDATE.into()],
        };
        assert!(one.to_string().contains("add it to the API key"), "{one}");
    }
}
