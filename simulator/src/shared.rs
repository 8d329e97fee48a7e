//! What the handlers share: the simulator's state, and the means to drop a connection unanswered.

use super::state::SimState;
use axum::response::Response;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::Notify;

/// The state shared by the handlers and every handle.
#[derive(Debug)]
pub struct Shared(Mutex<SimState>);

impl Shared {
    pub fn new(state: SimState) -> Shared {
        Shared(Mutex::new(state))
    }

    /// Locks the state. A panic elsewhere cannot leave it half-changed in a way that matters to a
    /// fake, so a poisoned lock is simply taken over.
    pub fn lock(&self) -> MutexGuard<'_, SimState> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Given to each request (as an extension) so a handler can drop its own connection.
#[derive(Clone, Debug)]
pub struct ConnectionControl(Arc<Notify>);

impl ConnectionControl {
    pub fn new(kill: Arc<Notify>) -> ConnectionControl {
        ConnectionControl(kill)
    }

    /// Tells the connection task to drop the connection, then waits for the drop, which cancels
    /// this future: no response is ever written.
    pub async fn drop_connection(&self) -> Response {
        self.0.notify_one();
        std::future::pending().await
    }
}
