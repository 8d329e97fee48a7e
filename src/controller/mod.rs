//! The cluster side: kube-runtime's `Controller` over `SendGridEnforcedTls`, the I/O around the
//! pure decision in [`crate::decision`] (read the Secret, write status and Events, finalizers).

mod act;
pub(crate) mod backoff;
mod claims;
mod context;
mod error;
pub(crate) mod gather;
mod identities;
mod jitter;
pub(crate) mod leader;
mod pace;
pub(crate) mod permissions;
mod reconcile;
pub(crate) mod run;
mod turns;
mod watches;

#[cfg(test)]
mod mock_api;
#[cfg(test)]
mod mock_tests;

pub use context::Timing;
pub use run::{RunOptions, run};
