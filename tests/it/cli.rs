//! The built binary as a user runs it: `crd`, `plan`, `apply`, `simulate`, `run` and `--help`,
//! against a SendGrid simulator on loopback. Every captured stdout and stderr is checked for the
//! API keys, which must never appear.

use crate::support::{
    BAD_KEY, KEY, PATH, USERNAME_PATH, assert_no_key, condition, fingerprint, free_port,
};
use sendgrid_tls_operator::simulator::{SimConfig, SimulatorHandle};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// The longest any command may take; only a hung binary gets near it.
const DEADLINE: Duration = Duration::from_secs(30);

const RESOURCE: &str = r#"
apiVersion: sendgrid.ops.dev/v1alpha1
kind: SendGridEnforcedTls
metadata:
  name: marketing
  namespace: mail
spec:
  apiKeySecretRef:
    name: sendgrid-api-key
  requireTls: true
  minimumTlsVersion: "1.2"
"#;

/// What a finished command left behind.
#[derive(Debug)]
struct Output {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Output {
    /// The non-empty lines of stderr.
    fn stderr_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect()
    }
}

/// The binary with an empty environment plus `env`, so nothing from the caller's shell leaks in.
fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sendgrid-tls-operator"));
    cmd.env_clear()
        .envs(env.iter().copied())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Reads a pipe to its end on a thread.
fn drain(pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        BufReader::new(pipe).read_to_string(&mut text).unwrap();
        text
    })
}

/// Waits (bounded) for `child` to exit; kills it and fails when it takes longer than `DEADLINE`.
fn wait(
    mut child: Child,
    stdout: std::thread::JoinHandle<String>,
    stderr: std::thread::JoinHandle<String>,
) -> Output {
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the command did not finish within {DEADLINE:?}");
        }
        // Polling the exit status: std has no wait-with-timeout.
        std::thread::sleep(Duration::from_millis(10));
    };
    let output = Output {
        code: status.code(),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    };
    assert_no_key(&output.stdout);
    assert_no_key(&output.stderr);
    output
}

/// Runs the binary to completion (blocking).
fn run_blocking(args: &[&str], env: &[(&str, &str)]) -> Output {
    run_blocking_with(args, env, None)
}

/// Runs the binary to completion (blocking), with `input` on its stdin.
fn run_blocking_with(args: &[&str], env: &[(&str, &str)], input: Option<&str>) -> Output {
    let mut cmd = command(args, env);
    if input.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let mut child = cmd.spawn().unwrap();
    if let Some(input) = input {
        // Dropping the handle closes stdin, so the binary sees the end of the input.
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.as_bytes()).unwrap();
    }
    let stdout = drain(child.stdout.take().unwrap());
    let stderr = drain(child.stderr.take().unwrap());
    wait(child, stdout, stderr)
}

/// Runs the binary off the async runtime, so an in-process simulator keeps serving meanwhile.
async fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    run_with(args, env, None).await
}

/// [`run`] with `input` on the binary's stdin.
async fn run_with(args: &[&str], env: &[(&str, &str)], input: Option<&str>) -> Output {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let input = input.map(str::to_string);
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        run_blocking_with(&args, &env, input.as_deref())
    })
    .await
    .unwrap()
}

/// A temporary directory holding `resource.yaml` (the given text) and `key` (the API key with
/// the trailing newline `echo` leaves).
struct Files {
    dir: TempDir,
}

impl Files {
    fn new(resource: &str) -> Files {
        let dir = TempDir::new().unwrap();
        std::fs::write(dir.path().join("resource.yaml"), resource).unwrap();
        std::fs::write(dir.path().join("key"), format!("{KEY}\n")).unwrap();
        Files { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_string()
    }

    fn resource(&self) -> String {
        self.path("resource.yaml")
    }
}

async fn simulator() -> SimulatorHandle {
    crate::support::simulator(SimConfig::with_keys(&[KEY])).await
}

/// `--sendgrid-url URL --sendgrid-eu-url URL` for `sim`.
fn urls(sim: &SimulatorHandle) -> [String; 4] {
    [
        "--sendgrid-url".into(),
        sim.global_url().to_string(),
        "--sendgrid-eu-url".into(),
        sim.eu_url().to_string(),
    ]
}

/// (method, path, status) of each request the simulator saw; every one made with `KEY`.
/// The Enforced TLS requests the simulator saw (all with [`KEY`]); each pass also asks whose
/// account the key reaches first, once per resource (`identity_reads`).
fn log(sim: &SimulatorHandle) -> Vec<(String, String, u16)> {
    let fingerprint = fingerprint(KEY);
    sim.requests()
        .into_iter()
        .filter(|r| r.path.ends_with(PATH))
        .map(|r| {
            assert_eq!(r.key_fingerprint.as_deref(), Some(fingerprint.as_str()));
            (r.method, r.path, r.status)
        })
        .collect()
}

/// How many `GET /v3/user/username` the simulator answered.
fn identity_reads(sim: &SimulatorHandle) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.path.ends_with(USERNAME_PATH))
        .count()
}

fn get() -> (String, String, u16) {
    ("GET".into(), PATH.into(), 200)
}

/// The document `apply` prints for one resource (`status` and comments saying what happened).
fn printed(stdout: &str) -> Value {
    assert!(
        stdout.starts_with("# mail/marketing: "),
        "no resource header in {stdout:?}"
    );
    serde_saphyr::from_str(stdout).unwrap()
}

#[test]
fn crd_prints_the_generated_crd() {
    let out = run_blocking(&["crd"], &[]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(out.stdout, sendgrid_tls_operator::api::crd_yaml());
}

#[tokio::test]
async fn plan_shows_pending_changes_and_changes_nothing() {
    let sim = simulator().await;
    let files = Files::new(RESOURCE);
    let (resource, key) = (files.resource(), files.path("key"));
    let [a, b, c, d] = urls(&sim);
    let plan = [
        "plan",
        "-f",
        &resource,
        "--api-key-file",
        &key,
        &a,
        &b,
        &c,
        &d,
    ];
    let out = run(&plan, &[]).await;

    // As terraform plan: changes are success (0) unless --detailed-exitcode asks for 2.
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(
        out.stdout,
        "mail/marketing: would set requireTls: false -> true, minimumTlsVersion: 1.1 -> 1.2\n\
         Plan: 0 in sync, 1 to change, 0 drifted, 0 failed\n"
    );
    let detailed = run(&[&plan[..], &["--detailed-exitcode"]].concat(), &[]).await;
    assert_eq!(detailed.code, Some(2), "{detailed:?}");
    assert_eq!(log(&sim), [get(), get()], "plan only reads");
    assert_eq!(identity_reads(&sim), 2, "whose account, once per pass");
    assert_eq!(
        sim.settings("main", None),
        sendgrid_tls_operator::api::TlsSettings::SENDGRID_DEFAULTS
    );
}

#[tokio::test]
async fn apply_makes_it_so_then_plan_is_in_sync() {
    let sim = simulator().await;
    let files = Files::new(RESOURCE);
    let resource = files.resource();
    let [a, b, c, d] = urls(&sim);
    // The key from the environment this time.
    let env = [("SENDGRID_API_KEY", KEY)];
    let out = run(&["apply", "-f", &resource, &a, &b, &c, &d], &env).await;

    assert_eq!(out.code, Some(0), "{out:?}");
    let printed = printed(&out.stdout);
    let ready = condition(&printed, "Ready").unwrap();
    assert_eq!(
        (ready["status"].as_str(), ready["reason"].as_str()),
        (Some("True"), Some("InSync"))
    );
    assert_eq!(
        printed["status"]["observed"]["minimumTlsVersion"].as_str(),
        Some("1.2")
    );
    let patches: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .map(|r| (r.status, r.body))
        .collect();
    assert_eq!(
        patches,
        [(
            200,
            Some(serde_json::json!({"require_tls": true, "version": 1.2}))
        )]
    );

    sim.clear_requests();
    let out = run(&["plan", "-f", &resource, &a, &b, &c, &d], &env).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.starts_with("mail/marketing: in sync"), "{out:?}");
    assert_eq!(log(&sim), [get()]);
}

#[tokio::test]
async fn apply_simulate_needs_no_key_and_no_network() {
    let files = Files::new(RESOURCE);
    let resource = files.resource();
    // A SendGrid URL nothing listens on: --simulate must not use it.
    let out = run(
        &["apply", "--simulate", "-f", &resource],
        &[("SENDGRID_URL", "http://127.0.0.1:1")],
    )
    .await;
    assert_eq!(out.code, Some(0), "{out:?}");
    let printed = printed(&out.stdout);
    assert_eq!(
        condition(&printed, "Ready").unwrap()["status"].as_str(),
        Some("True")
    );
    assert!(
        out.stderr
            .contains("PATCH /v3/user/settings/enforced_tls -> 200"),
        "{out:?}"
    );
}

#[tokio::test]
async fn no_key_is_one_line_naming_both_ways_to_give_one() {
    let sim = simulator().await;
    let files = Files::new(RESOURCE);
    let resource = files.resource();
    let [a, b, c, d] = urls(&sim);
    for command in ["plan", "apply"] {
        let out = run(&[command, "-f", &resource, &a, &b, &c, &d], &[]).await;
        assert_eq!(out.code, Some(1), "{out:?}");
        assert!(out.stdout.contains("0 in sync"), "{out:?}");
        assert!(out.stdout.contains("1 failed"), "{out:?}");
        let lines = out.stderr_lines();
        assert_eq!(lines.len(), 1, "{out:?}");
        assert!(
            lines[0].contains("--api-key-file") && lines[0].contains("SENDGRID_API_KEY"),
            "{out:?}"
        );
    }
    assert_eq!(log(&sim), []);
}

#[tokio::test]
async fn bad_key_is_unauthorized_without_echoing_it() {
    let sim = simulator().await;
    let files = Files::new(RESOURCE);
    let resource = files.resource();
    let [a, b, c, d] = urls(&sim);
    for command in ["plan", "apply"] {
        let out = run(
            &[command, "-f", &resource, &a, &b, &c, &d],
            &[("SENDGRID_API_KEY", BAD_KEY)],
        )
        .await;
        assert_eq!(out.code, Some(1), "{out:?}");
        let lines = out.stderr_lines();
        assert_eq!(lines.len(), 1, "{out:?}");
        assert!(lines[0].contains("Unauthorized"), "{out:?}");
    }
    let statuses: Vec<u16> = sim.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [401, 401], "one GET each, no PATCH");
}

#[tokio::test]
async fn invalid_files_name_the_field() {
    let sim = simulator().await;
    let cases = [
        (
            "  onBehalfOf:\n    subuser: marketing-sub\n    accountId: \"1234567\"\n",
            "spec.onBehalfOf",
        ),
        ("  minimumTlsVersion: 1.2\n", "spec.minimumTlsVersion"),
    ];
    let [a, b, c, d] = urls(&sim);
    for (extra, field) in cases {
        let text = format!(
            "apiVersion: sendgrid.ops.dev/v1alpha1\nkind: SendGridEnforcedTls\nmetadata:\n  name: marketing\n  namespace: mail\nspec:\n  apiKeySecretRef:\n    name: sendgrid-api-key\n{extra}"
        );
        let files = Files::new(&text);
        let (resource, key) = (files.resource(), files.path("key"));
        let out = run(
            &[
                "plan",
                "-f",
                &resource,
                "--api-key-file",
                &key,
                &a,
                &b,
                &c,
                &d,
            ],
            &[],
        )
        .await;
        assert_eq!(out.code, Some(1), "{out:?}");
        let lines = out.stderr_lines();
        assert_eq!(lines.len(), 1, "{out:?}");
        assert!(lines[0].contains(field), "{field}: {out:?}");
    }
    assert_eq!(log(&sim), [], "an invalid file never reaches SendGrid");
}

/// A resource document for the multi-input test.
fn resource(namespace: &str, name: &str, secret: &str, spec: &str) -> String {
    format!(
        "apiVersion: sendgrid.ops.dev/v1alpha1\nkind: SendGridEnforcedTls\nmetadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n  apiKeySecretRef:\n    name: {secret}\n{spec}"
    )
}

#[tokio::test]
async fn plan_reports_every_resource_of_dirs_and_stdin_with_keys_per_secret() {
    let sim = simulator().await;
    let files = Files::new("");
    let dir = files.dir.path().join("resources");
    std::fs::create_dir(&dir).unwrap();
    // Two resources and a ConfigMap in one file; one more (whose Secret has no key given) in
    // another; a file that is not YAML is not read (only *.yaml, *.yml, *.json are).
    let a = [
        resource("mail", "one", "key-a", "  requireTls: true\n"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n".to_string(),
        resource(
            "mail",
            "two",
            "key-b",
            "  onBehalfOf:\n    subuser: marketing-sub\n  minimumTlsVersion: \"1.2\"\n",
        ),
    ]
    .join("---\n");
    std::fs::write(dir.join("a.yaml"), a).unwrap();
    std::fs::write(
        dir.join("b.yml"),
        resource("mail", "three", "unmapped", "  requireTls: true\n"),
    )
    .unwrap();
    std::fs::write(dir.join("notes.txt"), "not: [yaml").unwrap();
    // From stdin, an invalid one.
    let stdin = resource("other", "four", "key-a", "  minimumTlsVersion: 1.2\n");
    let key = files.path("key");
    let (key_a, key_b) = (format!("key-a={key}"), format!("mail/key-b={key}"));
    let [u1, u2, u3, u4] = urls(&sim);
    let dir = path_str(&dir).to_string();
    let args = [
        "plan",
        "-f",
        &dir,
        "-f",
        "-",
        "--secret",
        &key_a,
        "--secret",
        &key_b,
        "-o",
        "json",
        "--detailed-exitcode",
        &u1,
        &u2,
        &u3,
        &u4,
    ];
    let out = run_with(&args, &[], Some(&stdin)).await;

    assert_eq!(out.code, Some(1), "any failure wins over changes: {out:?}");
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    let got: Vec<(String, String, String)> = report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let text = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            let reason = r["error"]["reason"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            (text("resource"), text("result"), reason)
        })
        .collect();
    let want = [
        ("mail/one", "Changes", ""),
        ("mail/two", "Changes", ""),
        ("mail/three", "Failed", "SecretNotFound"),
        ("other/four", "Failed", "InvalidObject"),
    ]
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()));
    assert_eq!(got, want, "{}", out.stdout);
    let sources: Vec<&str> = report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["source"].as_str().unwrap())
        .collect();
    assert!(sources[0].ends_with("a.yaml#1") && sources[1].ends_with("a.yaml#3"));
    assert_eq!(sources[3], "stdin#1");
    assert_eq!(
        report["resources"][1]["changes"],
        serde_json::json!([{"field": "minimumTlsVersion", "from": "1.1", "to": "1.2"}])
    );
    assert_eq!(
        report["summary"],
        serde_json::json!({"inSync": 0, "changes": 2, "applied": 0, "drifted": 0, "failed": 2})
    );
    // One stderr line per failure, naming the resource and the way out.
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 2, "{out:?}");
    assert!(lines[0].contains("mail/three") && lines[0].contains("--secret unmapped=PATH"));
    assert!(lines[1].contains("other/four") && lines[1].contains("spec.minimumTlsVersion"));
    assert_eq!(log(&sim), [get(), get()], "one GET per usable resource");
}

#[tokio::test]
async fn apply_yaml_report_is_the_status_to_write() {
    let sim = simulator().await;
    let files = Files::new(RESOURCE);
    let (resource, key) = (files.resource(), files.path("key"));
    let [a, b, c, d] = urls(&sim);
    let args = [
        "apply",
        "-f",
        &resource,
        "--api-key-file",
        &key,
        "-o",
        "yaml",
        &a,
        &b,
        &c,
        &d,
    ];
    let out = run(&args, &[]).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    let report: Value = serde_saphyr::from_str(&out.stdout).unwrap();
    let entry = &report["resources"][0];
    assert_eq!(entry["result"].as_str(), Some("Applied"), "{}", out.stdout);
    assert_eq!(entry["events"][0]["reason"].as_str(), Some("Applied"));
    let ready = condition(entry, "Ready").unwrap();
    assert_eq!(ready["reason"].as_str(), Some("InSync"));
    assert_eq!(report["summary"]["applied"].as_u64(), Some(1));
}

/// Sends SIGTERM, as Kubernetes does to stop a pod.
fn terminate(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn simulate_serves_plan_and_apply_until_sigterm() {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = command(&["simulate", "--listen", &listen, "--api-key", KEY], &[])
        .spawn()
        .unwrap();
    let stdout = drain(child.stdout.take().unwrap());
    // Forward stderr line by line, so the test can wait for the "listening" line.
    let (lines_tx, lines) = mpsc::channel();
    let pipe = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(pipe).lines() {
            let line = line.unwrap();
            all.push_str(&line);
            all.push('\n');
            let _ = lines_tx.send(line);
        }
        all
    });
    let url = format!("http://{listen}/");
    let announced = format!("SendGrid simulator: global {url}");
    let started = Instant::now();
    loop {
        let left = DEADLINE.saturating_sub(started.elapsed());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains(&announced) => break,
            Ok(_) => {}
            Err(e) => {
                let _ = child.kill();
                panic!("the simulator did not announce {url}: {e}");
            }
        }
    }

    let files = Files::new(RESOURCE);
    let (resource, key) = (files.resource(), files.path("key"));
    let args = |command: &'static str| {
        let mut args = vec![command.to_string(), "-f".into(), resource.clone()];
        if command == "plan" {
            args.push("--detailed-exitcode".into());
        }
        args.extend(["--api-key-file".into(), key.clone()]);
        args.extend(["--sendgrid-url".into(), url.clone()]);
        args
    };
    let run_with = |command: &'static str| {
        let args = args(command);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_blocking(&args, &[])
    };
    assert_eq!(run_with("plan").code, Some(2), "changes pending");
    assert_eq!(run_with("apply").code, Some(0));
    // The simulator kept the change: now in sync.
    let out = run_with("plan");
    assert_eq!(out.code, Some(0), "{out:?}");

    terminate(&child);
    let out = wait(child, stdout, stderr);
    assert_eq!(out.code, Some(0), "stops cleanly on SIGTERM: {out:?}");
}

#[test]
fn run_without_a_cluster_fails_fast_with_one_line() {
    let dir = TempDir::new().unwrap();
    let kubeconfig: PathBuf = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: nowhere\n  cluster:\n    server: http://127.0.0.1:1\ncontexts:\n- name: nowhere\n  context:\n    cluster: nowhere\n    user: nobody\nusers:\n- name: nobody\n  user: {}\ncurrent-context: nowhere\n",
    )
    .unwrap();
    let out = run_blocking(
        &["run", "--metrics-addr", "127.0.0.1:0"],
        &[("KUBECONFIG", path_str(&kubeconfig))],
    );
    assert_eq!(out.code, Some(1), "{out:?}");
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 1, "one line, the cause: {out:?}");
    assert!(
        lines[0].contains("no Kubernetes cluster reachable"),
        "{out:?}"
    );
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn help_of_each_subcommand_lists_its_flags_and_the_global_ones_once() {
    let global = [
        "--sendgrid-url",
        "--sendgrid-eu-url",
        "--log-format",
        "--log-level",
    ];
    let file_flags = [
        "--filename",
        "-f",
        "--api-key-file",
        "--secret",
        "--output",
        "--simulate",
        "--simulate-listen",
    ];
    let cases: [(&str, &[&str]); 5] = [
        (
            "run",
            &[
                "--metrics-addr",
                "--namespace",
                "--watch-secrets",
                "--concurrency",
                "--retry-base-delay",
                "--retry-max-delay",
            ],
        ),
        ("plan", &["--detailed-exitcode"]),
        ("apply", &[]),
        ("simulate", &["--listen", "--api-key"]),
        ("crd", &[]),
    ];
    for (command, flags) in cases {
        let out = run_blocking(&[command, "--help"], &[]);
        assert_eq!(out.code, Some(0), "{command}: {out:?}");
        let (own, globals) = out
            .stdout
            .split_once("Global options:")
            .unwrap_or_else(|| panic!("{command} --help has no Global options:\n{}", out.stdout));
        let file = if matches!(command, "plan" | "apply") {
            &file_flags[..]
        } else {
            &[]
        };
        for flag in flags.iter().chain(file) {
            assert!(
                own.contains(flag),
                "{command} --help does not mention {flag}:\n{}",
                out.stdout
            );
        }
        for flag in global {
            assert!(
                globals.contains(flag) && !own.contains(flag),
                "{command} --help: {flag} belongs under Global options, once:\n{}",
                out.stdout
            );
        }
    }
    let out = run_blocking(&["--help"], &[]);
    for command in ["run", "crd", "plan", "apply", "simulate"] {
        assert!(out.stdout.contains(command), "{}", out.stdout);
    }
}

// a zero delay or period would reconcile in a hot loop: refused before
// anything starts, naming the flag.
#[test]
fn zero_delays_and_periods_are_refused_naming_the_flag() {
    for (flag, floor) in [
        ("--default-resync-interval", "1s"),
        ("--retry-base-delay", "10ms"),
        ("--retry-max-delay", "10ms"),
        ("--cleanup-timeout", "1s"),
    ] {
        let out = run_blocking(&["run", flag, "0s"], &[]);
        assert_eq!(out.code, Some(1), "{flag}: {out:?}");
        assert!(
            out.stderr.contains(flag) && out.stderr.contains(&format!("at least {floor}")),
            "{flag}: {out:?}"
        );
    }
}

// an http:// SendGrid URL would send the key in clear text: refused, unless
// the host is loopback (a simulator on this machine).
#[tokio::test]
async fn clear_text_sendgrid_url_is_refused_except_on_loopback() {
    let sim = simulator().await;
    let files = Files::new(RESOURCE);
    let resource = files.resource();
    let key = [("SENDGRID_API_KEY", KEY)];
    for flag in ["--sendgrid-url", "--sendgrid-eu-url"] {
        let out = run(&["plan", "-f", &resource, flag, "http://example.com"], &key).await;
        assert_eq!(out.code, Some(1), "{flag}: {out:?}");
        let lines = out.stderr_lines();
        assert_eq!(lines.len(), 1, "{flag}: {out:?}");
        assert!(
            lines[0].contains("http://example.com") && lines[0].contains("clear text"),
            "{flag}: {out:?}"
        );
    }
    let [a, b, c, d] = urls(&sim);
    assert!(b.starts_with("http://127.0.0.1:"), "{b}");
    let out = run(
        &[
            "plan",
            "--detailed-exitcode",
            "-f",
            &resource,
            &a,
            &b,
            &c,
            &d,
        ],
        &key,
    )
    .await;
    assert_eq!(out.code, Some(2), "changes pending: {out:?}");
    assert_eq!(log(&sim), [get()]);
}

// The key's scopes are checked first, as the controller does: `apply` of an Enforce resource
// needs the update scope, `plan` only the reads; what is missing is named on one stderr line,
// before any other request.
#[tokio::test]
async fn missing_scopes_are_named_before_any_other_request() {
    use sendgrid_tls_operator::simulator::{Scope, SimKey};
    let sim = simulator().await;
    let files = Files::new(RESOURCE);
    let (resource, key) = (files.resource(), files.path("key"));
    let [a, b, c, d] = urls(&sim);
    let scoped = |scopes: &[Scope]| {
        sim.add_key(SimKey {
            key: KEY.into(),
            account: "main".into(),
            scopes: scopes.to_vec(),
        });
        sim.clear_requests();
    };
    let command = |command| {
        vec![
            command,
            "-f",
            resource.as_str(),
            "--api-key-file",
            key.as_str(),
            &a,
            &b,
            &c,
            &d,
        ]
    };
    let paths = |sim: &SimulatorHandle| -> Vec<String> {
        sim.requests().into_iter().map(|r| r.path).collect()
    };
    let cases: [(&str, &[Scope], &[&str]); 3] = [
        (
            "apply",
            &[Scope::Read, Scope::UsernameRead],
            &["user.settings.enforced_tls.update"],
        ),
        (
            "plan",
            &[Scope::Update],
            &["user.username.read", "user.settings.enforced_tls.read"],
        ),
        (
            "apply",
            &[],
            &[
                "user.username.read",
                "user.settings.enforced_tls.read",
                "user.settings.enforced_tls.update",
            ],
        ),
    ];
    for (name, scopes, missing) in cases {
        scoped(scopes);
        let out = run(&command(name), &[]).await;
        assert_eq!(out.code, Some(1), "{name} {scopes:?}: {out:?}");
        let lines = out.stderr_lines();
        assert_eq!(lines.len(), 1, "{name} {scopes:?}: {out:?}");
        assert!(
            lines[0].starts_with("error: mail/marketing: Forbidden: "),
            "{out:?}"
        );
        assert!(lines[0].contains("to the API key"), "{out:?}");
        for scope in missing {
            assert!(lines[0].contains(scope), "{scope}: {out:?}");
        }
        assert_eq!(paths(&sim), ["/v3/scopes"], "nothing else asked: {out:?}");
    }

    // `plan` only reads: a key without the update scope plans; `apply` with all of them works.
    scoped(&[Scope::Read, Scope::UsernameRead]);
    let out = run(&command("plan"), &[]).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(
        paths(&sim),
        ["/v3/scopes", USERNAME_PATH, PATH],
        "the scopes first"
    );
    scoped(&Scope::ALL);
    let out = run(&command("apply"), &[]).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(
        sim.settings("main", None).require_tls,
        Some(true),
        "applied"
    );
}

// The report's reasons are the controller's: what a Secret with the same trouble gets.
#[tokio::test]
async fn key_troubles_carry_the_controllers_reasons() {
    let sim = simulator().await;
    let files = Files::new(RESOURCE);
    let resource = files.resource();
    let malformed = files.path("malformed");
    std::fs::write(&malformed, "not-a-sendgrid-key\n").unwrap();
    let missing = files.path("missing");
    let [a, b, c, d] = urls(&sim);
    let bad_env = [("SENDGRID_API_KEY", "not-a-sendgrid-key")];
    let cases = [
        (
            vec!["--api-key-file", &malformed],
            &[][..],
            "SecretKeyInvalid",
        ),
        (vec![], &bad_env[..], "SecretKeyInvalid"),
        (vec!["--api-key-file", &missing], &[], "SecretNotFound"),
        (vec![], &[], "SecretNotFound"),
    ];
    for (flags, env, reason) in cases {
        for command in ["plan", "apply"] {
            let mut args = vec![command, "-f", &resource, "-o", "json", &a, &b, &c, &d];
            args.extend_from_slice(&flags);
            let out = run(&args, env).await;
            assert_eq!(out.code, Some(1), "{flags:?} {env:?}: {out:?}");
            let report: Value = serde_json::from_str(&out.stdout).unwrap();
            let error = &report["resources"][0]["error"];
            assert_eq!(error["reason"], reason, "{flags:?} {env:?}: {out:?}");
            let lines = out.stderr_lines();
            assert!(
                lines.len() == 1 && lines[0].contains(reason),
                "{flags:?} {env:?}: {out:?}"
            );
        }
    }
    assert_eq!(log(&sim), [], "no key, no request");
}

/// Every `[env: NAME=...]` a help text lists.
fn env_names(help: &str) -> Vec<String> {
    help.split("[env: ")
        .skip(1)
        .filter_map(|rest| rest.split(['=', ']']).next())
        .map(str::to_string)
        .collect()
}

// Generic names (LOG_LEVEL, CONCURRENCY) could be meant for another program in the same pod; only
// the contract's SENDGRID_URL/SENDGRID_EU_URL/SENDGRID_API_KEY and the downward API's
// POD_NAMESPACE go without the project's prefix.
#[test]
fn environment_names_carry_the_projects_prefix() {
    let unprefixed = ["SENDGRID_URL", "SENDGRID_EU_URL", "POD_NAMESPACE"];
    let mut seen = Vec::new();
    for command in ["run", "plan", "apply", "simulate"] {
        let out = run_blocking(&[command, "--help"], &[]);
        assert_eq!(out.code, Some(0), "{command}: {out:?}");
        for name in env_names(&out.stdout) {
            assert!(
                name.starts_with("SENDGRID_TLS_") || unprefixed.contains(&name.as_str()),
                "{command} --help: {name} has no SENDGRID_TLS_ prefix"
            );
            seen.push(name);
        }
    }
    for name in [
        "SENDGRID_TLS_LOG_LEVEL",
        "SENDGRID_TLS_METRICS_ADDR",
        "SENDGRID_TLS_CONCURRENCY",
        "SENDGRID_TLS_METRICS_PER_NAMESPACE",
    ] {
        assert!(seen.iter().any(|s| s == name), "no {name} in {seen:?}");
    }
    // The prefixed name is the one read.
    let out = run_blocking(&["run"], &[("SENDGRID_TLS_METRICS_ADDR", "nowhere")]);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("nowhere"), "{out:?}");
}

#[test]
fn version_names_the_commit() {
    let out = run_blocking(&["--version"], &[]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let line = out.stdout.trim();
    let commit = line
        .strip_prefix(&format!(
            "sendgrid-tls-operator {} (commit ",
            env!("CARGO_PKG_VERSION")
        ))
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("no commit in {line:?}"));
    assert!(
        commit == "unknown" || (commit.len() >= 7 && commit.bytes().all(|b| b.is_ascii_hexdigit())),
        "{line:?}"
    );
}

/// `GET path` on loopback; the status code and the body.
fn http_get(addr: &str, path: &str, accept: &str) -> std::io::Result<(u16, String)> {
    let mut stream = std::net::TcpStream::connect(addr)?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let code = response
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_default();
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    Ok((code, body.to_string()))
}

/// `name` from the text of `/metrics`: its value, if the series is there.
fn sample(metrics: &str, name: &str) -> Option<String> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ').map(str::to_string))
}

// As a pod runs it: logs to a pipe (no colour codes), the kube client's requests and the time to
// a new resource's first Ready counted, and SIGTERM a clean stop with no ERROR line, with or
// without leader election.
#[tokio::test(flavor = "multi_thread")]
async fn run_logs_plainly_counts_kube_requests_and_stops_cleanly() {
    use k8s_openapi::api::core::v1::Secret;
    use kube::{Api, CustomResourceExt};
    use sendgrid_tls_operator::api::{SendGridEnforcedTls, SendGridTarget};
    let sim = simulator().await;
    let server = kube_testkit::TestServer::start().await;
    server.register_crd(&SendGridEnforcedTls::crd(), None);
    server.register_crd(&SendGridTarget::crd(), None);
    // Written as a user would (the API server sets generation, uid, creationTimestamp).
    let client = server.client();
    let post = kube::api::PostParams::default();
    let secret: Secret = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "sendgrid-api-key", "namespace": "mail"},
        "stringData": {"apiKey": KEY},
    }))
    .unwrap();
    Api::<Secret>::namespaced(client.clone(), "mail")
        .create(&post, &secret)
        .await
        .unwrap();
    let resource: SendGridEnforcedTls = serde_saphyr::from_str(RESOURCE).unwrap();
    Api::<SendGridEnforcedTls>::namespaced(client, "mail")
        .create(&post, &resource)
        .await
        .unwrap();
    let dir = TempDir::new().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).unwrap();
    let kubeconfig = path_str(&kubeconfig).to_string();
    const FIRST_READY: &str = "sendgrid_tls_operator_time_to_first_ready_seconds_count";
    const SUCCESS: &str = r#"sendgrid_tls_operator_reconciles_total{result="success"}"#;
    // The first run makes the resource Ready; the second finds it so and does not count it.
    for (extra, ready_count) in [(None, "1"), (Some("--leader-election"), "0")] {
        let mut env = vec![
            ("KUBECONFIG".to_string(), kubeconfig.clone()),
            ("POD_NAMESPACE".to_string(), "default".to_string()),
        ];
        let sendgrid = urls(&sim);
        env.push(("SENDGRID_URL".into(), sendgrid[1].clone()));
        env.push(("SENDGRID_EU_URL".into(), sendgrid[3].clone()));
        let (metrics, out) = tokio::task::spawn_blocking(move || {
            let addr = format!("127.0.0.1:{}", free_port());
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let mut args = vec!["run", "--metrics-addr", &addr];
            args.extend(extra);
            let mut child = command(&args, &env).spawn().unwrap();
            let stdout = drain(child.stdout.take().unwrap());
            let stderr = drain(child.stderr.take().unwrap());
            // Polling /metrics, as Prometheus does, until the resource was reconciled.
            let started = Instant::now();
            let metrics = loop {
                let scraped = http_get(&addr, "/metrics", "text/plain;version=0.0.4");
                let done = scraped.as_ref().is_ok_and(|(_, body)| {
                    sample(body, SUCCESS).is_some()
                        && sample(body, FIRST_READY).as_deref() == Some(ready_count)
                });
                if done || started.elapsed() > DEADLINE {
                    break scraped;
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            terminate(&child);
            (metrics, wait(child, stdout, stderr))
        })
        .await
        .unwrap();
        let (code, body) = metrics.unwrap_or_else(|e| panic!("{extra:?}: {e}: {out:?}"));
        assert_eq!(code, 200, "{body}");
        assert!(
            sample(&body, SUCCESS).is_some(),
            "{extra:?}: never reconciled: {out:?}\n{body}"
        );
        // The resource's watch event triggered its first reconcile there.
        let waited = sample(
            &body,
            "sendgrid_tls_operator_reconcile_queue_wait_seconds_count",
        );
        assert!(
            waited.is_some_and(|n| n != "0"),
            "{extra:?}: no queue wait: {body}"
        );
        for verb in ["list", "watch"] {
            let series = format!(
                r#"sendgrid_tls_operator_kube_requests_total{{verb="{verb}",class="2xx"}}"#
            );
            assert!(body.contains(&series), "{extra:?}: no {series} in {body}");
        }
        assert_eq!(
            sample(&body, FIRST_READY).as_deref(),
            Some(ready_count),
            "{extra:?}: {body}"
        );
        assert_eq!(out.code, Some(0), "{extra:?}: {out:?}");
        assert!(out.stderr.contains("stopped"), "{extra:?}: {out:?}");
        assert!(
            !out.stderr.contains("ERROR"),
            "{extra:?}: a clean stop logs no error: {out:?}"
        );
        assert!(
            !out.stderr.contains('\x1b'),
            "{extra:?}: no colour codes off a terminal: {out:?}"
        );
    }
}

/// Two resources pasted without `---` between them, and a bare number for a duration: each is
/// named in words, with the fix.
#[tokio::test]
async fn plan_names_a_missing_separator_and_a_duration_without_unit() {
    let pasted = format!("{RESOURCE}{}", RESOURCE.trim_start());
    let out = run_with(&["plan", "--simulate", "-f", "-"], &[], Some(&pasted)).await;
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr
            .contains("looks like two resources in one document; separate them with a line `---`"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("DuplicateKeyPolicy"), "{}", out.stderr);

    let unitless = format!("{RESOURCE}  resyncInterval: 5\n");
    let out = run_with(&["plan", "--simulate", "-f", "-"], &[], Some(&unitless)).await;
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr.contains(
            "spec.resyncInterval: must be a duration with a unit, not the number 5; write \"5m\""
        ),
        "{}",
        out.stderr
    );
}
