//! The integration tests that need no Kubernetes API, in one binary: the built CLI against the
//! SendGrid simulator (`cli`), the generated CRD and its validation (`crd_*`), the SendGrid
//! client against scripted servers, the simulator and SendGrid's OpenAPI file (`sendgrid_*`),
//! the simulator's own API (`simulator_*`), and kstatus's reading of the status (`kstatus`, with
//! the Go program in tools/kstatus-check). One module each: `cargo test --test it cli::` runs one.

#[path = "../support/mod.rs"]
mod support;

mod cli;
mod crd_examples;
mod crd_generated;
mod crd_validation;
mod kstatus;
mod sendgrid_client;
mod sendgrid_client_sim;
mod sendgrid_contract;
mod simulator_admin;
mod simulator_api;
mod simulator_faults;
