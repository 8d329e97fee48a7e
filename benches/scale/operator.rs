//! The operator binary as its own process, and what /proc and its /metrics port say about it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BINARY: &str = env!("CARGO_BIN_EXE_sendgrid-tls-operator");

pub struct Operator {
    /// The operator, or the wrapper that started it.
    child: Child,
    /// The operator process itself.
    pid: u32,
    lines: Arc<Mutex<Vec<String>>>,
    ticks_per_second: f64,
}

impl Operator {
    /// `run` against the world's server (via `kubeconfig`) and simulator, with warnings-only
    /// JSON logs (plus the line naming the metrics port) and `extra` run flags. `wrapper`
    /// (e.g. `heaptrack -o /tmp/operator`) is a command the binary is started under.
    pub fn spawn(
        kubeconfig: &Path,
        sendgrid: &str,
        extra: &[String],
        wrapper: &[String],
    ) -> Operator {
        let eu = format!("{}/eu", sendgrid.trim_end_matches('/'));
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(BINARY);
                command
            }
            None => Command::new(BINARY),
        };
        let mut child = command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("KUBECONFIG", kubeconfig)
            .args(["--sendgrid-url", sendgrid, "--sendgrid-eu-url", &eu])
            .args(["--log-format", "json"])
            .args(["--log-level", "warn,sendgrid_tls_operator::cli::run=info"])
            .args(["run", "--metrics-addr", "127.0.0.1:0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting the operator binary");
        let lines = Arc::new(Mutex::new(Vec::new()));
        for pipe in [
            Box::new(child.stdout.take().expect("piped")) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().expect("piped")),
        ] {
            let lines = lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    lines.lock().unwrap().push(line);
                }
            });
        }
        let pid = operator_pid(child.id());
        Operator {
            child,
            pid,
            lines,
            ticks_per_second: ticks_per_second(),
        }
    }

    /// Fails with the process's last lines if it has exited.
    pub fn check_alive(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("the operator exited ({status}):\n{}", self.tail(30));
        }
    }

    pub fn tail(&self, n: usize) -> String {
        let lines = self.lines.lock().unwrap();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Warnings and errors it logged.
    pub fn warnings(&self) -> usize {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(r#""level":"WARN""#) || l.contains(r#""level":"ERROR""#))
            .count()
    }

    fn proc_file(&self, name: &str) -> String {
        std::fs::read_to_string(format!("/proc/{}/{name}", self.pid)).unwrap_or_default()
    }

    /// User + system CPU seconds so far.
    pub fn cpu_seconds(&self) -> f64 {
        let stat = self.proc_file("stat");
        // Fields after the command name (which may hold spaces) start at field 3, "state".
        let fields: Vec<&str> = stat
            .rsplit_once(") ")
            .map(|(_, rest)| rest.split(' ').collect())
            .unwrap_or_default();
        let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
        match (ticks(11), ticks(12)) {
            (Some(user), Some(system)) => (user + system) / self.ticks_per_second,
            _ => f64::NAN,
        }
    }

    /// (current, peak) resident memory in MiB.
    pub fn rss_mib(&self) -> (f64, f64) {
        let status = self.proc_file("status");
        let kib = |field: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
                .map_or(f64::NAN, |kib| kib / 1024.0)
        };
        (kib("VmRSS:"), kib("VmHWM:"))
    }

    /// The operator's /metrics text.
    pub async fn metrics(&self) -> String {
        let addr = {
            let lines = self.lines.lock().unwrap();
            lines.iter().find_map(|l| {
                let line: serde_json::Value = serde_json::from_str(l).ok()?;
                (line["message"] == "serving /metrics, /healthz and /readyz")
                    .then(|| line["addr"].as_str().map(str::to_owned))
                    .flatten()
            })
        };
        let Some(addr) = addr else {
            return String::new();
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("an HTTP client");
        match client.get(format!("http://{addr}/metrics")).send().await {
            Ok(response) => response.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }
}

impl Drop for Operator {
    /// Stops the operator with SIGTERM (so a wrapper such as a profiler can write its data),
    /// and kills it if it has not stopped within 30 s.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The operator binary's process: `pid` itself, or the first descendant running the binary
/// (under a wrapper that does not exec it). Waits up to 10 s for the wrapper to start it.
fn operator_pid(pid: u32) -> u32 {
    let runs_binary = |pid: u32| {
        std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe == Path::new(BINARY))
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let mut family = vec![pid];
        while let Some(p) = family.pop() {
            if runs_binary(p) {
                return p;
            }
            let children = std::fs::read_to_string(format!("/proc/{p}/task/{p}/children"));
            family.extend(
                children
                    .unwrap_or_default()
                    .split_whitespace()
                    .filter_map(|c| c.parse::<u32>().ok()),
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    pid
}

/// The sum of the samples of metric `name` (any labels) whose labels contain `label` (may be
/// empty).
pub fn metric_sum(text: &str, name: &str, label: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .filter(|l| l.contains(label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        // Not `sum()`: an empty f64 sum is -0.
        .fold(0.0, |sum, sample| sum + sample)
}

/// Clock ticks per second for /proc/<pid>/stat (USER_HZ; 100 nearly everywhere).
fn ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}
