//! A stateful fake of the SendGrid API the operator calls, for tests, demos and the operator's
//! `simulate` subcommand (behind its cargo feature `simulator`, which re-exports this crate as
//! `sendgrid_tls_operator::simulator`). It depends on nothing of the operator: it reads and writes
//! SendGrid's JSON with types of its own (`settings`, `wire`, `patch`).
//!
//! It answers `GET`/`PATCH /v3/user/settings/enforced_tls`, `GET /v3/user/username` and `GET
//! /v3/scopes` on the global host (`/v3/...`) and the EU host (`/eu/v3/...`) the way SendGrid's
//! OpenAPI descriptions and the live API's habits say: Bearer keys with scopes, parent accounts
//! with subusers and customer accounts for `on-behalf-of`, each with a user id of its own,
//! data-residency 451s, `{"errors":[...]}` bodies, strict PATCH validation, per-key rate limits
//! with `X-RateLimit-*` headers. Faults (latency, 5xx, dropped connections, 429 bursts, a TLS
//! version the account's plan refuses) can be injected, settings changed "from the UI" to create
//! drift, and every API request is logged (with a key fingerprint, never the key) and counted (the
//! counts stay exact past the log's bound). Accounts can hold fleets of subusers and customer
//! accounts named by pattern (`team-{0..9999}`). The same controls are served as JSON under
//! `/_sim/...` (see `admin`).

mod accounts;
mod admin;
mod api;
mod endpoints;
mod engine;
mod faults;
mod fleet;
mod patch;
mod ratelimit;
mod server;
mod settings;
mod shared;
mod state;
mod wire;

pub use accounts::{SimAccount, SimUser};
pub use faults::Fault;
pub use server::{Simulator, SimulatorHandle};
pub use settings::{Region, TlsSettings, TlsVersion};
pub use state::{LoggedRequest, RequestCount, Scope, SimConfig, SimKey};
