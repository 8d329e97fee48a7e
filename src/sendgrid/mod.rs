//! The SendGrid client: `GET`/`PATCH /v3/user/settings/enforced_tls` for one [`Account`] at a
//! time, with typed errors and a rate limiter per API key.
//!
//! - [`key`]: the API key, never shown; one copy of each in memory.
//! - [`account`]: key + region + on-behalf-of, and the base URLs.
//! - [`wire`]: the JSON bodies (version as an exact JSON number) and lenient error parsing.
//! - [`budget`]: the per-key rate budget (paces requests below SendGrid's limit).
//! - `ratelimit`: the per-key limiter (refuses locally while SendGrid's window is exhausted).
//! - [`fence`]: one writer: nothing is sent past the leader lease's renew deadline.
//! - [`gate`]: a reconcile whose resource was paused meanwhile sends nothing more.
//! - [`client`]: the HTTP exchange itself.

mod account;
pub(crate) mod budget;
mod client;
mod error;
pub(crate) mod fence;
pub(crate) mod gate;
pub(crate) mod key;
mod ratelimit;
pub(crate) mod wire;

pub use account::{Account, Endpoints, Identity, InvalidOnBehalfOf, OnBehalfOf};
pub use client::{ClientConfig, RequestObserver, SendGridClient};
pub use error::SendGridError;
pub use fence::{Fence, PastDeadline};

/// The scope `GET /v3/user/username` needs (SendGrid's "User Account" read access).
pub const USERNAME_SCOPE: &str = "user.username.read";
pub use key::{ApiKey, InvalidApiKey, KeyCopies};
