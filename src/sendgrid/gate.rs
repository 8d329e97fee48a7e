//! A reconcile's own gate, checked right before each of its SendGrid requests (beside the
//! lease fence): a reconcile works from the cache's copy of its resource as it was when it
//! started, so a pause or a deletion written while it waited (for its account's turn, a
//! Secret, a slow answer) would otherwise not stop the requests it still makes. The controller
//! gives each reconcile a gate that looks at the cache's copy now.

use std::sync::Arc;

/// Whether the reconcile running in this task may still send.
#[derive(Clone)]
pub struct Gate(Arc<dyn Fn() -> bool + Send + Sync>);

impl Gate {
    pub fn new(open: impl Fn() -> bool + Send + Sync + 'static) -> Gate {
        Gate(Arc::new(open))
    }
}

tokio::task_local! {
    static GATE: Gate;
}

/// Runs `future` (one reconcile) behind `gate`.
pub async fn with_gate<F: Future>(gate: Gate, future: F) -> F::Output {
    GATE.scope(gate, future).await
}

/// Open unless the task's gate says closed (a request outside a reconcile has none).
pub(crate) fn open() -> bool {
    GATE.try_with(|gate| (gate.0)()).unwrap_or(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[tokio::test]
    async fn the_gate_is_asked_at_each_check_and_only_in_its_task() {
        let paused = Arc::new(AtomicBool::new(false));
        let flag = paused.clone();
        let gate = Gate::new(move || !flag.load(Ordering::SeqCst));
        let seen = with_gate(gate, async {
            let before = open();
            paused.store(true, Ordering::SeqCst);
            (before, open())
        })
        .await;
        assert_eq!(seen, (true, false));
        assert!(open(), "no gate outside a reconcile");
    }
}
