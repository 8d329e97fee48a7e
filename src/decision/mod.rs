//! The reconcile decisions, minus the cluster: pure functions from the spec, the status and what
//! SendGrid reported to what to do next. The controller (`crate::controller::reconcile`) gathers
//! the facts, calls these, and acts.
//!
//! - [`lifecycle`]: finalizer, pause, retarget, deletion and release.
//! - [`claim`]: who holds which field of an account, its originals, what letting go puts back.
//! - [`decide`]: the sync itself (paused, decide, after_patch).
//! - [`cleanup`]: what a resource says when it lets an account go, or waits to.
//! - [`demand`]: what a reconcile will ask of SendGrid, for the pacer.
//! - [`malformed`]: an object that does not match the CRD.
//! - [`scopes`]: the scopes a key needs, judged from SendGrid's list of its scopes.

pub(crate) mod claim;
pub(crate) mod cleanup;
pub(crate) mod conditions;
pub(crate) mod decide;
pub(crate) mod demand;
mod failure;
pub(crate) mod lifecycle;
pub(crate) mod malformed;
pub(crate) mod scopes;

pub(crate) use decide::{Event, EventKind, Outcome};
pub(crate) use failure::{Failure, Retry};
#[cfg(test)]
mod tests;
