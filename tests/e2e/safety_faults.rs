//! Write safety under faults, end to end: two keys of one account that disagree,
//! an error body echoing the Authorization header wherever the message cut falls, a leader whose
//! Lease renewals fail, a leader frozen past its Lease, transient 408/425, failure episodes
//! written once, JSON logs without duplicate keys, a forbidden Secret, a fresh backoff for a
//! re-created resource, and a Secret that does not hold a SendGrid key. Those that need no fault
//! only the API test server can make run on both APIs.

use super::env::*;
use super::operator::Operator;
use k8s_openapi::jiff::Timestamp;
use kube_testkit::{Refusal, ResourceRef};
use sendgrid_tls_operator::api::TlsVersion;
use sendgrid_tls_operator::simulator::{Fault, Scope, SimKey};
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashSet};
use std::time::{Duration, SystemTime};

fn patches(env: &Env) -> usize {
    env.sg(|r| r.method == "PATCH").len()
}

// Two keys of one account reach one target: SendGrid's user id, not the key, names it. Two
// resources that disagree through different keys are a Conflict from the start, decided by the
// account's record: one PATCH at most, never a fight.
async fn two_keys_of_one_account_are_one_target_and_never_fight(backend: Backend) {
    let env = Env::on(backend).await;
    // KEY and KEY2 both belong to the simulator's account "main".
    env.secret("key-a", &[("apiKey", KEY)]).await;
    env.secret("key-b", &[("apiKey", KEY2)]).await;
    let _op = env.operator(&["--default-resync-interval", "1s"]);
    env.create(
        "strict",
        json!({"apiKeySecretRef": {"name": "key-a"}, "minimumTlsVersion": "1.3"}),
    )
    .await;
    env.create(
        "lax",
        json!({"apiKeySecretRef": {"name": "key-b"}, "minimumTlsVersion": "1.2"}),
    )
    .await;
    let conflict = |env: &Env, name: &str| {
        env.get(name)
            .is_some_and(|o| has_condition(&o, "Ready", "False", "Conflict"))
    };
    env.until("one holds, the other is in Conflict", WAIT, |env| {
        let ready = |name| env.get(name).is_some_and(|o| is_ready(&o));
        (ready("strict") && conflict(env, "lax")) || (ready("lax") && conflict(env, "strict"))
    })
    .await;
    let (winner, loser) = if conflict(&env, "lax") {
        ("strict", "lax")
    } else {
        ("lax", "strict")
    };
    let target = env.get(winner).unwrap()["status"]["target"]["name"].clone();
    assert_eq!(
        env.get(loser).unwrap()["status"]["target"]["name"],
        target,
        "both keys reach one account"
    );
    let fought = patches(&env);
    // Resyncs every second for a while: watching for an absence, the one place a sleep fits.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(patches(&env), fought, "no PATCH after the claim");
    assert_eq!(fought, 1, "one PATCH, by the holder");
    assert!(message(&env.get(loser).unwrap(), "Ready").contains(&format!("mail/{winner}")));
    assert_eq!(env.published(loser, "Conflict"), 1, "one Warning");
    let record = env.record(target.as_str().unwrap()).unwrap();
    assert_eq!(record["spec"]["holders"], json!([format!("mail/{winner}")]));
    report(
        "two keys of one account disagree",
        format!(
            "one target {target}; {fought} PATCH in all; {loser} Conflict with 1 Warning, {winner} InSync"
        ),
    );
    env.assert_no_key_leaks();
}

/// A key only the echo test uses: random-looking, so that no piece of it occurs by chance in a
/// uid, a timestamp or a count.
const ECHOED_KEY: &str = "SG.Echoed-Key-Id.Zq8vN2pLr5TxW7yKc3HdJm9FbQ";
/// The shortest piece of a key that must never appear.
const PIECE: usize = 8;
/// Where the client cuts SendGrid's error text (characters of the message after the status).
const MESSAGE_CUT: usize = 500;
/// What the simulator writes between the padding and the key.
const ECHO_PREFIX: &str = "Authorization: Bearer ";

/// A piece of [`ECHOED_KEY`] found in `text`, if any.
fn key_piece(text: &str) -> Option<&'static str> {
    (0..=ECHOED_KEY.len() - PIECE)
        .map(|at| &ECHOED_KEY[at..at + PIECE])
        .find(|piece| text.contains(piece))
}

fn assert_no_piece(text: &str, place: &str) {
    if let Some(piece) = key_piece(text) {
        panic!("a piece of the API key ({piece:?}) is in {place}: {text}");
    }
}

// an error body that echoes the Authorization header must leave no part of the
// key in status, Events or logs, wherever the 500-character cut falls inside the key.
async fn echoed_authorization_never_leaks_a_piece_of_the_key(backend: Backend) {
    const RESOURCES: usize = 12;
    let env = Env::on(backend).await;
    env.sim.add_key(SimKey {
        key: ECHOED_KEY.into(),
        account: "main".into(),
        scopes: Scope::ALL.to_vec(),
    });
    env.key_secret(ECHOED_KEY).await;
    let op = env.operator(&["--default-resync-interval", "1s"]);
    let names: Vec<String> = (0..RESOURCES).map(|n| format!("echo-{n:02}")).collect();
    for name in &names {
        env.create(name, json!({"requireTls": true})).await;
    }
    for name in &names {
        env.wait_ready(name).await;
    }
    let before = env.sim.requests().len();

    // Every padding that puts the cut anywhere from just before the key to just after it, as a
    // Rejected (400) and as a transient (502) failure.
    let key_at = MESSAGE_CUT - ECHO_PREFIX.len();
    let paddings = key_at - ECHOED_KEY.len() - PIECE..=key_at + PIECE;
    let mut injected = BTreeSet::new();
    for padding in paddings.clone() {
        for status in [400u16, 502] {
            env.sim.inject(Fault::EchoAuthorization {
                count: 1,
                status,
                padding,
            });
            injected.insert((status, padding));
        }
    }
    let echoes = |env: &Env| {
        env.sim.requests()[before..]
            .iter()
            .filter(|r| matches!(r.status, 400 | 502))
            .count()
    };
    // Statuses are checked on every change while the faults are answered.
    env.until(
        "every echo to be answered",
        Duration::from_secs(180),
        |env| {
            for name in &names {
                if let Some(object) = env.get(name) {
                    assert_no_piece(&object["status"].to_string(), &format!("{name}'s status"));
                }
            }
            echoes(env) == injected.len()
        },
    )
    .await;
    for name in &names {
        env.until(&format!("{name} to recover"), WAIT, |env| {
            env.get(name)
                .is_some_and(|o| has_condition(&o, "Synced", "True", "ReconcileSuccess"))
        })
        .await;
    }

    let mut notes = 0;
    for kind in [events(), ResourceRef::new("", "events")] {
        for event in env.server.list_objects(&kind, Some(NS)) {
            notes += usize::from(event["note"].as_str().is_some_and(|n| n.contains("Bearer")));
            assert_no_piece(&event.to_string(), "an Event");
        }
    }
    let lines = op.logs().lines();
    for line in &lines {
        assert_no_piece(line, "a log line");
    }
    // Each failure is logged once with its message: the x-run gives the padding back, so this
    // shows that the operator saw every cut position, not only that nothing leaked.
    let seen: BTreeSet<(u16, usize)> = op
        .logs()
        .json()
        .iter()
        .filter(|l| l["message"] == "SendGrid not in sync")
        .filter_map(|l| {
            let (status, rest) = l["failure"].as_str()?.split_once(": ")?;
            let padding = rest.chars().take_while(|c| *c == 'x').count();
            Some((status.get(..3)?.parse().ok()?, padding))
        })
        .filter(|(_, padding)| paddings.contains(padding))
        .collect();
    assert_eq!(seen, injected, "every echo reached the operator's log");
    assert!(notes > 0, "the echoed text reached the Events");
    report(
        "error body echoing the key",
        format!(
            "{} echoes (paddings {paddings:?}, status 400 and 502) over {RESOURCES} resources; no piece of {PIECE}+ characters of the key in any status, in {notes} Events quoting the echo, or in {} log lines",
            injected.len(),
            lines.len()
        ),
    );
    env.assert_no_key_leaks();
}

/// A replica with the chart's leader election (its Lease in the release namespace);
/// `lease_seconds` also tells its renewals apart (below).
fn replica(env: &Env, name: &str, lease_seconds: &str) -> Operator {
    env.operator_as(
        name,
        &[
            "--lease-duration",
            lease_seconds,
            "--default-resync-interval",
            "1s",
        ],
        &[("POD_NAME", name)],
    )
}

fn holder(env: &Env) -> Option<String> {
    env.lease_holder()
}

fn logged_at(line: &Value) -> Timestamp {
    line["timestamp"].as_str().unwrap().parse().unwrap()
}

/// The times of this operator's SendGrid calls, from its log.
fn exchanges(op: &Operator) -> Vec<Timestamp> {
    op.logs()
        .json()
        .iter()
        .filter(|l| l["message"] == "SendGrid exchange")
        .map(logged_at)
        .collect()
}

// Refusing one replica's Lease renewals while the other's go through is a fault the real control
// plane cannot make; `a_leader_frozen_past_its_lease_sends_nothing_when_it_wakes` shows the rule
// (one writer) there.
// a leader whose Lease renewals fail must stop on its own before a standby can
// take the Lease over, so two controllers never write at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_that_cannot_renew_stops_before_the_standby_leads() {
    let env = Env::start().await;
    env.key_secret(KEY).await;
    let mut a = replica(&env, "op-a", "6");
    a.wait_log("leading", WAIT).await;
    assert_eq!(holder(&env).as_deref(), Some("op-a"));
    let mut b = replica(&env, "op-b", "7");
    b.wait_log("waiting to lead", WAIT).await;
    env.create("account", json!({"requireTls": true})).await;
    env.wait_ready("account").await;

    // kube-lease-manager renews with a strategic merge patch of only renewTime and
    // leaseDurationSeconds (keys sorted), which no acquisition has at the start of its spec; the
    // replicas' different durations make the refusal hit op-a's renewals alone.
    env.server.test_server().refuse(Refusal {
        method: "PATCH".into(),
        path_contains: "/leases/".into(),
        body_contains: Some(r#""spec":{"leaseDurationSeconds":6,"#.into()),
        status: 503,
        count: u32::MAX,
    });
    let stopped = a
        .wait_log(
            "no Lease renewal within the renew deadline",
            Duration::from_secs(30),
        )
        .await;
    let leading = b.wait_log("leading", Duration::from_secs(30)).await;
    let a_logs = a.logs();
    env.until("op-a to exit", WAIT, |_| {
        a_logs
            .lines()
            .iter()
            .any(|l| l.contains("lost the leader lease"))
    })
    .await;
    assert_eq!(a.terminate().await, Some(1), "exits non-zero on its own");
    env.until("op-b to reconcile", WAIT, |_| !exchanges(&b).is_empty())
        .await;
    assert_eq!(holder(&env).as_deref(), Some("op-b"));

    let (stopped, leading) = (logged_at(&stopped), logged_at(&leading));
    assert!(
        stopped < leading,
        "op-a stopped at {stopped}, after op-b began leading at {leading}"
    );
    let last_a = *exchanges(&a).last().expect("op-a reconciled");
    let first_b = exchanges(&b)[0];
    assert!(
        last_a < leading && last_a < first_b,
        "op-a called SendGrid at {last_a}, op-b leads from {leading} (first call {first_b})"
    );
    report(
        "leader cannot renew its Lease",
        format!(
            "op-a stopped {:.2}s before op-b began leading; op-a's last SendGrid call {:.2}s before op-b's first; op-a exit code 1",
            leading.duration_since(stopped).as_secs_f64(),
            first_b.duration_since(last_a).as_secs_f64()
        ),
    );
    env.assert_no_key_leaks();
}

// A leader frozen past its lease (SIGSTOP: a GC pause, a stopped container, a frozen VM) wakes
// up with its timers expired while the standby already leads: whatever runs first finds the
// fence closed, nothing reaches SendGrid, and the old leader stops.
async fn a_leader_frozen_past_its_lease_sends_nothing_when_it_wakes(backend: Backend) {
    let env = Env::setup(backend, Chart::LeaderElection, sim_config()).await;
    env.key_secret(KEY).await;
    let mut a = replica(&env, "op-a", "3");
    a.wait_log("leading", WAIT).await;
    let mut b = replica(&env, "op-b", "3");
    b.wait_log("waiting to lead", WAIT).await;
    env.create("account", json!({"requireTls": true})).await;
    env.wait_ready("account").await;
    let before = exchanges(&a).len();
    a.signal("STOP");
    b.wait_log("leading", Duration::from_secs(30)).await;
    env.until("op-b to reconcile", WAIT, |_| !exchanges(&b).is_empty())
        .await;
    // Drift while op-a sleeps: its resync timers (1s) have all fired by the time it wakes.
    env.sim
        .set_from_ui("main", None, tls(false, false, TlsVersion::V1_1));
    env.until("op-b puts the drift back", WAIT, |env| {
        env.settings(None).require_tls == Some(true)
    })
    .await;
    let woke = Timestamp::now();
    a.signal("CONT");
    assert_eq!(
        a.exited(Duration::from_secs(30)).await,
        Some(1),
        "the woken leader stops on its own"
    );
    let after: Vec<Value> = a
        .logs()
        .json()
        .into_iter()
        .filter(|l| l["message"] == "SendGrid exchange" && logged_at(l) > woke)
        .collect();
    assert!(
        after.iter().all(|l| l["class"] == "fenced"),
        "op-a sent something after waking: {after:?}"
    );
    assert_eq!(holder(&env).as_deref(), Some("op-b"));
    assert!(is_ready(&env.get("account").unwrap()));
    report(
        "leader frozen past its lease",
        format!(
            "op-a: {before} SendGrid calls before SIGSTOP, {} after SIGCONT, all fenced (not sent); exit code 1; op-b leads",
            after.len()
        ),
    );
    env.assert_no_key_leaks();
}

// 408 and 425 mean "try again": Synced=False ApiUnavailable, Ready as it was,
// and the resource recovers by itself (not parked until a spec change or the 10m resync).
async fn request_timeout_and_too_early_are_transient(backend: Backend) {
    const FAILURES: usize = 5;
    let (env, _op, object) = Env::account_ready(backend, &[], json!({"requireTls": true})).await;
    let ready = condition(&object, "Ready").unwrap().clone();
    for status in [408u16, 425] {
        env.sim.inject(Fault::ServerErrors {
            count: FAILURES as u32,
            status,
        });
        env.request_reconcile("account", &status.to_string()).await;
        let failing = env
            .wait_condition("account", "Synced", "False", "ApiUnavailable")
            .await;
        assert!(
            message(&failing, "Synced").starts_with(&status.to_string()),
            "{}",
            message(&failing, "Synced")
        );
        assert_eq!(
            condition(&failing, "Ready"),
            Some(&ready),
            "Ready unchanged"
        );
        env.wait_condition("account", "Synced", "True", "ReconcileSuccess")
            .await;
        let answered = env.sg(|r| r.status == status).len();
        assert_eq!(answered, FAILURES, "retried until the fault ended");
    }
    let object = env.get("account").unwrap();
    assert_eq!(condition(&object, "Ready"), Some(&ready));
    assert_eq!(env.published("account", "ApiUnavailable"), 2);
    report(
        "408 and 425",
        format!(
            "Synced=False ApiUnavailable with Ready unchanged; {FAILURES} attempts each, recovered without a spec change (resync 10m)"
        ),
    );
    env.assert_no_key_leaks();
}

/// Runs one failure episode on a Ready resource: `fault`, answered `count` times, then the
/// recovery. Returns (status writes, Events with `reason`) the episode caused.
async fn episode(env: &Env, fault: Fault, count: usize, status: u16, reason: &str) -> (usize, u64) {
    let writes = env.operator_writes("account").0;
    let events = env.published("account", reason);
    let start = env.sim.requests().len();
    env.sim.inject(fault);
    let mut failing = false;
    env.until(
        &format!("{count} answers {status} and the recovery"),
        // After a 429 that said Remaining 0, the key's budget holds the next resync back for
        // up to half a minute past Reset.
        Duration::from_secs(90),
        |env| {
            let object = env.get("account").unwrap();
            failing |= has_condition(&object, "Synced", "False", reason);
            assert!(is_ready(&object), "Ready unchanged: {object}");
            let log = &env.sim.requests()[start..];
            let last = log.iter().rposition(|r| r.status == status);
            // Two quiet GETs after the last failure: time for any late write to show.
            let after = last.map_or(0, |at| {
                log[at + 1..].iter().filter(|r| r.status == 200).count()
            });
            log.iter().filter(|r| r.status == status).count() == count
                && after >= 2
                && has_condition(&object, "Synced", "True", "ReconcileSuccess")
        },
    )
    .await;
    assert!(failing, "Synced=False {reason} was written");
    (
        env.operator_writes("account").0 - writes,
        env.published("account", reason) - events,
    )
}

// a burst of 503s, and one of 429s whose reset time moves, on a Ready resource:
// each episode writes status once and emits one Warning, then writes once on recovery.
async fn failure_episode_writes_once_and_warns_once(backend: Backend) {
    const BURST: usize = 6;
    let (env, _op, _) = Env::account_ready(
        backend,
        &["--default-resync-interval", "1s"],
        json!({"requireTls": true}),
    )
    .await;
    // The first apply's status write, counted before the episode takes its baseline (the request
    // log may trail the stored object).
    env.until("the first status write logged", WAIT, |env| {
        env.operator_writes("account").0 == 1
    })
    .await;

    let unavailable = episode(
        &env,
        Fault::ServerErrors {
            count: BURST as u32,
            status: 503,
        },
        BURST,
        503,
        "ApiUnavailable",
    )
    .await;
    assert_eq!(unavailable, (2, 1), "(status writes, Warnings) for 503s");
    let limited = episode(
        &env,
        Fault::RateLimitBurst {
            count: 4,
            reset_after: Duration::from_secs(1),
        },
        4,
        429,
        "RateLimited",
    )
    .await;
    assert_eq!(limited, (2, 1), "(status writes, Warnings) for 429s");
    report(
        "failure episodes",
        format!(
            "{BURST} x 503: {} status writes, {} Warning; 4 x 429 with moving resets: {} status writes, {} Warning (failure + recovery)",
            unavailable.0, unavailable.1, limited.0, limited.1
        ),
    );
    env.assert_no_key_leaks();
}

/// Collects the keys that occur twice in one object anywhere in a JSON text. serde_json keeps the
/// last of duplicates, so parsing to a `Value` would hide them.
struct Duplicates<'a>(&'a mut Vec<String>);

impl<'de> DeserializeSeed<'de> for Duplicates<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Duplicates<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut keys = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            map.next_value_seed(Duplicates(&mut *self.0))?;
            if !keys.insert(key.clone()) {
                self.0.push(key);
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Duplicates(&mut *self.0))?.is_some() {}
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

fn duplicate_keys(line: &str) -> serde_json::Result<Vec<String>> {
    let mut found = Vec::new();
    let mut deserializer = serde_json::Deserializer::from_str(line);
    Duplicates(&mut found).deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(found)
}

// every JSON log line is one object without duplicate keys (it had two
// "target" keys: the event's target and a field named target).
async fn json_log_lines_have_no_duplicate_keys(backend: Backend) {
    assert_eq!(
        duplicate_keys(r#"{"target":"a","fields":{"x":1,"x":2},"target":"b"}"#).unwrap(),
        ["x", "target"],
        "the check finds duplicates at any depth"
    );
    let env = Env::on(backend).await;
    env.key_secret(KEY).await;
    env.secret("revoked", &[("apiKey", BAD_KEY)]).await;
    let op = env.operator(&[]);
    env.create("account", json!({"requireTls": true})).await;
    env.create(
        "failing",
        json!({"apiKeySecretRef": {"name": "revoked"}, "requireTls": true}),
    )
    .await;
    env.wait_ready("account").await;
    env.wait_condition("failing", "Synced", "False", "Unauthorized")
        .await;
    let lines = op.logs().lines();
    for line in &lines {
        let duplicates = duplicate_keys(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(duplicates.is_empty(), "keys {duplicates:?} twice in {line}");
    }
    let exchanges = op.logs().count("SendGrid exchange");
    assert!(
        exchanges > 0,
        "the lines that name a SendGrid target were checked"
    );
    report(
        "JSON logs",
        format!(
            "{} lines ({exchanges} SendGrid exchanges), no duplicate key",
            lines.len()
        ),
    );
}

// A 403 on one Secret's GET while the chart's RBAC grants it is a fault the real control plane
// cannot make; there `a_missing_permission_is_named_at_start_and_in_status` takes the rule out of
// the chart's ClusterRole instead.
// a 403 on the Secret GET (RBAC) is reported in status, naming RBAC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_secret_is_reported_naming_rbac() {
    let env = Env::start().await;
    env.key_secret(KEY).await;
    env.server.test_server().refuse(Refusal {
        method: "GET".into(),
        path_contains: format!("/namespaces/{NS}/secrets/{SECRET}"),
        body_contains: None,
        status: 403,
        count: u32::MAX,
    });
    let _op = env.operator(&[]);
    env.create("account", json!({"requireTls": true})).await;
    let object = env
        .wait_condition("account", "Synced", "False", "SecretForbidden")
        .await;
    let text = message(&object, "Synced");
    assert!(text.contains("RBAC") && text.contains(SECRET), "{text}");
    assert!(has_condition(&object, "Ready", "False", "Pending"));
    env.until("the Warning Event", WAIT, |env| {
        env.published("account", "SecretForbidden") == 1
    })
    .await;
    assert!(env.sim.requests().is_empty(), "no key, no SendGrid call");
    report(
        "403 on the Secret",
        format!("Synced=False SecretForbidden: {text}"),
    );
    env.assert_no_key_leaks();
}

// a resource deleted and re-created with the same name starts with a fresh
// backoff: its first retry comes after the base delay, not after the grown one.
async fn recreated_resource_starts_with_a_fresh_backoff(backend: Backend) {
    const GROWN: usize = 7;
    const BASE: f64 = 0.1;
    let env = Env::on(backend).await;
    env.key_secret(BAD_KEY).await;
    let _op = env.operator(&["--retry-base-delay", "100ms", "--retry-max-delay", "60s"]);
    let spec = json!({"requireTls": true});
    env.create("account", spec.clone()).await;
    env.until(
        &format!("{GROWN} failed attempts"),
        Duration::from_secs(60),
        |env| env.sim.requests().len() >= GROWN,
    )
    .await;
    env.delete("account").await;
    env.wait_gone("account").await;
    let attempts = env.sim.requests().len();
    // The next delay the old count would give, at its least (jitter takes up to half off).
    let inherited = 0.5 * (BASE * f64::from(1u32 << attempts)).min(60.0);

    let recreated = SystemTime::now();
    env.create("account", spec).await;
    let new = |env: &Env| env.sg(|r| r.at >= recreated);
    env.until("two attempts of the new resource", WAIT, |env| {
        new(env).len() >= 2
    })
    .await;
    let retry = gaps(&new(&env))[0];
    assert!(
        retry < inherited / 2.0,
        "first retry after {retry:.2}s; the old count would wait at least {inherited:.2}s"
    );
    report(
        "re-created resource",
        format!(
            "first retry after {retry:.2}s (base {BASE}s); the deleted one had {attempts} attempts, its next wait at least {inherited:.1}s"
        ),
    );
    env.assert_no_key_leaks();
}

// a Secret value that is not shaped like a SendGrid key, or longer than any (256 characters at
// most), is never sent anywhere, and no fingerprint of it is published.
async fn secret_that_is_not_a_sendgrid_key_is_never_used(backend: Backend) {
    const PASSWORD: &str = "hunter2";
    let env = Env::on(backend).await;
    env.key_secret(PASSWORD).await;
    let long = format!("SG.{}.{}", "k".repeat(22), "s".repeat(300));
    env.secret("long-key", &[("apiKey", &long)]).await;
    let op = env.operator(&[]);
    env.create(
        "long",
        json!({"apiKeySecretRef": {"name": "long-key"}, "requireTls": true}),
    )
    .await;
    env.create("account", json!({"requireTls": true})).await;
    let too_long = env
        .wait_condition("long", "Synced", "False", "SecretKeyInvalid")
        .await;
    assert!(
        message(&too_long, "Synced").contains("256"),
        "{}",
        message(&too_long, "Synced")
    );
    let object = env
        .wait_condition("account", "Synced", "False", "SecretKeyInvalid")
        .await;
    assert!(has_condition(&object, "Ready", "False", "Pending"));
    let status = &object["status"];
    assert!(status["target"].is_null(), "no target: {status}");
    assert!(!status.to_string().contains("key-"), "{status}");
    env.until("the Warning Event", WAIT, |env| {
        env.published("account", "SecretKeyInvalid") == 1
    })
    .await;
    assert!(env.sim.requests().is_empty(), "SendGrid received nothing");
    let notes = env.server.list_objects(&events(), Some(NS));
    let texts = [object.to_string(), too_long.to_string()]
        .into_iter()
        .chain(notes.iter().map(Value::to_string))
        .chain(op.logs().lines());
    for text in texts {
        assert!(
            !text.contains(PASSWORD) && !text.contains(&long[30..60]),
            "the Secret's value leaked: {text}"
        );
    }
    report(
        "Secret not shaped like a key",
        format!(
            "Synced=False SecretKeyInvalid: {}",
            message(&object, "Synced")
        ),
    );
    env.assert_no_key_leaks();
}

on_both!(
    two_keys_of_one_account_are_one_target_and_never_fight,
    echoed_authorization_never_leaks_a_piece_of_the_key,
    a_leader_frozen_past_its_lease_sends_nothing_when_it_wakes,
    request_timeout_and_too_early_are_transient,
    failure_episode_writes_once_and_warns_once,
    json_log_lines_have_no_duplicate_keys,
    recreated_resource_starts_with_a_fresh_backoff,
    secret_that_is_not_a_sendgrid_key_is_never_used,
);
