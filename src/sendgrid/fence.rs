//! One writer, even after a pause: nothing leaves a replica that elected itself leader unless,
//! at that moment, its own monotonic clock says the lease it last renewed is still inside the
//! renew deadline.
//!
//! SendGrid offers no fencing token, so the check sits right before the socket: in the client
//! for SendGrid requests, and before every Kubernetes write the controller makes. A replica frozen
//! past its deadline (a GC pause, a stopped container, a frozen VM) wakes up, and the first
//! request that any timer or in-flight reconcile tries finds the fence closed: it is not sent,
//! and the fence's expiry stops the replica.

use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::watch;

/// Open without leader election (one replica by configuration); with it, open only until the
/// deadline the lease watchdog last set, and closed for good after that.
#[derive(Clone, Debug, Default)]
pub struct Fence(Option<Arc<Tenure>>);

#[derive(Debug)]
struct Tenure {
    /// The instant the lease's renew deadline passes; None before this replica leads.
    until: Mutex<Option<Instant>>,
    /// Turns true, once, when the deadline has passed.
    expired: watch::Sender<bool>,
}

/// Why nothing was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "not sent: this replica is past its leader lease's renew deadline (another replica may lead now); it stops"
)]
pub struct PastDeadline;

impl Fence {
    /// A fence for a replica that takes part in leader election: closed until it leads.
    pub fn leased() -> Fence {
        Fence(Some(Arc::new(Tenure {
            until: Mutex::new(None),
            expired: watch::Sender::new(false),
        })))
    }

    /// The lease was renewed no earlier than `deadline` minus the renew deadline: requests may
    /// go until `deadline`. Never reopens a fence that has expired.
    pub fn extend_to(&self, deadline: Instant) {
        if let Some(tenure) = &self.0
            && !*tenure.expired.borrow()
        {
            let mut until = tenure.until.lock().unwrap_or_else(|e| e.into_inner());
            *until = Some(until.map_or(deadline, |u| u.max(deadline)));
        }
    }

    /// Ok when a request may leave now. Past the deadline the fence closes for good.
    pub fn check(&self) -> Result<(), PastDeadline> {
        let Some(tenure) = &self.0 else {
            return Ok(());
        };
        let until = *tenure.until.lock().unwrap_or_else(|e| e.into_inner());
        match until {
            Some(until) if !*tenure.expired.borrow() && Instant::now() < until => Ok(()),
            _ => {
                if until.is_some() {
                    tenure.expired.send_replace(true);
                }
                Err(PastDeadline)
            }
        }
    }

    /// Closes the fence now (the watchdog found the lease lost).
    pub fn expire(&self) {
        if let Some(tenure) = &self.0 {
            tenure.expired.send_replace(true);
        }
    }

    /// Resolves once the fence has closed for good (never without leader election).
    pub async fn expired(&self) {
        match &self.0 {
            Some(tenure) => {
                let mut expired = tenure.expired.subscribe();
                let _ = expired.wait_for(|e| *e).await;
            }
            None => std::future::pending().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn open_without_election_closed_before_leading_and_for_good_after_the_deadline() {
        assert_eq!(Fence::default().check(), Ok(()));
        let fence = Fence::leased();
        assert_eq!(fence.check(), Err(PastDeadline), "not leading yet");
        fence.extend_to(Instant::now() + Duration::from_secs(60));
        assert_eq!(fence.check(), Ok(()));
        // The deadline moves only forward while open.
        fence.extend_to(Instant::now());
        assert_eq!(fence.check(), Ok(()));
        let past = Fence::leased();
        past.extend_to(Instant::now() - Duration::from_millis(1));
        assert_eq!(past.check(), Err(PastDeadline));
        past.extend_to(Instant::now() + Duration::from_secs(60));
        assert_eq!(past.check(), Err(PastDeadline), "never reopens");
        fence.expire();
        assert_eq!(fence.check(), Err(PastDeadline));
    }

    #[tokio::test]
    async fn expiry_is_announced_once_a_check_finds_the_deadline_past() {
        let fence = Fence::leased();
        fence.extend_to(Instant::now() - Duration::from_millis(1));
        let waiting = tokio::spawn({
            let fence = fence.clone();
            async move { fence.expired().await }
        });
        assert!(fence.check().is_err());
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("expiry announced")
            .unwrap();
    }
}
