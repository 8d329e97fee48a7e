//! The cluster side: kube-runtime's `Controller` over `SendGridEnforcedTls`, the I/O around the
//! pure decision in [`crate::reconcile`] (read the Secret, write status and Events, finalizers).

pub mod act;
pub mod backoff;
pub mod context;
pub mod error;
pub mod gather;
pub mod jitter;
pub mod leader;
pub mod pace;
pub mod permissions;
pub mod reconcile;
pub mod run;
pub mod watches;

#[cfg(test)]
mod mock_api;
#[cfg(test)]
mod mock_tests;

pub use context::{Context, Settings};
pub use error::Error;
pub use run::{RunOptions, run};
