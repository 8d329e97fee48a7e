//! The operator as users run it: the built binary, `run`, with its output captured line by line
//! (to scan for keys and to dump on failure) and its metrics port found from its own log.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Every line the process wrote (stdout and stderr, interleaved as they arrived).
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<String>>>);

impl Logs {
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    pub fn tail(&self, n: usize) -> String {
        let lines = self.0.lock().unwrap();
        let start = lines.len().saturating_sub(n);
        lines[start..].join("\n")
    }

    /// The JSON log lines (others, like a panic message, are skipped).
    pub fn json(&self) -> Vec<Value> {
        self.lines()
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// How many JSON lines have this `message`.
    pub fn count(&self, message: &str) -> usize {
        self.json()
            .iter()
            .filter(|l| l["message"] == message)
            .count()
    }

    fn follow(&self, pipe: impl Read + Send + 'static) {
        let lines = self.0.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                lines.lock().unwrap().push(line);
            }
        });
    }
}

pub struct Operator {
    child: Child,
    logs: Logs,
    label: String,
    /// Watch requests on the resources the server had answered before this process started.
    pub watches_before: usize,
}

impl Operator {
    /// Starts the binary with only `env` in its environment (nothing leaks in from the shell).
    pub fn spawn(
        label: &str,
        args: &[&str],
        env: &[(&str, &str)],
        watches_before: usize,
    ) -> Operator {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sendgrid-tls-operator"))
            .env_clear()
            .envs(env.iter().copied())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting the operator binary");
        let logs = Logs::default();
        logs.follow(child.stdout.take().unwrap());
        logs.follow(child.stderr.take().unwrap());
        Operator {
            child,
            logs,
            label: label.to_string(),
            watches_before,
        }
    }

    pub fn logs(&self) -> Logs {
        self.logs.clone()
    }

    /// Waits for a JSON log line with this `message`; returns it. Fails if the process exits.
    pub async fn wait_log(&mut self, message: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(line) = self
                .logs
                .json()
                .into_iter()
                .find(|l| l["message"] == message)
            {
                return line;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "{} exited ({status}) before logging {message:?}:\n{}",
                    self.label,
                    self.logs.tail(40)
                );
            }
            assert!(
                Instant::now() < deadline,
                "{} did not log {message:?} within {timeout:?}:\n{}",
                self.label,
                self.logs.tail(40)
            );
            // The log is a pipe read on another thread: poll it.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The /metrics, /healthz, /readyz port, from the operator's start-up log line.
    pub async fn metrics_addr(&mut self) -> SocketAddr {
        let line = self
            .wait_log(
                "serving /metrics, /healthz and /readyz",
                Duration::from_secs(20),
            )
            .await;
        line["addr"].as_str().unwrap().parse().unwrap()
    }

    /// GET `path` on the operator's metrics port: (status, body).
    pub async fn http_get(&mut self, path: &str) -> (u16, String) {
        let addr = self.metrics_addr().await;
        let response = reqwest::get(format!("http://{addr}{path}"))
            .await
            .unwrap_or_else(|e| panic!("GET {path} from {}: {e}", self.label));
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    /// Polls `path` until it answers `status` (bounded); returns the body.
    pub async fn wait_http(&mut self, path: &str, status: u16, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let (got, body) = self.http_get(path).await;
            if got == status {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "{}: GET {path} still answers {got} {body:?} after {timeout:?}, not {status}:\n{}",
                self.label,
                self.logs.tail(20)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The sum of the samples of metric `name` whose labels include all of `labels` (e.g.
    /// `[("method", "PATCH")]`); 0 when there is none.
    pub async fn metric(&mut self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let (_, text) = self.http_get("/metrics").await;
        text.lines()
            .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
            .filter(|l| {
                labels
                    .iter()
                    .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// Kills the process at once (SIGKILL: no cleanup, no lease release) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Freezes (`STOP`) or wakes (`CONT`) the process, as a GC pause, a stopped container or a
    /// frozen VM would.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -{signal} {pid}");
    }

    /// Waits (bounded) for the process to exit on its own; returns the exit code.
    pub async fn exited(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit:\n{}",
                self.label,
                self.logs.tail(20)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGTERM, then waits (bounded) for a graceful exit; returns the exit code.
    pub async fn terminate(&mut self) -> Option<i32> {
        self.signal("TERM");
        self.exited(Duration::from_secs(15)).await
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.kill();
    }
}
