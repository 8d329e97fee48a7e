//! Unit tests of the budget ledger, on a fixed clock.

use super::*;

/// A second past a whole minute: where a window opens until a Reset says otherwise.
const T0: u64 = 1_764_140_401;
/// The window that opens at T0.
const W: u64 = (T0 - 1) / 60;
const KEY: [u8; 32] = [7; 32];

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

const CHANGE: Demand = Demand::Change {
    since: None,
    requests: Requests::settings(2),
};

/// The window a reservation was sent to, or `None` for "go now".
fn ticket(reservation: &Reservation) -> Option<u64> {
    match reservation {
        Reservation::Now(_) => None,
        Reservation::Later { ticket, .. } => *ticket,
    }
}

fn is_now(reservation: &Reservation) -> bool {
    matches!(reservation, Reservation::Now(_))
}

#[test]
fn changes_fill_the_window_then_queue_in_order_leaving_the_fast_lane() {
    // 40 a minute: 20 changes now; later windows take 19 from the backlog (2 places kept).
    let budgets = Budgets::new(40);
    let w = W;
    for _ in 0..20 {
        assert!(is_now(&budgets.reserve(&KEY, CHANGE, None, at(T0))));
    }
    let tickets: Vec<_> = (0..40)
        .map(|_| ticket(&budgets.reserve(&KEY, CHANGE, None, at(T0 + 1))))
        .collect();
    assert!(
        tickets[..19].iter().all(|t| *t == Some(w + 1)),
        "{tickets:?}"
    );
    assert!(tickets[19..38].iter().all(|t| *t == Some(w + 2)));
    assert_eq!(tickets[38..], [Some(w + 3), Some(w + 3)]);
    match budgets.reserve(&KEY, CHANGE, None, at(T0 + 2)) {
        Reservation::Later { at: when, .. } => assert_eq!(when, at(T0 + 180)),
        Reservation::Now(_) => panic!("the window is full"),
    }
    // A drift check waits for the next window without a ticket: it asks again then.
    match budgets.reserve(&KEY, Demand::Check, None, at(T0 + 2)) {
        Reservation::Later { at: when, ticket } => assert_eq!((when, ticket), (at(T0 + 60), None)),
        Reservation::Now(_) => panic!("the window is full"),
    }
}

#[test]
fn a_change_that_arose_after_the_backlog_began_takes_the_fast_lane() {
    let budgets = Budgets::new(40);
    let w = W;
    let old = Demand::Change {
        since: Some(at(T0 - 3600)),
        requests: Requests::settings(2),
    };
    for _ in 0..100 {
        budgets.reserve(&KEY, old, None, at(T0));
    }
    let newcomer = Demand::Change {
        since: Some(at(T0 + 30)),
        requests: Requests::settings(2),
    };
    assert_eq!(
        ticket(&budgets.reserve(&KEY, newcomer, None, at(T0 + 30))),
        Some(w + 1)
    );
    // The fast lane holds one change a window; the next newcomer takes the next window's.
    assert_eq!(
        ticket(&budgets.reserve(&KEY, newcomer, None, at(T0 + 31))),
        Some(w + 2)
    );
    // The old ones keep queueing behind the backlog.
    assert_eq!(
        ticket(&budgets.reserve(&KEY, old, None, at(T0 + 32))),
        Some(w + 5)
    );
}

#[test]
fn a_ticket_is_honoured_in_its_window_only() {
    let budgets = Budgets::new(2);
    let w = W;
    assert!(is_now(&budgets.reserve(&KEY, CHANGE, None, at(T0))));
    let held = budgets.reserve(&KEY, CHANGE, None, at(T0));
    assert_eq!(ticket(&held), Some(w + 1));
    // Early (a watch event brought it back): wait again for the same window.
    assert_eq!(
        ticket(&budgets.reserve(&KEY, CHANGE, Some(w + 1), at(T0 + 30))),
        Some(w + 1)
    );
    // On time: go, on the places held (the window is otherwise full).
    assert!(is_now(&budgets.reserve(
        &KEY,
        CHANGE,
        Some(w + 1),
        at(T0 + 61)
    )));
    assert_eq!(
        ticket(&budgets.reserve(&KEY, CHANGE, None, at(T0 + 61))),
        Some(w + 2)
    );
    // Late: its places are gone; it queues again, ahead of the backlog's bulk.
    assert_eq!(
        ticket(&budgets.reserve(&KEY, CHANGE, Some(w + 1), at(T0 + 125))),
        Some(w + 3)
    );
}

#[tokio::test]
async fn a_pass_covers_its_requests_and_gives_back_what_it_did_not_use() {
    let budgets = Budgets::new(4);
    let Reservation::Now(pass) = budgets.reserve(&KEY, CHANGE, None, at(T0)) else {
        panic!("room for the first change");
    };
    let Reservation::Now(other) = budgets.reserve(&KEY, CHANGE, None, at(T0)) else {
        panic!("room for the second change");
    };
    // Without a pass there is no room left now.
    assert_eq!(
        budgets.admit(&KEY, Endpoint::Settings, false, at(T0 + 1)),
        Err(at(T0 + 60))
    );
    let spent = with_pass(pass.clone(), async {
        (
            budgets.admit(&KEY, Endpoint::Settings, false, at(T0 + 1)),
            budgets.admit(&[9; 32], Endpoint::Settings, false, at(T0 + 1)),
        )
    })
    .await;
    assert_eq!(spent, (Ok(()), Ok(())), "another key has its own ledger");
    assert_eq!(pass.key_seen(), Some([9; 32]), "the key last used");
    // One place of `pass` unused (no PATCH needed): given back, another request gets it.
    budgets.release(&pass);
    assert_eq!(
        budgets.admit(&KEY, Endpoint::Settings, false, at(T0 + 2)),
        Ok(())
    );
    assert_eq!(
        budgets.admit(&KEY, Endpoint::Settings, false, at(T0 + 2)),
        Err(at(T0 + 60))
    );
    budgets.release(&other);
    assert_eq!(
        budgets.admit(&KEY, Endpoint::Settings, false, at(T0 + 2)),
        Ok(())
    );
}

#[tokio::test]
async fn a_learning_pass_holds_its_places_at_its_first_request() {
    let budgets = &Budgets::new(6);
    let admit = |pass: &Arc<Pass>, completes| {
        with_pass(pass.clone(), async move {
            budgets.admit(&KEY, Endpoint::Settings, completes, at(T0))
        })
    };
    let first = Pass::learning(CHANGE);
    assert_eq!(
        (admit(&first, false).await, admit(&first, true).await),
        (Ok(()), Ok(()))
    );
    // The GET holds a second place, for the PATCH.
    let pass = Pass::learning(CHANGE);
    assert_eq!(admit(&pass, false).await, Ok(()));
    assert_eq!(pass.key_seen(), Some(KEY));
    // Requests without a pass fill the window meanwhile...
    assert_eq!(
        budgets.admit(&KEY, Endpoint::Settings, false, at(T0)),
        Ok(())
    );
    assert_eq!(
        budgets.admit(&KEY, Endpoint::Settings, false, at(T0)),
        Ok(())
    );
    assert_eq!(
        budgets.admit(&KEY, Endpoint::Settings, false, at(T0)),
        Err(at(T0 + 60))
    );
    // ...and the PATCH still has its place.
    assert_eq!(admit(&pass, true).await, Ok(()));
    // A change that cannot hold both places is refused at its GET, before anything is sent.
    let other = [8; 32];
    for _ in 0..5 {
        assert_eq!(
            budgets.admit(&other, Endpoint::Settings, false, at(T0)),
            Ok(())
        );
    }
    let refused = with_pass(Pass::learning(CHANGE), async {
        budgets.admit(&other, Endpoint::Settings, false, at(T0))
    });
    assert_eq!(refused.await, Err(at(T0 + 60)));
    // A drift check needs only one.
    let check = with_pass(Pass::learning(Demand::Check), async {
        budgets.admit(&other, Endpoint::Settings, false, at(T0))
    });
    assert_eq!(check.await, Ok(()));
}

#[test]
fn requests_without_a_pass_fit_the_budget_and_a_completing_one_the_limit() {
    let budgets = Budgets::new(20);
    for _ in 0..20 {
        assert_eq!(
            budgets.admit(&KEY, Endpoint::Settings, false, at(T0)),
            Ok(())
        );
    }
    assert!(
        budgets
            .admit(&KEY, Endpoint::Settings, false, at(T0))
            .is_err()
    );
    // A PATCH completing a reconcile may use the margin (limit unknown: 5% over the budget).
    assert_eq!(
        budgets.admit(&KEY, Endpoint::Settings, true, at(T0)),
        Ok(())
    );
    assert!(
        budgets
            .admit(&KEY, Endpoint::Settings, true, at(T0))
            .is_err()
    );
    // Within a second of the boundary a request counts in both windows: it waits until the
    // full one is surely over.
    assert_eq!(
        budgets.admit(&KEY, Endpoint::Settings, false, at(T0 + 59)),
        Err(at(T0 + 60))
    );
    assert_eq!(
        budgets.admit(&KEY, Endpoint::Settings, false, at(T0 + 60)),
        Ok(())
    );
    // The last second of a window counts in the next one too: 19 more fit there, not 20.
    for _ in 0..18 {
        assert_eq!(
            budgets.admit(&KEY, Endpoint::Settings, false, at(T0 + 61)),
            Ok(())
        );
    }
    let last_second = at(T0 + 118) + Duration::from_millis(500);
    assert_eq!(
        budgets.admit(&KEY, Endpoint::Settings, false, last_second),
        Ok(())
    );
    assert_eq!(
        budgets.admit(&KEY, Endpoint::Settings, false, at(T0 + 119)),
        Err(at(T0 + 120))
    );
    for _ in 0..19 {
        assert_eq!(
            budgets.admit(&KEY, Endpoint::Settings, false, at(T0 + 120)),
            Ok(())
        );
    }
    assert_eq!(
        budgets.admit(&KEY, Endpoint::Settings, false, at(T0 + 120)),
        Err(at(T0 + 180))
    );
}

#[test]
fn responses_teach_the_phase_the_limit_and_what_others_used() {
    let budgets = Budgets::new(570);
    assert_eq!(
        budgets.admit(&KEY, Endpoint::Settings, false, at(T0 + 10)),
        Ok(())
    );
    // SendGrid's window ends 37 s past the minute; it allows 100, of which 90 are used.
    budgets.observe(
        &KEY,
        Endpoint::Settings,
        &RateLimitHeaders {
            limit: Some(100),
            remaining: Some(10),
            reset: Some(at(T0 + 37)),
        },
        at(T0 + 10),
    );
    // Budget now 95 (5% under the limit), 90 of it used in the window ending at T0+37.
    for _ in 0..5 {
        assert_eq!(
            budgets.admit(&KEY, Endpoint::Settings, false, at(T0 + 11)),
            Ok(())
        );
    }
    assert_eq!(
        budgets.admit(&KEY, Endpoint::Settings, false, at(T0 + 11)),
        Err(at(T0 + 38))
    );
    // A PATCH may go up to the limit itself.
    for _ in 0..5 {
        assert_eq!(
            budgets.admit(&KEY, Endpoint::Settings, true, at(T0 + 11)),
            Ok(())
        );
    }
    assert!(
        budgets
            .admit(&KEY, Endpoint::Settings, true, at(T0 + 11))
            .is_err()
    );
    // The next window opens at T0+37 (and a second), not at the whole minute.
    assert_eq!(
        budgets.admit(&KEY, Endpoint::Settings, false, at(T0 + 38)),
        Ok(())
    );
    // A Reset too far ahead (garbled, or a 429's) teaches nothing about windows.
    budgets.observe(
        &KEY,
        Endpoint::Settings,
        &RateLimitHeaders {
            reset: Some(at(T0 + 600)),
            ..RateLimitHeaders::default()
        },
        at(T0 + 38),
    );
    for _ in 0..94 {
        assert_eq!(
            budgets.admit(&KEY, Endpoint::Settings, false, at(T0 + 39)),
            Ok(())
        );
    }
    assert_eq!(
        budgets.admit(&KEY, Endpoint::Settings, false, at(T0 + 61)),
        Err(at(T0 + 98))
    );
}

#[test]
fn a_drained_backlog_is_forgotten() {
    let budgets = Budgets::new(40);
    let w = W;
    for _ in 0..21 {
        budgets.reserve(&KEY, CHANGE, None, at(T0));
    }
    // Two windows on, that backlog (begun at T0) has drained; a new one begins at T0+122.
    for _ in 0..20 {
        assert!(is_now(&budgets.reserve(&KEY, CHANGE, None, at(T0 + 121))));
    }
    let since = |secs| Demand::Change {
        since: Some(at(T0 + secs)),
        requests: Requests::settings(2),
    };
    for _ in 0..19 {
        assert_eq!(
            ticket(&budgets.reserve(&KEY, since(100), None, at(T0 + 122))),
            Some(w + 3)
        );
    }
    // Created before the new backlog began: queues behind it, though after the old one began.
    assert_eq!(
        ticket(&budgets.reserve(&KEY, since(100), None, at(T0 + 123))),
        Some(w + 4)
    );
    // Created after: the fast lane of the next window.
    assert_eq!(
        ticket(&budgets.reserve(&KEY, since(125), None, at(T0 + 125))),
        Some(w + 3)
    );
}

#[tokio::test]
async fn each_endpoint_has_its_own_window_and_a_change_needs_room_on_all_it_uses() {
    // 4 a minute per endpoint. Two new resources (identity read, GET, PATCH) fit in one window:
    // 4 settings requests and 2 identity reads, where one shared count would hold only one.
    let budgets = Budgets::new(4);
    let new = Demand::Change {
        since: None,
        requests: Requests::settings(2).and_identity(1),
    };
    let passes: Vec<_> = (0..2)
        .map(|_| match budgets.reserve(&KEY, new, None, at(T0)) {
            Reservation::Now(pass) => pass,
            Reservation::Later { .. } => panic!("room on both endpoints"),
        })
        .collect();
    // The settings lane is full; the identity lane still has two places.
    assert!(!is_now(&budgets.reserve(&KEY, new, None, at(T0))));
    assert!(!is_now(&budgets.reserve(&KEY, Demand::Check, None, at(T0))));
    assert_eq!(
        budgets.admit(&KEY, Endpoint::Username, false, at(T0)),
        Ok(())
    );
    assert_eq!(
        budgets.admit(&KEY, Endpoint::Username, false, at(T0)),
        Ok(())
    );
    assert_eq!(
        budgets.admit(&KEY, Endpoint::Username, false, at(T0)),
        Err(at(T0 + 60)),
        "the identity lane is full too now"
    );
    // Each pass still has its own identity read and both settings requests.
    for pass in &passes {
        let spent = with_pass(pass.clone(), async {
            [
                budgets.admit(&KEY, Endpoint::Username, false, at(T0 + 1)),
                budgets.admit(&KEY, Endpoint::Settings, false, at(T0 + 1)),
                budgets.admit(&KEY, Endpoint::Settings, true, at(T0 + 1)),
            ]
        })
        .await;
        assert_eq!(spent, [Ok(()); 3]);
    }
    // SendGrid's Remaining of one endpoint says nothing of the other's window.
    let other = [8; 32];
    assert_eq!(
        budgets.admit(&other, Endpoint::Username, false, at(T0)),
        Ok(())
    );
    budgets.observe(
        &other,
        Endpoint::Username,
        &RateLimitHeaders {
            limit: Some(4),
            remaining: Some(0),
            reset: Some(at(T0 + 59)),
        },
        at(T0 + 2),
    );
    assert_eq!(
        budgets.admit(&other, Endpoint::Username, false, at(T0 + 2)),
        Err(at(T0 + 60))
    );
    assert_eq!(
        budgets.admit(&other, Endpoint::Settings, false, at(T0 + 2)),
        Ok(())
    );
}
