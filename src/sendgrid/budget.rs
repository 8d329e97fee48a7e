//! The client-side rate budget: one ledger per API key, shared by every resource that uses the
//! key, that paces requests below SendGrid's limit so that SendGrid does not have to refuse them.
//!
//! SendGrid counts each key's requests to each endpoint in fixed one-minute windows ("each
//! endpoint permits a fixed number of requests per refresh period"); every response's
//! `X-RateLimit-Reset` names the end of the current one. The ledger keeps, per endpoint and
//! window, the requests sent and the ones held for reconciles promised a place in it, and lets
//! at most the budget (default [`DEFAULT_PER_MINUTE`], a little under SendGrid's 600) through
//! per endpoint and window:
//!
//! - Before a reconcile, the controller asks for the requests it will make
//!   ([`Budgets::reserve`]): a change needs two of the settings endpoint (GET, PATCH) and, for
//!   an account not known yet, one identity read; a drift check of a resource in sync one GET.
//!   A reconcile goes when every endpoint it needs has room in the same window. When the current window is full, a change gets a ticket for the first window with room
//!   (first come, first served) and waits for it in the controller's queue, holding no worker; a
//!   check tries again in the next window, so pending changes go first. A fast lane of every
//!   future window (a twentieth of the budget) is kept from the tickets of a long backlog, for
//!   changes that arose after the backlog began (new resources, edits, reconcile requests,
//!   deletions): a resource created during a 10,000-resource sync waits about one window, not for
//!   the whole backlog.
//! - The client spends the reconcile's [`Pass`] (carried in a task-local, so the reconcile code
//!   does not know about it) and counts every request. A request without a pass gets a place only
//!   if the current window has room; otherwise it is refused locally, like a 429 but unsent.
//! - Responses keep the ledger true: Reset says where SendGrid's windows start, Limit caps the
//!   budget, Remaining reveals requests made with the same key elsewhere.
//!
//! Our clock and SendGrid's may differ by up to [`GUARD`]: a request sent within that of a
//! window boundary is counted in both windows, and waiting reconciles come back that long
//! after a window starts.

use super::account::Endpoint;
use super::ratelimit::RateLimitHeaders;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Requests per key per minute when not configured: 95% of the 600 SendGrid reports.
pub const DEFAULT_PER_MINUTE: u32 = 570;
/// SendGrid's windows are one minute long.
const WINDOW_SECS: u64 = 60;
/// How far apart our clock and SendGrid's may be.
pub const GUARD: Duration = Duration::from_secs(1);

/// A number of requests per endpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Requests([u32; Endpoint::COUNT]);

impl Requests {
    /// `n` requests to the settings endpoint (GET or PATCH of Enforced TLS).
    pub const fn settings(n: u32) -> Requests {
        Requests([0; Endpoint::COUNT]).with(Endpoint::Settings, n)
    }

    /// These and `n` identity reads (`GET /v3/user/username`).
    pub const fn and_identity(self, n: u32) -> Requests {
        self.with(Endpoint::Username, n)
    }

    const fn with(mut self, endpoint: Endpoint, n: u32) -> Requests {
        self.0[endpoint as usize] = n;
        self
    }

    fn of(self, endpoint: Endpoint) -> u32 {
        self.0[endpoint.index()]
    }

    fn is_empty(self) -> bool {
        self.0.iter().all(|n| *n == 0)
    }

    /// Endpoint by endpoint, `f(self, other)`.
    fn zip(self, other: Requests, f: impl Fn(u32, u32) -> u32) -> Requests {
        Requests(std::array::from_fn(|i| f(self.0[i], other.0[i])))
    }
}

/// What a reconcile needs from its key's budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Demand {
    /// A drift check of a resource in sync: one GET; waits behind changes.
    Check,
    /// Anything else: `requests` to SendGrid (a GET, maybe a PATCH, maybe an identity read
    /// first). `since`: when the need arose (a new resource's creation, or now for an edit); one
    /// that arose after the key's backlog began may use the fast lane.
    Change {
        since: Option<SystemTime>,
        requests: Requests,
    },
}

impl Demand {
    fn permits(self) -> Requests {
        match self {
            Demand::Change { requests, .. } if !requests.is_empty() => requests,
            _ => Requests::settings(1),
        }
    }
}

/// The answer to [`Budgets::reserve`].
#[derive(Debug)]
pub enum Reservation {
    /// Go now; the pass covers the requests asked for.
    Now(Arc<Pass>),
    /// Come back at `at` (a window's opening). `ticket`: the window whose places are held for
    /// this reconcile, to be shown when it comes back; `None` for a check, which asks again.
    Later { at: SystemTime, ticket: Option<u64> },
}

/// Places in one key's window held for one reconcile, and the key the reconcile actually used
/// (so the controller learns which key a Secret holds without reading it again).
#[derive(Debug, Default)]
pub struct Pass(Mutex<PassState>);

#[derive(Debug, Default)]
struct PassState {
    /// The key and window the places are in; `None` until a learning pass's first request.
    place: Option<([u8; 32], u64)>,
    left: Requests,
    /// What a learning pass asks for at its first request.
    wanted: Requests,
    seen: Option<[u8; 32]>,
}

impl Pass {
    fn holding(key: [u8; 32], window: u64, places: Requests) -> Arc<Pass> {
        Arc::new(Pass(Mutex::new(PassState {
            place: Some((key, window)),
            left: places,
            ..PassState::default()
        })))
    }

    /// A pass for a reconcile whose key is not known yet: its first request asks for the
    /// `demand`'s places in the current window (and is refused if they do not fit), so that a
    /// PATCH is never refused after its GET went through.
    pub fn learning(demand: Demand) -> Arc<Pass> {
        Arc::new(Pass(Mutex::new(PassState {
            wanted: demand.permits(),
            ..PassState::default()
        })))
    }

    fn state(&self) -> MutexGuard<'_, PassState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The key the reconcile's last request used, if it made one.
    pub fn key_seen(&self) -> Option<[u8; 32]> {
        self.state().seen
    }
}

tokio::task_local! {
    /// The pass of the reconcile this task is running, if the controller gave it one.
    static PASS: Arc<Pass>;
}

/// Runs `future` (one reconcile) with `pass`: its SendGrid requests spend the pass's places.
pub async fn with_pass<F: Future>(pass: Arc<Pass>, future: F) -> F::Output {
    PASS.scope(pass, future).await
}

/// One window's places.
#[derive(Debug, Default, Clone, Copy)]
struct Slot {
    sent: u32,
    held: u32,
}

/// One endpoint's windows in a key's ledger.
#[derive(Debug, Default)]
struct Lane {
    /// SendGrid's limit, once a response has said it.
    limit: Option<u32>,
    slots: BTreeMap<u64, Slot>,
}

impl Lane {
    fn budget(&self, per_minute: u32) -> u32 {
        match self.limit {
            Some(limit) => per_minute.min(limit - limit / 20).max(1),
            None => per_minute.max(1),
        }
    }

    /// What a request that completes a reconcile (a PATCH after its GET) may use: up to
    /// SendGrid's own limit, so that the margin below it absorbs the reconciles in flight.
    fn hard_cap(&self, per_minute: u32) -> u32 {
        self.limit
            .unwrap_or(per_minute + per_minute / 20)
            .max(self.budget(per_minute))
    }

    fn fits(&self, window: u64, n: u32, cap: u32) -> bool {
        self.slots
            .get(&window)
            .is_none_or(|slot| slot.sent + slot.held + n <= cap)
    }
}

/// One key's ledger.
#[derive(Debug, Default)]
struct Ledger {
    /// Seconds past the whole minute at which SendGrid's windows start (learned from Reset).
    phase: u64,
    lanes: [Lane; Endpoint::COUNT],
    /// When the current backlog (tickets beyond the current window) began.
    backlog_since: Option<SystemTime>,
    last_ticket: u64,
}

impl Ledger {
    /// Time since the start of window 0 (the epoch plus the phase).
    fn since_origin(&self, at: SystemTime) -> Duration {
        at.duration_since(UNIX_EPOCH + Duration::from_secs(self.phase))
            .unwrap_or_default()
    }

    /// The window `at` falls in.
    fn window_of(&self, at: SystemTime) -> u64 {
        self.since_origin(at).as_secs() / WINDOW_SECS
    }

    /// The other window `at` may fall in by SendGrid's clock: the one before or after, within
    /// [`GUARD`] of a boundary.
    fn neighbour(&self, at: SystemTime) -> Option<u64> {
        let since = self.since_origin(at);
        let window = since.as_secs() / WINDOW_SECS;
        let into = since - Duration::from_secs(window * WINDOW_SECS);
        if into < GUARD {
            window.checked_sub(1)
        } else if into > Duration::from_secs(WINDOW_SECS) - GUARD {
            Some(window + 1)
        } else {
            None
        }
    }

    /// Moves the window boundaries to `phase` seconds past the minute. Requests counted so far
    /// are all put in the current window (on the safe side); held places keep their window.
    fn set_phase(&mut self, phase: u64, now: SystemTime) {
        if phase == self.phase {
            return;
        }
        self.phase = phase;
        let current = self.window_of(now);
        for lane in &mut self.lanes {
            let sent = lane
                .slots
                .values_mut()
                .map(|slot| std::mem::take(&mut slot.sent))
                .sum();
            lane.slots.entry(current).or_default().sent = sent;
        }
    }

    /// When `window` opens for us.
    fn opens(&self, window: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(window * WINDOW_SECS + self.phase) + GUARD
    }

    /// Forgets windows before `current`'s neighbour (and a backlog that has drained).
    fn prune(&mut self, current: u64) {
        let oldest = current.saturating_sub(1);
        for lane in &mut self.lanes {
            while lane
                .slots
                .first_key_value()
                .is_some_and(|(w, _)| *w < oldest)
            {
                lane.slots.pop_first();
            }
        }
        if self.last_ticket <= current {
            self.backlog_since = None;
        }
    }

    fn lane(&mut self, endpoint: Endpoint) -> &mut Lane {
        &mut self.lanes[endpoint.index()]
    }

    /// Each endpoint's budget.
    fn budgets(&self, per_minute: u32) -> Requests {
        Requests(std::array::from_fn(|i| self.lanes[i].budget(per_minute)))
    }

    /// Holds `n` places in `window` if they fit under `cap` on every endpoint (or none).
    fn hold(&mut self, window: u64, n: Requests, cap: Requests) -> bool {
        let fits = (0..Endpoint::COUNT).all(|i| self.lanes[i].fits(window, n.0[i], cap.0[i]));
        if fits {
            for (lane, n) in self.lanes.iter_mut().zip(n.0) {
                if n > 0 {
                    lane.slots.entry(window).or_default().held += n;
                }
            }
        }
        fits
    }
}

/// The ledgers of all keys, by the key's full SHA-256.
#[derive(Debug)]
pub struct Budgets {
    per_minute: u32,
    ledgers: Mutex<HashMap<[u8; 32], Ledger>>,
}

impl Budgets {
    /// At most `per_minute` requests per key per window (and never more than 95% of the limit
    /// SendGrid reports).
    pub fn new(per_minute: u32) -> Budgets {
        Budgets {
            per_minute,
            ledgers: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<[u8; 32], Ledger>> {
        // Only touched in short non-async sections; a poisoned lock holds consistent data.
        self.ledgers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Asks for a reconcile's requests on `key` at `now`; `ticket` is the window an earlier
    /// answer held for it, if any.
    pub fn reserve(
        &self,
        key: &[u8; 32],
        demand: Demand,
        ticket: Option<u64>,
        now: SystemTime,
    ) -> Reservation {
        let mut ledgers = self.lock();
        let ledger = ledgers.entry(*key).or_default();
        let current = ledger.window_of(now);
        ledger.prune(current);
        let budget = ledger.budgets(self.per_minute);
        let n = demand.permits().zip(budget, u32::min);
        let pass = |window| Reservation::Now(Pass::holding(*key, window, n));
        let missed = match ticket {
            Some(window) if window == current => return pass(current),
            Some(window) if window > current => {
                return Reservation::Later {
                    at: ledger.opens(window),
                    ticket: Some(window),
                };
            }
            Some(_) => true,
            None => false,
        };
        if ledger.hold(current, n, budget) {
            return pass(current);
        }
        let Demand::Change { since, .. } = demand else {
            return Reservation::Later {
                at: ledger.opens(current + 1),
                ticket: None,
            };
        };
        let urgent = missed
            || since
                .zip(ledger.backlog_since)
                .is_some_and(|(since, began)| since > began);
        // Below the budget by the fast lane (or by what fits, for a large demand).
        let cap = if urgent {
            budget
        } else {
            budget.zip(n, |budget, n| budget - (budget / 20).min(budget - n))
        };
        let mut window = current + 1;
        while !ledger.hold(window, n, cap) {
            window += 1;
        }
        if ledger.backlog_since.is_none() {
            ledger.backlog_since = Some(now);
        }
        ledger.last_ticket = ledger.last_ticket.max(window);
        Reservation::Later {
            at: ledger.opens(window),
            ticket: Some(window),
        }
    }

    /// Gives back the places a reconcile did not use.
    pub fn release(&self, pass: &Pass) {
        let (left, place) = {
            let mut state = pass.state();
            (std::mem::take(&mut state.left), state.place)
        };
        let Some((key, window)) = place.filter(|_| !left.is_empty()) else {
            return;
        };
        let mut ledgers = self.lock();
        let Some(ledger) = ledgers.get_mut(&key) else {
            return;
        };
        for (lane, left) in ledger.lanes.iter_mut().zip(left.0) {
            if let Some(slot) = lane.slots.get_mut(&window) {
                slot.held = slot.held.saturating_sub(left);
            }
        }
    }

    /// Counts one request with `key` to `endpoint` at `now`, spending the task's pass if it
    /// covers it. `Err` with the time the next window opens when there is no room for it now.
    pub(crate) fn admit(
        &self,
        key: &[u8; 32],
        endpoint: Endpoint,
        completes: bool,
        now: SystemTime,
    ) -> Result<(), SystemTime> {
        let pass = PASS.try_with(Arc::clone).ok();
        let mut pass = pass.as_deref().map(Pass::state);
        let mut ledgers = self.lock();
        let ledger = ledgers.entry(*key).or_default();
        let current = ledger.window_of(now);
        ledger.prune(current);
        let budgets = ledger.budgets(self.per_minute);
        let lane = &ledger.lanes[endpoint.index()];
        let cap = if completes {
            lane.hard_cap(self.per_minute)
        } else {
            budgets.of(endpoint)
        };
        if let Some(pass) = pass.as_mut() {
            pass.seen = Some(*key);
            if pass.place.is_none() && !pass.wanted.is_empty() {
                // A learning pass's first request: hold the reconcile's places, or refuse.
                let wanted = pass.wanted.zip(budgets, u32::min);
                if !ledger.hold(current, wanted, budgets) {
                    return Err(ledger.opens(current + 1));
                }
                pass.place = Some((*key, current));
                pass.left = wanted;
            }
        }
        let covered = pass.as_mut().is_some_and(|pass| {
            let usable = pass.place == Some((*key, current)) && pass.left.of(endpoint) > 0;
            if usable {
                pass.left.0[endpoint.index()] -= 1;
            }
            usable
        });
        let neighbour = ledger.neighbour(now);
        let lane = ledger.lane(endpoint);
        let full = |window| {
            lane.slots
                .get(&window)
                .is_some_and(|slot| slot.sent + slot.held >= cap)
        };
        if !covered {
            // Wait for the end of the last window that has no room.
            let full = [Some(current), neighbour]
                .into_iter()
                .flatten()
                .filter(|w| full(*w));
            if let Some(last_full) = full.max() {
                return Err(ledger.opens(last_full + 1));
            }
        }
        let slot = lane.slots.entry(current).or_default();
        if covered {
            slot.held = slot.held.saturating_sub(1);
        }
        slot.sent += 1;
        if let Some(window) = neighbour {
            lane.slots.entry(window).or_default().sent += 1;
        }
        Ok(())
    }

    /// Learns from a response's rate-limit headers (for `endpoint`'s window; the windows of all
    /// endpoints start together).
    pub(crate) fn observe(
        &self,
        key: &[u8; 32],
        endpoint: Endpoint,
        headers: &RateLimitHeaders,
        now: SystemTime,
    ) {
        let mut ledgers = self.lock();
        let Some(ledger) = ledgers.get_mut(key) else {
            return;
        };
        if let Some(limit) = headers.limit {
            ledger.lane(endpoint).limit = Some(u32::try_from(limit).unwrap_or(u32::MAX).max(1));
        }
        let Some(reset) = headers.reset else {
            return;
        };
        // Only a Reset within the coming minute names the end of the current window.
        let ahead = reset.duration_since(now).unwrap_or_default();
        if ahead.is_zero() || ahead > Duration::from_secs(WINDOW_SECS + 1) {
            return;
        }
        let reset_secs = reset
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        ledger.set_phase(reset_secs % WINDOW_SECS, now);
        if let (Some(limit), Some(remaining)) = (headers.limit, headers.remaining) {
            let used = u32::try_from(limit.saturating_sub(remaining)).unwrap_or(u32::MAX);
            let window = ledger.window_of(reset - Duration::from_secs(WINDOW_SECS / 2));
            let slot = ledger.lane(endpoint).slots.entry(window).or_default();
            slot.sent = slot.sent.max(used);
        }
    }
}

#[cfg(test)]
mod tests;
