//! sendgrid-tls-operator: keeps SendGrid's Enforced TLS settings equal to `SendGridEnforcedTls`
//! resources.

pub mod api;
pub mod sendgrid;
