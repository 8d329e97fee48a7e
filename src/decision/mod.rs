//! The reconcile decisions, minus the cluster: pure functions from the spec, the status and what
//! SendGrid reported to what to do next. The controller (`crate::controller::reconcile`) gathers
//! the facts, calls these, and acts.
//!
//! - [`lifecycle`]: finalizer, retarget, deletion and release.
//! - [`conflict`]: who holds a target when several resources claim it.
//! - [`decide`]: the sync itself (gate, decide, after_patch).
//! - [`cleanup`]: what putting a target back changes.

pub(crate) mod cleanup;
pub(crate) mod conditions;
pub(crate) mod conflict;
pub(crate) mod decide;
mod failure;
pub(crate) mod lifecycle;
mod reason;

pub(crate) use decide::{Event, EventKind, Outcome};
pub(crate) use failure::{Failure, Retry};
pub use reason::Reason;
#[cfg(test)]
mod tests;
