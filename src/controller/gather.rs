//! Gather: the API key from the resource's Secret, the account it addresses, and who else claims
//! the same target. Secrets are read with `get`, one by name, never listed or cached.

use super::context::{Context, Guarded};
use super::error::Error;
use crate::api::SendGridEnforcedTls;
use crate::reconcile::Failure;
use crate::reconcile::conflict::{Claim, conflict_with};
use crate::sendgrid::{Account, ApiKey, OnBehalfOf};
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Resource, ResourceExt};

/// The account a resource addresses, or why it cannot be reached.
pub async fn account(
    ctx: &Context,
    res: &SendGridEnforcedTls,
) -> Result<Result<Account, Failure>, Error> {
    let ns = res.namespace().ok_or(Error::NoNamespace)?;
    let secrets: Api<Secret> = Api::namespaced(ctx.kube.clone(), &ns);
    let name = &res.spec.api_key_secret_ref.name;
    let secret = secrets.get_opt(name).await?;
    Ok(secret
        .ok_or_else(|| Failure::SecretNotFound { name: name.clone() })
        .and_then(|secret| key_from(&secret, res))
        .and_then(|key| account_for(res, key)))
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
    let missing = |detail: &str| Failure::SecretKeyNotFound {
        name: name.clone(),
        key: key.clone(),
        detail: detail.to_string(),
    };
    let bytes = secret
        .data
        .as_ref()
        .and_then(|d| d.get(&key))
        .ok_or_else(|| missing("the Secret has no such key"))?;
    let text = std::str::from_utf8(&bytes.0).map_err(|_| missing("the value is not UTF-8 text"))?;
    ApiKey::new(text).map_err(|e| missing(&e.to_string()))
}

/// What a resource claims, for the conflict check; `None` until it has a target.
fn claim(res: &SendGridEnforcedTls, target: Option<&str>) -> Option<Claim> {
    let target = target.or_else(|| res.status.as_ref()?.target.as_deref())?;
    Some(Claim {
        id: format!("{}/{}", res.namespace().unwrap_or_default(), res.name_any()),
        created: res.meta().creation_timestamp.clone(),
        target: target.to_string(),
        managed: res.spec.managed(),
    })
}

/// The resource `res` (on `target`) is in conflict with, if any.
pub fn conflict(ctx: &Context, res: &SendGridEnforcedTls, target: &str) -> Option<String> {
    let me = claim(res, Some(target))?;
    let others: Vec<Claim> = ctx
        .store
        .state()
        .iter()
        .filter_map(|g| g.0.as_ref().ok().and_then(|r| claim(r, None)))
        .collect();
    conflict_with(&me, &others)
}

/// Resources that share `res`'s last target, to be reconciled again when it goes away.
pub fn same_target(
    store: &[std::sync::Arc<Guarded>],
    res: &SendGridEnforcedTls,
) -> Vec<SendGridEnforcedTls> {
    let Some(target) = res.status.as_ref().and_then(|s| s.target.as_deref()) else {
        return Vec::new();
    };
    store
        .iter()
        .filter_map(|g| g.0.as_ref().ok())
        .filter(|r| r.uid() != res.uid())
        .filter(|r| r.status.as_ref().and_then(|s| s.target.as_deref()) == Some(target))
        .cloned()
        .collect()
}
