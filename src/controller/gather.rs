//! Gather: the API key from the resource's Secret and whose account it reaches, the key kept for
//! its recorded target, and where it stands among the resources that claim the same target. Secrets are read with `get`,
//! one by name, never listed or cached; the last key read per resource is kept in memory only,
//! for cleanup after its Secret is gone.

use super::claims::Slot;
use super::context::Context;
use super::error::Error;
use crate::api::{Guarded, SendGridEnforcedTls, TargetAccount, TlsSettings};
use crate::decision::Failure;
use crate::decision::conflict::{Claim, Place, Standing, standing};
use crate::sendgrid::{Account, ApiKey, Identity, OnBehalfOf};
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};
use std::sync::Arc;

/// The resource's key and the SendGrid account it reaches.
#[derive(Clone, Debug)]
pub struct Reached {
    pub account: Account,
    pub target: TargetAccount,
}

/// Reads the key in the resource's Secret and learns whose account it reaches, or why not.
/// The identity is asked of SendGrid only for a key, region and on-behalf-of not seen yet.
pub async fn reach(
    ctx: &Context,
    res: &SendGridEnforcedTls,
) -> Result<Result<Reached, Failure>, Error> {
    let (key, version) = match key(ctx, res).await? {
        Ok(found) => found,
        Err(failure) => return Ok(Err(failure)),
    };
    let account = match account_for(res, key) {
        Ok(account) => account,
        Err(failure) => return Ok(Err(failure)),
    };
    Ok(identify(ctx, res, account, version).await)
}

/// Whose account `account` is: as recorded, when the key cannot have changed since (the same
/// Secret version, the same spec); as learned before in this process; or asked of SendGrid.
async fn identify(
    ctx: &Context,
    res: &SendGridEnforcedTls,
    account: Account,
    version: Option<String>,
) -> Result<Reached, Failure> {
    let status = res.status.as_ref();
    let recorded = status.and_then(|s| s.target.as_ref()).filter(|t| {
        version.is_some()
            && t.secret_resource_version == version
            && status.and_then(|s| s.observed_generation) == res.metadata.generation
            && t.region == account.region
            && t.on_behalf_of == account.on_behalf_of.as_ref().map(OnBehalfOf::to_ref)
    });
    let identity = match (recorded, ctx.identities.get(&account)) {
        (Some(t), _) => Identity {
            user_id: t.user_id,
            username: t.username.clone(),
        },
        (None, Some(known)) => known,
        (None, None) => ctx
            .sendgrid
            .identity(&account)
            .await
            .map_err(Failure::from)?,
    };
    ctx.identities.remember(&account, &identity);
    Ok(Reached {
        target: account.target(&identity, version),
        account,
    })
}

/// The key in the resource's Secret (one shared copy) and the Secret's resourceVersion, or why
/// there is none usable.
async fn key(
    ctx: &Context,
    res: &SendGridEnforcedTls,
) -> Result<Result<(ApiKey, Option<String>), Failure>, Error> {
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
        .and_then(|secret| {
            let key = ctx.key_copies.share(key_from(&secret, res)?);
            Ok((key, secret.metadata.resource_version))
        }))
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

pub(crate) fn key_from(secret: &Secret, res: &SendGridEnforcedTls) -> Result<ApiKey, Failure> {
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
    ApiKey::from_bytes(&bytes.0).map_err(|e| invalid(e.to_string()))
}

/// A key for `target`: the current one if it reaches that account, else the one kept in memory
/// if it is known to.
pub fn key_for(
    ctx: &Context,
    res: &SendGridEnforcedTls,
    target: &TargetAccount,
    current: Option<&Reached>,
) -> Option<ApiKey> {
    current
        .filter(|r| r.target.same_account(target))
        .map(|r| r.account.key.clone())
        .or_else(|| {
            ctx.keys
                .get(res.metadata.uid.as_deref()?)
                .filter(|k| ctx.identities.reaches(k, target))
        })
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
        target: status
            .and_then(|s| s.target.as_ref())
            .map(|t| t.name.as_str()),
        reconciled: status.is_some_and(|s| s.observed_generation.is_some()),
        managed: res.spec.managed(),
    }
}

/// Where `res` (on `target`) stands among the resources that claim its target or its place.
pub fn standing_of(ctx: &Context, res: &SendGridEnforcedTls, target: &TargetAccount) -> Standing {
    let target = target.name.clone();
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
    claimants(ctx, &[Slot::Target(target.name.clone())])
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
    let Some(target) = res
        .status
        .as_ref()
        .and_then(|s| s.target.as_ref())
        .map(|t| t.name.clone())
    else {
        return Vec::new();
    };
    let (name, namespace) = (res.name_any(), res.namespace());
    ctx.claims
        .members(&[Slot::Target(target)])
        .into_iter()
        .filter(|r| r.name != name || r.namespace != namespace)
        .collect()
}
