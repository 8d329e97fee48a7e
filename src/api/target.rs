//! `SendGridTarget`: one cluster-scoped object per SendGrid account the operator manages, written
//! only by the operator. It is the account's claim record: for each field, the original (what
//! SendGrid had before the operator first changed it), the value the operator last wrote, and
//! the resources that hold it. Claims are compare-and-swap writes of this object made before any
//! PATCH, so the API server's resourceVersion, not a clock, decides who was first.
//!
//! The record is not reconstructible from SendGrid, so it is spec (like a PersistentVolume's
//! `claimRef`). It has no status: what SendGrid shows is in each holder's `status.observed`, and
//! one write per claim keeps a first change at two Kubernetes writes (this record, then the
//! resource's status).

use super::settings::TlsVersion;
use super::spec::{OnBehalfOfRef, Region};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The claim record of one SendGrid account (the parent account, a subuser or a customer
/// account, in one region). Written only by the operator; `kubectl get sgtargets` lists every
/// managed account and who manages it.
#[derive(CustomResource, JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[kube(
    group = "sendgrid.ops.dev",
    version = "v1alpha1",
    kind = "SendGridTarget",
    plural = "sendgridtargets",
    singular = "sendgridtarget",
    shortname = "sgtarget",
    shortname = "sgtargets",
    category = "sendgrid",
    doc = "SendGridTarget is the operator's record of one SendGrid account it manages: for each Enforced TLS field, the original value, the value written and the SendGridEnforcedTls resources that hold it. Written only by the operator; named for the region and SendGrid's user id.",
    printcolumn = r#"{"name":"Region","type":"string","jsonPath":".spec.region"}"#,
    printcolumn = r#"{"name":"Username","type":"string","jsonPath":".spec.username"}"#,
    printcolumn = r#"{"name":"Holders","type":"string","jsonPath":".spec.holders","description":"The resources that hold a field of this account"}"#,
    printcolumn = r#"{"name":"Require-TLS","type":"boolean","jsonPath":".spec.fields.requireTls.written","description":"The value the operator holds require_tls to"}"#,
    printcolumn = r#"{"name":"Valid-Cert","type":"boolean","jsonPath":".spec.fields.requireValidCert.written","description":"The value the operator holds require_valid_cert to"}"#,
    printcolumn = r#"{"name":"Min-TLS","type":"string","jsonPath":".spec.fields.minimumTlsVersion.written","description":"The minimum TLS version the operator holds the account to"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[schemars(transform = super::schema::plain_optional_fields)]
#[serde(rename_all = "camelCase")]
pub struct SendGridTargetSpec {
    /// SendGrid's API region of the account.
    pub region: Region,
    /// SendGrid's user id of the account (`GET /v3/user/username`).
    pub user_id: u64,
    /// The account's username, as SendGrid reports it.
    pub username: String,
    /// The on-behalf-of subuser or customer account it was first reached through, when not a
    /// key's own account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<OnBehalfOfRef>,
    /// Every resource holding a field of this account (namespace/name), for `kubectl get`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub holders: Vec<String>,
    /// The claim of each managed field.
    pub fields: TargetFields,
}

/// The claims of the three Enforced TLS fields; an absent one is not managed by anyone.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[schemars(transform = super::schema::plain_optional_fields)]
#[serde(rename_all = "camelCase")]
pub struct TargetFields {
    /// SendGrid's `require_tls`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_tls: Option<FieldClaim<bool>>,
    /// SendGrid's `require_valid_cert`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_valid_cert: Option<FieldClaim<bool>>,
    /// SendGrid's minimum TLS `version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_tls_version: Option<FieldClaim<TlsVersion>>,
}

/// One field's claim.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[schemars(transform = super::schema::plain_optional_fields)]
// `original` defaults to None: no `T: Default` bound.
#[serde(rename_all = "camelCase", bound(deserialize = "T: Deserialize<'de>"))]
pub struct FieldClaim<T> {
    /// What SendGrid had before the operator first changed this field (absent: SendGrid reported
    /// nothing). Restore puts it back; an heir inherits it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original: Option<T>,
    /// What the operator last wrote (or is about to write: the claim is recorded first).
    pub written: T,
    /// The resources (namespace/name) that declare this value; empty while no live resource
    /// holds it (the original is kept for the next one).
    pub holders: Vec<String>,
}
