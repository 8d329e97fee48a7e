//! Gather: the API key from the resource's Secret, the key kept for its recorded target, and
//! where it stands among the resources that claim the same target. Secrets are read with `get`,
//! one by name, never listed or cached; the last key read per resource is kept in memory only,
//! for cleanup after its Secret is gone.

use super::claims::Slot;
use super::context::Context;
use super::error::Error;
use crate::api::{Guarded, SendGridEnforcedTls, TargetAccount, TlsSettings};
use crate::decision::Failure;
use crate::decision::conflict::{Claim, Place, Standing, standing};
use crate::sendgrid::{Account, ApiKey, OnBehalfOf};
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};
use std::sync::Arc;

/// The key in the resource's Secret, or why there is none usable.
pub async fn key(
    ctx: &Context,
    res: &SendGridEnforcedTls,
) -> Result<Result<ApiKey, Failure>, Error> {
    let ns = res.namespace().ok_or(Error::NoNamespace)?;
    let secrets: Api<Secret> = Api::namespaced(ctx.kube.clone(), &ns);
    let name = &res.spec.api_key_secret_ref.name;
    let secret = match secrets.get_opt(name).await {
        Ok(secret) => secret,
        // A missing permission is the resource's problem to report, not a silent stall.
        Err(kube::Error::Api(status)) if status.code == 403 => {
            return Ok(Err(Failure::SecretForbidden {
                name: name.clone(),
                message: status.message,
            }));
        }
        Err(e) => return Err(e.into()),
    };
    Ok(secret
        .ok_or_else(|| Failure::SecretNotFound { name: name.clone() })
        .and_then(|secret| key_from(&secret, res)))
}

/// Builds the account from a resource and a key (also used by `plan`/`apply`).
pub fn account_for(res: &SendGridEnforcedTls, key: ApiKey) -> Result<Account, Failure> {
    let on_behalf_of = res
        .spec
        .on_behalf_of
        .as_ref()
        .map(OnBehalfOf::from_ref)
        .transpose()
        .map_err(|e| Failure::InvalidSpec {
            message: e.to_string(),
        })?;
    Ok(Account {
        key,
        region: res.spec.region(),
        on_behalf_of,
    })
}

fn key_from(secret: &Secret, res: &SendGridEnforcedTls) -> Result<ApiKey, Failure> {
    let name = res.spec.api_key_secret_ref.name.clone();
    let key = res.spec.secret_key().to_string();
    let bytes = secret
        .data
        .as_ref()
        .and_then(|d| d.get(&key))
        .ok_or_else(|| Failure::SecretKeyNotFound {
            name: name.clone(),
            key: key.clone(),
            detail: "the Secret has no such key".to_string(),
        })?;
    let invalid = |detail: String| Failure::SecretKeyInvalid {
        name: name.clone(),
        key: key.clone(),
        detail,
    };
    let text = std::str::from_utf8(&bytes.0)
        .map_err(|_| invalid("the value is not UTF-8 text".to_string()))?;
    ApiKey::new(text).map_err(|e| invalid(e.to_string()))
}

/// A key for `target`: the current one if it is that target's, else the one kept in memory.
pub fn key_for(
    ctx: &Context,
    res: &SendGridEnforcedTls,
    target: &TargetAccount,
    current: Option<&ApiKey>,
) -> Option<ApiKey> {
    let fits = |k: &ApiKey| k.fingerprint() == target.key_fingerprint;
    current
        .filter(|k| fits(k))
        .cloned()
        .or_else(|| ctx.keys.get(res.metadata.uid.as_deref()?).filter(fits))
}

/// `res` as the conflict check sees it.
fn claim(res: &SendGridEnforcedTls) -> Claim<'_> {
    let status = res.status.as_ref();
    let meta = &res.metadata;
    Claim {
        id: (
            meta.namespace.as_deref().unwrap_or_default(),
            meta.name.as_deref().unwrap_or_default(),
        ),
        created: res.metadata.creation_timestamp.as_ref(),
        place: Place {
            region: res.spec.region(),
            on_behalf_of: res.spec.on_behalf_of.as_ref(),
        },
        target: status.and_then(|s| s.target.as_deref()),
        reconciled: status.is_some_and(|s| s.observed_generation.is_some()),
        managed: res.spec.managed(),
    }
}

/// Where `res` (on `target`) stands among the resources that claim its target or its place.
pub fn standing_of(ctx: &Context, res: &SendGridEnforcedTls, target: &TargetAccount) -> Standing {
    let target = target.to_string();
    let place = Slot::Place(res.spec.region(), res.spec.on_behalf_of.clone());
    let others = claimants(ctx, &[Slot::Target(target.clone()), place]);
    standing(
        &claim(res),
        &target,
        others.iter().filter_map(|g| g.0.as_ref().ok()).map(claim),
    )
}

/// The fields other live resources on `target` declare: cleanup must not undo them.
pub fn declared_by_others(
    ctx: &Context,
    res: &SendGridEnforcedTls,
    target: &TargetAccount,
) -> TlsSettings {
    claimants(ctx, &[Slot::Target(target.to_string())])
        .iter()
        .filter_map(|g| g.0.as_ref().ok())
        .filter(|r| r.metadata.uid != res.metadata.uid && r.metadata.deletion_timestamp.is_none())
        .fold(TlsSettings::default(), |acc, r| acc.or(r.spec.managed()))
}

/// The cached resources in these slots, as the cache holds them now. The conflict rules are
/// applied to these objects, so a stale index entry adds nothing the rules do not confirm; a
/// resource whose event the cache has taken and the index not yet (the same poll of the watch)
/// is missed as it would have been by a walk of the cache a moment earlier, and the write it
/// might lead to is a compare-and-swap like every other.
fn claimants(ctx: &Context, slots: &[Slot]) -> Vec<Arc<Guarded>> {
    ctx.claims
        .members(slots)
        .iter()
        .filter_map(|key| ctx.store.get(key))
        .collect()
}

/// Resources that share `res`'s last target, to be reconciled again when it goes away (it has
/// left the index by then: the index takes a deletion before it is handed over).
pub fn same_target(ctx: &Context, res: &SendGridEnforcedTls) -> Vec<ObjectRef<Guarded>> {
    let Some(target) = res.status.as_ref().and_then(|s| s.target.clone()) else {
        return Vec::new();
    };
    let (name, namespace) = (res.name_any(), res.namespace());
    ctx.claims
        .members(&[Slot::Target(target)])
        .into_iter()
        .filter(|r| r.name != name || r.namespace != namespace)
        .collect()
}
