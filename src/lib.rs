//! sendgrid-tls-operator: keeps SendGrid's Enforced TLS settings equal to `SendGridEnforcedTls`
//! resources.

pub mod api;
pub mod cli;
pub mod controller;
pub mod decision;
pub mod sendgrid;
pub mod telemetry;

/// The SendGrid simulator (the `sendgrid-simulator` crate), under the path it always had.
#[cfg(feature = "simulator")]
pub use sendgrid_simulator as simulator;
