//! Gather: the API key from the resource's Secret, whether it has the scopes the resource needs
//! and whose account it reaches, the key kept for its recorded target, the account's claim
//! record and which of its holders are gone. Secrets are read with `get`, one by name, never
//! listed or cached; the last key read per resource is kept in memory only, for cleanup after
//! its Secret is gone.

use super::context::Context;
use super::error::Error;
use crate::api::{
    Guarded, SendGridEnforcedTls, SendGridTarget, TargetAccount, TargetFields, TlsSettings,
};
use crate::decision::Failure;
use crate::decision::scopes::{self, Check};
use crate::sendgrid::{Account, ApiKey, Identity, OnBehalfOf};
use k8s_openapi::api::core::v1::Secret;
use kube::core::PartialObjectMeta;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};
use std::collections::BTreeMap;

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
    let identity = match recorded {
        Some(t) => Identity {
            user_id: t.user_id,
            username: t.username.clone(),
        },
        None => {
            // One read per key and account, however many resources start at once.
            let _turn = ctx.turns.take(&ctx.identities.turn(&account)).await;
            match ctx.identities.get(&account) {
                Some(known) => known,
                None => {
                    permitted(ctx, res, &account).await?;
                    ctx.sendgrid
                        .identity(&account)
                        .await
                        .map_err(Failure::from)?
                }
            }
        }
    };
    ctx.identities.remember(&account, &identity);
    Ok(Reached {
        target: account.target(&identity, version),
        account,
    })
}

/// Whether the key has the scopes `res` needs, as SendGrid lists them: known for a key it
/// granted before, else asked (once per key, however many resources start at once). A key
/// found lacking is refused before any other call and asked again on the next retry; an answer
/// SendGrid could not give lets the key go on (the calls' own 403s still enforce the scopes).
async fn permitted(
    ctx: &Context,
    res: &SendGridEnforcedTls,
    account: &Account,
) -> Result<(), Failure> {
    let writes = scopes::writes(res.spec.mode(), res.spec.deletion_policy());
    let needed = scopes::needed(writes);
    let granted = |ctx: &Context| {
        ctx.identities
            .scopes(&account.key)
            .is_some_and(|listed| scopes::missing(&needed, &listed).is_empty())
    };
    if granted(ctx) {
        return Ok(());
    }
    let _turn = ctx
        .turns
        .take(&ctx.identities.scopes_turn(&account.key))
        .await;
    if granted(ctx) {
        return Ok(());
    }
    let listed = ctx.sendgrid.scopes(account).await;
    let secret = format!(
        "{}/{}",
        res.namespace().unwrap_or_default(),
        res.spec.api_key_secret_ref.name
    );
    match scopes::check(&listed, writes) {
        Check::Granted => {
            ctx.identities
                .grant(&account.key, listed.unwrap_or_default());
            Ok(())
        }
        Check::Unknown => {
            if let Err(error) = &listed {
                tracing::debug!(%error, secret, "SendGrid did not list the key's scopes; going on without");
            }
            Ok(())
        }
        Check::Refused(failure) => {
            if let Failure::MissingScopes { scopes } = &failure
                && ctx.identities.newly_missing(&account.key, scopes)
            {
                tracing::warn!(
                    secret,
                    missing = %scopes.join(", "),
                    "the API key lacks scopes it needs; add them to the key in SendGrid"
                );
            }
            Err(failure)
        }
    }
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
/// if it is known to. When only the region or on-behalf-of moved, the current key may still
/// reach the old account: SendGrid is asked (once; the answer is remembered).
pub async fn key_for(
    ctx: &Context,
    res: &SendGridEnforcedTls,
    target: &TargetAccount,
    current: Option<&Reached>,
) -> Option<ApiKey> {
    if let Some(reached) = current.filter(|r| r.target.same_account(target)) {
        return Some(reached.account.key.clone());
    }
    let kept = res
        .metadata
        .uid
        .as_deref()
        .and_then(|uid| ctx.keys.get(uid));
    if let Some(key) = kept.filter(|k| ctx.identities.reaches(k, target)) {
        return Some(key);
    }
    let key = current?.account.key.clone();
    let account = Account::at(target, key.clone()).ok()?;
    let identity = match ctx.identities.get(&account) {
        Some(known) => known,
        None => {
            let identity = ctx.sendgrid.identity(&account).await.ok()?;
            ctx.identities.remember(&account, &identity);
            identity
        }
    };
    (identity.user_id == target.user_id).then_some(key)
}

/// The account's claim record, as the API server has it now (not a cache: a claim is a
/// compare-and-swap on exactly this version), or why the operator may not read it.
pub async fn record(
    ctx: &Context,
    target: &TargetAccount,
) -> Result<Result<Option<SendGridTarget>, Failure>, Error> {
    let records: Api<SendGridTarget> = Api::all(ctx.kube.clone());
    records_refused(records.get_opt(&target.name).await.map_err(Error::from))
}

/// A refusal (403) of an account record read or write as the resource's failure: a trimmed
/// ClusterRole is reported in its status, not a silent stall. Other errors stay errors.
pub fn records_refused<T>(result: Result<T, Error>) -> Result<Result<T, Failure>, Error> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(Error::Kube(kube::Error::Api(status))) if status.code == 403 => {
            Ok(Err(Failure::TargetsForbidden {
                message: status.message,
            }))
        }
        Err(e) => Err(e),
    }
}

/// The holders in `record` (other than `me`) that are confirmed deleted: not in the cache, and
/// not found when asked. A holder the cache does not know yet (a new leader's cache still
/// filling) is asked for, never assumed gone.
pub async fn gone(ctx: &Context, record: &TargetFields, me: &str) -> Result<Vec<String>, Error> {
    let mut gone = Vec::new();
    for holder in record.holders() {
        let Some((ns, name)) = holder.split_once('/').filter(|_| holder != me) else {
            continue;
        };
        if ctx.store.get(&ObjectRef::new(name).within(ns)).is_some() {
            continue;
        }
        let api: Api<PartialObjectMeta<SendGridEnforcedTls>> =
            Api::namespaced(ctx.kube.clone(), ns);
        if api.get_metadata_opt(name).await?.is_none() {
            gone.push(holder);
        }
    }
    Ok(gone)
}

/// What the other holders in `record` declare now, read from the API server (a cached spec may
/// be an edit behind, and a newcomer that joins on it could write what no holder asks for any
/// more): the managed fields of each live one's spec (nothing for one being deleted: it is
/// letting go). A holder not found, or not readable, is left out and counts as disagreeing.
pub async fn declared(
    ctx: &Context,
    record: &TargetFields,
    me: &str,
) -> Result<BTreeMap<String, TlsSettings>, Error> {
    let mut declared = BTreeMap::new();
    for holder in record.holders() {
        let Some((ns, name)) = holder.split_once('/').filter(|_| holder != me) else {
            continue;
        };
        let api: Api<SendGridEnforcedTls> = Api::namespaced(ctx.kube.clone(), ns);
        let Ok(Some(res)) = api.get_opt(name).await else {
            continue;
        };
        let declares = if res.metadata.deletion_timestamp.is_some() {
            TlsSettings::default()
        } else {
            res.spec.managed()
        };
        declared.insert(holder, declares);
    }
    Ok(declared)
}

/// Other resources that record `target` as theirs (a Conflict loser, one that holds nothing):
/// the account's record stays while any does, so that the next holder inherits its originals.
pub fn residents(ctx: &Context, res: &SendGridEnforcedTls, target: &str) -> bool {
    let (name, namespace) = (res.name_any(), res.namespace());
    ctx.claims
        .members(target)
        .into_iter()
        .any(|r| r.name != name || r.namespace != namespace)
}

/// Resources that share `res`'s last target, to be reconciled again when it goes away (it has
/// left the index by then: the index takes a deletion before it is handed over).
pub fn same_target(ctx: &Context, res: &SendGridEnforcedTls) -> Vec<ObjectRef<Guarded>> {
    let Some(target) = res.status.as_ref().and_then(|s| s.target.as_ref()) else {
        return Vec::new();
    };
    let (name, namespace) = (res.name_any(), res.namespace());
    ctx.claims
        .members(&target.name)
        .into_iter()
        .filter(|r| r.name != name || r.namespace != namespace)
        .collect()
}
