//! The operator binary as its own process, and what /proc and its /metrics port say about it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct Operator {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    ticks_per_second: f64,
}

impl Operator {
    /// `run` against the world's server (via `kubeconfig`) and simulator, with warnings-only
    /// JSON logs (plus the line naming the metrics port) and `extra` run flags.
    pub fn spawn(kubeconfig: &Path, sendgrid: &str, extra: &[String]) -> Operator {
        let eu = format!("{}/eu", sendgrid.trim_end_matches('/'));
        let mut child = Command::new(env!("CARGO_BIN_EXE_sendgrid-tls-operator"))
            .env_clear()
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
        Operator {
            child,
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
        std::fs::read_to_string(format!("/proc/{}/{name}", self.child.id())).unwrap_or_default()
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
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
