//! The scale benchmark: the operator binary as its own process against the Kubernetes API test
//! server and the SendGrid simulator, for N resources spread over K API keys (each resource on
//! its own subuser, all needing a change), printing one Markdown table row per size.
//!
//! ```text
//! cargo bench --bench scale                                   # the full table (about 80 min)
//! cargo bench --bench scale -- --resources 1000 --keys 10     # one row
//! cargo test --bench scale -- --smoke                         # N = 100 with invariant checks
//! ```
//!
//! Each row reports: the time until all are Ready, and for rows that need more than one
//! rate-limit window that time over the floor SendGrid's fixed one-minute windows allow
//! ((windows - 1) minutes of the busiest endpoint, Enforced TLS, as SendGrid limits each
//! endpoint on its own; rows start at the beginning of a minute so the first window is whole); the time a resource created 30 s into such a sync takes to be Ready; SendGrid
//! requests per resource; the operator's Kubernetes writes per resource; its peak RSS and CPU
//! seconds; and the steady state (requests per resource per resync, measured over one resync
//! interval, with the interval the key's budget can carry). `--smoke` exits 1 when an invariant
//! breaks (a resource not Ready, more than one GET or PATCH or status write for a resource, a
//! 429, a write or PATCH in the steady state); it asserts counts, never times.

mod operator;
mod world;

use clap::Parser;
use operator::{Operator, metric_sum};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use world::{KubeCounts, SendGridCounts, World};

#[derive(Parser, Debug)]
struct Args {
    /// Resource counts to run (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = [100, 1000, 10_000])]
    resources: Vec<usize>,
    /// API key counts to run each resource count over (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = [1, 10, 100])]
    keys: Vec<usize>,
    /// SendGrid's limit per key per one-minute window (the simulator enforces it).
    #[arg(long, default_value_t = 600)]
    rate_limit: u64,
    /// Longest resync interval the steady-state measurement may use; rows whose keys cannot
    /// carry a resync within it are not measured in the steady state.
    #[arg(long, default_value_t = 600)]
    steady_max_secs: u64,
    /// N = 100 on one key, a 5 s resync, and a failure exit on any broken invariant.
    #[arg(long)]
    smoke: bool,
    /// An extra `run` flag for the operator (repeatable), e.g. `--operator-arg=--concurrency=16`.
    #[arg(long = "operator-arg", allow_hyphen_values = true)]
    operator_args: Vec<String>,
    /// A command to start the operator under, e.g. `heaptrack -o /tmp/operator` or
    /// `perf record -g -o /tmp/operator.perf --` (RSS and CPU are still the operator's own).
    #[arg(long, value_delimiter = ' ', allow_hyphen_values = true)]
    operator_wrapper: Vec<String>,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

/// What one row measured.
struct Row {
    resources: usize,
    keys: usize,
    /// SendGrid requests of the first sync on the busiest key.
    per_key: u64,
    windows: u64,
    ready: Duration,
    newcomer: Option<Duration>,
    first: SendGridCounts,
    kube: KubeCounts,
    cpu_sync: f64,
    rss_peak: f64,
    rss_idle: f64,
    steady: Option<Steady>,
    local_refusals: f64,
    warnings: usize,
    load: (String, String),
}

/// The steady state: counts over one resync interval, after one interval of settling.
struct Steady {
    resync: Duration,
    sendgrid: SendGridCounts,
    kube: KubeCounts,
    cpu: f64,
    /// Reconciles (drift checks) the operator counted.
    reconciles: f64,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> std::process::ExitCode {
    let mut args = Args::parse();
    if args.smoke {
        args.resources = vec![100];
        args.keys = vec![1];
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    println!(
        "operator: {} | machine: {} cores, load {}",
        env!("CARGO_BIN_EXE_sendgrid-tls-operator"),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load()
    );
    println!("{}", header());
    let mut failures = Vec::new();
    for &resources in &args.resources {
        for &keys in &args.keys {
            let row = run_row(resources, keys, &args).await;
            println!("{}", row.line(args.rate_limit));
            eprintln!("  {}", row.details());
            failures.extend(row.broken(args.smoke));
        }
    }
    if failures.is_empty() {
        std::process::ExitCode::SUCCESS
    } else {
        for failure in &failures {
            eprintln!("FAILED: {failure}");
        }
        std::process::ExitCode::FAILURE
    }
}

/// The resync interval whose drift checks the busiest key's budget carries with room to spare
/// (at most 3/4 of SendGrid's limit), from 1, 3 and 10 minutes; `None` when none does.
fn steady_resync(per_key_resources: u64, args: &Args) -> Option<Duration> {
    if args.smoke {
        return Some(Duration::from_secs(5));
    }
    [60, 180, 600]
        .into_iter()
        .filter(|secs| *secs <= args.steady_max_secs)
        .find(|secs| per_key_resources * 60 / secs <= args.rate_limit * 3 / 4)
        .map(Duration::from_secs)
}

async fn run_row(resources: usize, keys: usize, args: &Args) -> Row {
    let load_before = load();
    eprintln!("== {resources} resources over {keys} key(s): setting up");
    let world = World::start(resources, keys, args.rate_limit as u32).await;
    let per_key_resources = resources.div_ceil(keys) as u64;
    // Whose account (each resource is its own subuser), the settings GET, the PATCH. SendGrid
    // counts each endpoint on its own: the settings endpoint's two requests per resource set
    // the floor, the identity reads run in their own windows beside them.
    let per_key = 3 * per_key_resources;
    let windows = (2 * per_key_resources).div_ceil(args.rate_limit);
    let resync = steady_resync(per_key_resources, args);
    if windows > 1 {
        // Start with a whole window, as the floor assumes.
        let into_minute = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64()
            % 60.0;
        tokio::time::sleep(Duration::from_secs_f64(60.0 - into_minute)).await;
    }
    let mut flags = vec![
        "--default-resync-interval".to_string(),
        format!("{}s", resync.unwrap_or(Duration::from_secs(600)).as_secs()),
    ];
    flags.extend(args.operator_args.iter().cloned());
    let mut op = Operator::spawn(
        &world.kubeconfig(),
        world.sim.global_url().as_str(),
        &flags,
        &args.operator_wrapper,
    );
    let started = Instant::now();
    eprintln!("   operator started");

    // A resource created 30 s into a sync that spans several windows, on the busiest key.
    let newcomer_at = (windows > 1).then(|| started + Duration::from_secs(30));
    let mut newcomer_created = None;
    let mut newcomer_ready = None;
    let poll = if resources > 1000 {
        Duration::from_millis(500)
    } else {
        Duration::from_millis(100)
    };
    let deadline = started + Duration::from_secs(windows * 90 + 600);
    let mut last_report = Instant::now();
    // Each target's requests when its resource was first seen Ready: the first sync, without
    // the drift checks that resources Ready early make while others still wait.
    let mut seen = HashSet::new();
    let mut first_sync = HashMap::new();
    let mut ready = None;
    while ready.is_none() || newcomer_created.is_some() && newcomer_ready.is_none() {
        op.check_alive();
        let now = Instant::now();
        if newcomer_created.is_none() && newcomer_at.is_some_and(|at| now >= at) {
            world.newcomer(resources);
            newcomer_created = Some(now);
        }
        let fresh = world.newly_ready(&mut seen);
        if !fresh.is_empty() {
            let counts = world.sendgrid();
            for i in fresh {
                let target = world::subuser(i);
                let requests = counts.per_target.get(&target).copied().unwrap_or_default();
                first_sync.insert(target, requests);
                if i == resources {
                    newcomer_ready = newcomer_created.map(|created| created.elapsed());
                }
            }
        }
        let count = seen.len() - usize::from(newcomer_ready.is_some());
        if ready.is_none() && count >= resources {
            ready = Some((started.elapsed(), op.cpu_seconds()));
            eprintln!("   all Ready after {:.1}s", started.elapsed().as_secs_f64());
        }
        assert!(
            now < deadline,
            "only {count} of {resources} Ready after {:?}:\n{}",
            started.elapsed(),
            op.tail(20)
        );
        if last_report.elapsed() > Duration::from_secs(15) {
            let sg = world.sendgrid();
            eprintln!(
                "   {count} Ready after {:.0}s; SendGrid {} GET, {} PATCH, {} 429; operator CPU {:.1}s; load {}",
                started.elapsed().as_secs_f64(),
                sg.gets,
                sg.patches,
                sg.too_many,
                op.cpu_seconds(),
                load()
            );
            last_report = Instant::now();
        }
        tokio::time::sleep(poll).await;
    }
    let Some((ready, cpu_sync)) = ready else {
        unreachable!("the loop ends once all are Ready")
    };
    let metrics = op.metrics().await;
    let local_refusals = metric_sum(
        &metrics,
        "sendgrid_tls_operator_sendgrid_requests_total",
        r#"class="ratelimited-local""#,
    );
    let first = SendGridCounts {
        gets: first_sync.values().map(|(gets, _)| gets).sum(),
        patches: first_sync.values().map(|(_, patches)| patches).sum(),
        too_many: world.sendgrid().too_many,
        identities: world.sendgrid().identities,
        scopes: world.sendgrid().scopes,
        identity_per_target: world.sendgrid().identity_per_target,
        per_target: first_sync,
    };
    let kube = world.kube();

    let steady = match resync {
        Some(resync) => {
            eprintln!("   steady state: settling for {resync:?}, then counting for {resync:?}");
            tokio::time::sleep(resync).await;
            let reconciles =
                |metrics: &str| metric_sum(metrics, "sendgrid_tls_operator_reconciles_total", "");
            let before = reconciles(&op.metrics().await);
            let (sendgrid, kube, cpu) = (world.sendgrid(), world.kube(), op.cpu_seconds());
            tokio::time::sleep(resync).await;
            op.check_alive();
            Some(Steady {
                resync,
                sendgrid: diff_sendgrid(&world.sendgrid(), &sendgrid),
                kube: diff_kube(&world.kube(), &kube),
                cpu: op.cpu_seconds() - cpu,
                reconciles: reconciles(&op.metrics().await) - before,
            })
        }
        None => None,
    };
    let (rss_idle, rss_peak) = op.rss_mib();
    let warnings = op.warnings();
    drop(op);
    world.sim.shutdown().await;
    world.server.shutdown().await;
    Row {
        resources,
        keys,
        per_key,
        windows,
        ready,
        newcomer: newcomer_ready,
        first,
        kube,
        cpu_sync,
        rss_peak,
        rss_idle,
        steady,
        local_refusals,
        warnings,
        load: (load_before, load()),
    }
}

fn diff_sendgrid(after: &SendGridCounts, before: &SendGridCounts) -> SendGridCounts {
    SendGridCounts {
        per_target: Default::default(),
        identity_per_target: Default::default(),
        identities: after.identities - before.identities,
        scopes: after.scopes - before.scopes,
        gets: after.gets - before.gets,
        patches: after.patches - before.patches,
        too_many: after.too_many - before.too_many,
    }
}

fn diff_kube(after: &KubeCounts, before: &KubeCounts) -> KubeCounts {
    KubeCounts {
        status_per_resource: Default::default(),
        status: after.status - before.status,
        other: after.other - before.other,
        records: after.records - before.records,
        events: after.events - before.events,
        secret_reads: after.secret_reads - before.secret_reads,
    }
}

/// The 1-minute load average (other builds on this machine show here).
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split(' ').next().map(str::to_owned))
        .unwrap_or_default()
}

fn header() -> String {
    [
        "| N | keys | SendGrid requests on the busiest key | floor | all Ready | Ready / floor | newcomer Ready | identity + GET + PATCH per resource | 429s | status writes per resource (max) | record writes per resource | other writes per resource (finalizer, Event) | peak RSS | CPU s (ms per resource) | steady state | steady requests per hour |",
        "|---:|---:|---:|---|---:|---:|---:|---|---:|---|---:|---|---:|---|---|---:|",
    ]
    .join("\n")
}

impl Row {
    /// Resources including a newcomer, i.e. SendGrid targets.
    fn targets(&self) -> usize {
        self.resources + usize::from(self.newcomer.is_some())
    }

    fn line(&self, limit: u64) -> String {
        let n = self.targets() as f64;
        let floor = Duration::from_secs((self.windows - 1) * 60);
        let (floor_text, ratio) = if self.windows > 1 {
            (
                format!("{} windows: {}", self.windows, secs(floor)),
                format!("{:.2}", self.ready.as_secs_f64() / floor.as_secs_f64()),
            )
        } else {
            ("one window".to_string(), "n/a".to_string())
        };
        let max_status = self
            .kube
            .status_per_resource
            .values()
            .max()
            .copied()
            .unwrap_or(0);
        let steady = match &self.steady {
            Some(s) => format!(
                "{:.2} GET per resync ({:.2} resyncs per resource in {}); {} writes, {} PATCH, {} identity reads",
                s.sendgrid.gets as f64 / s.reconciles,
                s.reconciles / n,
                secs(s.resync),
                s.kube.status + s.kube.other + s.kube.records,
                s.sendgrid.patches,
                s.sendgrid.identities
            ),
            None => format!(
                "not measured: {} checks per key need more than {} a minute",
                self.resources.div_ceil(self.keys),
                limit * 3 / 4
            ),
        };
        let per_hour = match &self.steady {
            Some(s) => format!(
                "{:.0}",
                s.sendgrid.gets as f64 * 3600.0 / s.resync.as_secs_f64()
            ),
            None => "n/a".to_string(),
        };
        format!(
            "| {} | {} | {} | {} | {} | {} | {} | {:.2} + {:.2} + {:.2} | {} | {:.2} ({}) | {:.2} | {:.2}, {:.2} | {:.0} MiB | {:.1} ({:.2}) | {} | {} |",
            self.resources,
            self.keys,
            self.per_key,
            floor_text,
            secs(self.ready),
            ratio,
            self.newcomer.map_or("-".to_string(), secs),
            self.first.identities as f64 / n,
            self.first.gets as f64 / n,
            self.first.patches as f64 / n,
            self.first.too_many,
            self.kube.status as f64 / n,
            max_status,
            self.kube.records as f64 / n,
            self.kube.other as f64 / n,
            self.kube.events as f64 / n,
            self.rss_peak,
            self.cpu_sync,
            self.cpu_sync * 1000.0 / n,
            steady,
            per_hour,
        )
    }

    fn details(&self) -> String {
        let steady = self.steady.as_ref().map_or(String::new(), |s| {
            format!(
                "; steady: {} resyncs, {} GET, {} 429, {} status + {} other writes, {} Events, {} Secret reads, {:.2} CPU s ({:.2} ms per resync)",
                s.reconciles,
                s.sendgrid.gets,
                s.sendgrid.too_many,
                s.kube.status,
                s.kube.other,
                s.kube.events,
                s.kube.secret_reads,
                s.cpu,
                s.cpu * 1000.0 / s.reconciles
            )
        });
        format!(
            "first sync: {} GET, {} PATCH, {} Secret reads, {} requests refused locally; RSS idle {:.0} MiB; {} warnings logged; load {} -> {}{steady}",
            self.first.gets,
            self.first.patches,
            self.kube.secret_reads,
            self.local_refusals,
            self.rss_idle,
            self.warnings,
            self.load.0,
            self.load.1
        )
    }

    /// The invariants this row broke (checked by `--smoke`, reported otherwise).
    fn broken(&self, fail: bool) -> Vec<String> {
        let mut broken = Vec::new();
        let row = format!("N={} keys={}", self.resources, self.keys);
        if self.first.per_target.len() != self.targets() {
            broken.push(format!(
                "{row}: {} SendGrid targets called, {} expected",
                self.first.per_target.len(),
                self.targets()
            ));
        }
        for (target, counts) in &self.first.per_target {
            if *counts != (1, 1) {
                broken.push(format!(
                    "{row}: {target}: {counts:?} (GET, PATCH), (1, 1) expected"
                ));
            }
        }
        for (target, reads) in &self.first.identity_per_target {
            if *reads != 1 {
                broken.push(format!(
                    "{row}: {target}: {reads} identity reads, 1 expected"
                ));
            }
        }
        // The account's record (claim and originals) before the PATCH, then the status.
        for (resource, writes) in &self.kube.status_per_resource {
            if *writes > 1 {
                broken.push(format!("{row}: {resource}: {writes} status writes"));
            }
        }
        if self.kube.records > self.targets() as u64 {
            broken.push(format!(
                "{row}: {} record writes for {} accounts",
                self.kube.records,
                self.targets()
            ));
        }
        if self.first.scopes > self.keys as u64 {
            broken.push(format!(
                "{row}: {} scope checks for {} keys",
                self.first.scopes, self.keys
            ));
        }
        if self.first.too_many > 0 {
            broken.push(format!("{row}: {} answers were 429", self.first.too_many));
        }
        if let Some(s) = &self.steady {
            let steady_writes = s.sendgrid.patches + s.kube.status + s.kube.other + s.kube.records;
            if steady_writes + s.sendgrid.too_many + s.sendgrid.identities + s.sendgrid.scopes > 0 {
                broken.push(format!(
                    "{row}: steady state: {} PATCH, {} status writes, {} record writes, {} other writes, {} 429, {} identity reads, {} scope checks",
                    s.sendgrid.patches,
                    s.kube.status,
                    s.kube.records,
                    s.kube.other,
                    s.sendgrid.too_many,
                    s.sendgrid.identities,
                    s.sendgrid.scopes
                ));
            }
            if s.sendgrid.gets == 0 {
                broken.push(format!("{row}: steady state: no drift check at all"));
            }
        }
        if !fail {
            for b in &broken {
                eprintln!("  note: {b}");
            }
            return Vec::new();
        }
        broken
    }
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}
