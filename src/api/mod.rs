//! The `SendGridEnforcedTls` custom resource: spec, status and the CRD they generate.
//!
//! Defaults live in code (the `SendGridEnforcedTlsSpec` accessors and `spec::DEFAULT_*`), never in
//! the schema: an API-server default would make GitOps tools show the resource out of sync
//! forever. `validation` (feature `validation`) checks a resource as the API server would, for
//! callers without one.

pub mod kstatus;
mod reason;
mod schema;
mod settings;
#[cfg(feature = "simulator")]
mod simulated;
pub(crate) mod spec;
mod status;
mod target;
#[cfg(feature = "validation")]
pub mod validation;

pub use reason::{READY, RECONCILING, Reason, STALLED, SYNCED, condition_status};
pub use settings::{TlsSettings, TlsVersion};
pub use spec::{
    DeletionPolicy, Mode, OnBehalfOfRef, Region, SecretKeyRef, SendGridEnforcedTls,
    SendGridEnforcedTlsSpec,
};
pub use status::{Condition, SendGridEnforcedTlsStatus, TargetAccount};
pub use target::{FieldClaim, SendGridTarget, SendGridTargetSpec, TargetFields};
#[cfg(feature = "validation")]
pub use validation::{Violation, validate_object, validate_resource};

/// A resource as the watch hands it over: one that does not match the schema arrives as an error
/// in place of the object, so it is reported and skipped instead of stopping the watch.
pub type Guarded = kube::core::DeserializeGuard<SendGridEnforcedTls>;

/// Finalizer added only for the `Restore` and `Reset` deletion policies.
pub const FINALIZER: &str = "sendgridenforcedtlses.sendgrid.ops.dev/cleanup";
/// Annotation whose new value forces an immediate reconcile.
pub const RECONCILE_REQUESTED_AT: &str = "sendgrid.ops.dev/reconcile-requested-at";
/// Annotation that pauses a resource: `"true"` means no SendGrid call until it is removed.
pub(crate) const PAUSED: &str = "sendgrid.ops.dev/paused";

/// The pause annotation is `"true"`: no SendGrid call for this resource.
pub(crate) fn is_paused(meta: &kube::core::ObjectMeta) -> bool {
    meta.annotations
        .as_ref()
        .and_then(|a| a.get(PAUSED))
        .is_some_and(|v| v == "true")
}
/// Field manager and Event reporter name (`<kind>.<group>`).
pub const MANAGER: &str = "sendgridenforcedtls.sendgrid.ops.dev";

/// Each CRD's file name in `crds/` and its text, exactly as `sendgrid-tls-operator crd` prints
/// them: the files after the first start with `---`, so that `cat crds/*.yaml` is that output.
pub fn crds() -> [(&'static str, String); 2] {
    use kube::CustomResourceExt;
    // One line per description, however long, as `kubectl get crd -o yaml` shows them: no
    // folding at 80 columns.
    let options = serde_saphyr::ser_options! { folded_wrap_chars: usize::MAX };
    let yaml = |crd| {
        serde_saphyr::to_string_with_options(&crd, options.clone())
            .expect("a CRD always serializes")
    };
    [
        (
            "sendgridenforcedtlses.sendgrid.ops.dev.yaml",
            yaml(SendGridEnforcedTls::crd()),
        ),
        (
            "sendgridtargets.sendgrid.ops.dev.yaml",
            format!("---\n{}", yaml(SendGridTarget::crd())),
        ),
    ]
}

/// Every CRD as one multi-document YAML stream, as `sendgrid-tls-operator crd` prints it.
pub fn crd_yaml() -> String {
    crds().into_iter().map(|(_, yaml)| yaml).collect()
}
