//! The API test server's tests, in one binary: built-in kinds, CRUD, watches, and kubectl
//! against it. `common` is the custom resource they share.

mod common;

mod builtins;
mod crud;
mod kubectl;
mod watch;
