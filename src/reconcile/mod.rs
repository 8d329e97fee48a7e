//! The reconcile pipeline, minus the cluster: *gather* (the caller reads the Secret and asks
//! SendGrid) -> [`decide`] (pure: spec + observed settings -> what to PATCH, the status, Events,
//! when to come back) -> *act* ([`sync`] sends the PATCH; the controller writes status and Events).
//!
//! The controller and the `plan`/`apply` commands share [`sync::sync`], so a file previewed with
//! `plan` is judged by exactly the code that runs in the cluster.

pub mod cleanup;
pub mod conditions;
pub mod conflict;
pub mod decide;
pub mod failure;
pub mod sync;

pub use decide::{Decision, Facts, Note, NoteKind, Outcome, PatchPlan};
pub use failure::{Failure, Retry};
#[cfg(test)]
mod tests;
