//! One reconcile at a time per SendGrid account: reading the account's record, deciding,
//! writing the record and PATCHing SendGrid happen as one step for that account within this
//! replica (one replica writes at all: see the lease fence). The record's compare-and-swap still
//! guards against anything else; this keeps two resources of one account from racing their own
//! PATCHes between a record write and the other's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

#[derive(Default)]
pub struct Turns(Mutex<HashMap<String, Weak<AsyncMutex<()>>>>);

/// Held while a reconcile acts on one account.
pub type Turn = OwnedMutexGuard<()>;

impl Turns {
    /// Waits for the account's turn.
    pub async fn take(&self, account: &str) -> Turn {
        let lock = {
            let mut turns = self.0.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(lock) = turns.get(account).and_then(Weak::upgrade) {
                lock
            } else {
                // Keep the map as small as the accounts in use.
                if turns.len() >= 64 && turns.len().is_power_of_two() {
                    turns.retain(|_, lock| lock.strong_count() > 0);
                }
                let lock = Arc::new(AsyncMutex::new(()));
                turns.insert(account.to_string(), Arc::downgrade(&lock));
                lock
            }
        };
        lock.lock_owned().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn one_turn_per_account_at_a_time_others_go_on() {
        let turns = Arc::new(Turns::default());
        let held = turns.take("global-1").await;
        let other = tokio::time::timeout(Duration::from_secs(5), turns.take("global-2")).await;
        assert!(other.is_ok(), "another account is not held up");
        let waiting = tokio::spawn({
            let turns = turns.clone();
            async move { turns.take("global-1").await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(held);
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("the turn passes on")
            .unwrap();
    }
}
