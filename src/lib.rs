//! sendgrid-tls-operator: keeps SendGrid's Enforced TLS settings equal to `SendGridEnforcedTls`
//! resources.

pub mod api;
