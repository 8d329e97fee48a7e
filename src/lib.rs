//! sendgrid-tls-operator: keeps SendGrid's Enforced TLS settings equal to `SendGridEnforcedTls`
//! resources.

pub mod api;
pub mod cli;
pub mod controller;
pub mod reconcile;
pub mod sendgrid;
pub mod simulator;
pub mod telemetry;
