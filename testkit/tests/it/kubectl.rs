//! kubectl against the test server, through a generated kubeconfig. Needs `kubectl` on PATH
//! (or its path in `KUBECTL`): without it these tests fail, saying so.

use crate::common::{Widget, server};
use kube::CustomResourceExt;
use kube::api::{Api, Patch, PatchParams};
use kube_testkit::{Kubectl, TestServer};
use serde_json::{Value, json};
use std::process::Output;
use tempfile::TempDir;

/// kubectl against one server, with a temporary directory for its kubeconfig, discovery cache
/// and the files a test applies.
struct Session {
    kubectl: Kubectl,
    dir: TempDir,
}

impl Session {
    fn new(server: &TestServer) -> Session {
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        server.write_kubeconfig(&kubeconfig).unwrap();
        let kubectl = Kubectl::new(Kubectl::find(), kubeconfig, dir.path().join("cache"));
        Session { kubectl, dir }
    }

    /// Writes `text` to a file in the temporary directory and returns its path.
    fn file(&self, name: &str, text: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_string_lossy().into_owned()
    }

    async fn run(&self, args: &[&str]) -> Output {
        self.kubectl.run(args).await
    }

    async fn ok(&self, args: &[&str]) -> String {
        self.kubectl.ok(args).await
    }
}

fn manifest(size: i64) -> String {
    format!(
        "apiVersion: testkit.dev/v1\nkind: Widget\nmetadata:\n  name: a\n  namespace: default\nspec:\n  size: {size}\n"
    )
}

#[tokio::test]
async fn apply_get_wait_and_delete_a_custom_resource() {
    let server = server().await;
    let kubectl = Session::new(&server);
    let file = kubectl.file("a.yaml", &manifest(1));
    assert!(
        kubectl
            .ok(&["apply", "-f", &file])
            .await
            .contains("widget.testkit.dev/a created")
    );

    let json_out: Value =
        serde_json::from_str(&kubectl.ok(&["get", "widgets", "-o", "json"]).await).unwrap();
    assert_eq!(json_out["items"][0]["spec"]["size"], 1);
    assert_eq!(json_out["items"][0]["metadata"]["generation"], 1);

    // The table: printer columns, short name and category.
    let table = kubectl.ok(&["get", "wd"]).await;
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "SIZE", "READY", "AGE"]);
    let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(
        row.len(),
        3,
        "READY is blank until the condition exists: {row:?}"
    );
    assert_eq!(row[..2], ["a", "1"]);
    assert!(kubectl.ok(&["get", "toys"]).await.contains("a "));

    let widgets: Api<Widget> = Api::namespaced(server.client(), "default");
    let ready =
        json!({"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "Done"}]}});
    widgets
        .patch_status("a", &PatchParams::default(), &Patch::Merge(ready))
        .await
        .unwrap();
    kubectl
        .ok(&["wait", "--for=condition=Ready", "widget/a", "--timeout=10s"])
        .await;
    let row = kubectl.ok(&["get", "widget", "a", "--no-headers"]).await;
    assert_eq!(
        row.split_whitespace().take(3).collect::<Vec<_>>(),
        ["a", "1", "True"]
    );

    let file = kubectl.file("a.yaml", &manifest(2));
    assert!(
        kubectl
            .ok(&["apply", "-f", &file])
            .await
            .contains("configured")
    );
    assert_eq!(
        kubectl
            .ok(&[
                "get",
                "widget",
                "a",
                "-o",
                "jsonpath={.metadata.generation}"
            ])
            .await,
        "2"
    );
    let unchanged = kubectl.ok(&["apply", "-f", &file]).await;
    assert!(unchanged.contains("unchanged"), "{unchanged}");

    let invalid = kubectl.file("bad.yaml", &manifest(-1));
    let out = kubectl.run(&["apply", "-f", &invalid]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("spec.size"),
        "{stderr}"
    );

    let server_side = kubectl.ok(&["apply", "--server-side", "-f", &file]).await;
    assert!(server_side.contains("serverside-applied"), "{server_side}");

    kubectl
        .ok(&["delete", "widget", "a", "--timeout=10s"])
        .await;
    assert!(
        kubectl
            .ok(&["get", "widgets", "-o", "json"])
            .await
            .contains("\"items\": []")
    );
}

#[tokio::test]
async fn applying_a_crd_manifest_registers_its_resource() {
    let server = TestServer::start().await;
    let kubectl = Session::new(&server);
    let crd = kubectl.file(
        "crd.yaml",
        &serde_saphyr::to_string(&Widget::crd()).unwrap(),
    );
    kubectl.ok(&["apply", "-f", &crd]).await;
    kubectl
        .ok(&[
            "wait",
            "--for=condition=Established",
            "crd/widgets.testkit.dev",
            "--timeout=10s",
        ])
        .await;
    let file = kubectl.file("a.yaml", &manifest(1));
    kubectl.ok(&["apply", "-f", &file]).await;
    let all: Value =
        serde_json::from_str(&kubectl.ok(&["get", "widgets", "-A", "-o", "json"]).await).unwrap();
    assert_eq!(all["items"][0]["metadata"]["namespace"], "default");
}

#[tokio::test]
async fn secrets_and_namespaces_from_manifests_and_imperative_commands() {
    let server = TestServer::start().await;
    let kubectl = Session::new(&server);
    let secret =
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: key\nstringData:\n  apiKey: abc\n";
    kubectl
        .ok(&["apply", "-f", &kubectl.file("secret.yaml", secret)])
        .await;
    let data = kubectl
        .ok(&["get", "secret", "key", "-o", "jsonpath={.data.apiKey}"])
        .await;
    assert_eq!(data, "YWJj");

    // kubectl's imperative create sends protobuf bodies.
    kubectl.ok(&["create", "namespace", "mail"]).await;
    let phase = kubectl
        .ok(&["get", "namespace", "mail", "-o", "jsonpath={.status.phase}"])
        .await;
    assert_eq!(phase, "Active");
    kubectl
        .ok(&[
            "create",
            "secret",
            "generic",
            "other",
            "-n",
            "mail",
            "--from-literal=apiKey=x",
        ])
        .await;
    let other: Value = serde_json::from_str(
        &kubectl
            .ok(&["get", "secret", "other", "-n", "mail", "-o", "json"])
            .await,
    )
    .unwrap();
    assert_eq!(other["data"]["apiKey"], "eA==");
    assert_eq!(other["type"], "Opaque");
    assert!(other["metadata"].get("generateName").is_none(), "{other}");

    // Other protobuf bodies are refused, saying what works instead.
    let request = http::Request::post("/api/v1/namespaces/mail/secrets")
        .header("content-type", "application/vnd.kubernetes.protobuf")
        .body(b"k8s\0garbage".to_vec())
        .unwrap();
    match server.client().request_text(request).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 415);
            assert!(
                status.message.contains("kubectl apply -f"),
                "{}",
                status.message
            );
        }
        other => panic!("expected a 415, got {other:?}"),
    }
}

/// Events recorded through events.k8s.io/v1 (kube's `Recorder`, as an operator does) are what
/// `kubectl describe` lists under Events (core/v1, selected by `involvedObject.*`) and what
/// `kubectl get events` prints, in the API server's columns.
#[tokio::test]
async fn describe_and_get_events_show_what_a_recorder_published() {
    use kube::Resource;
    use kube::api::PostParams;
    use kube::runtime::events::{Event, EventType, Recorder, Reporter};
    let server = server().await;
    let widgets: Api<Widget> = Api::namespaced(server.client(), "default");
    let mut refs = Vec::new();
    for name in ["a", "b"] {
        let created = widgets
            .create(&PostParams::default(), &crate::common::widget(name, 1))
            .await
            .unwrap();
        refs.push(created.object_ref(&()));
    }
    let reporter = Reporter {
        controller: "widget-controller".into(),
        instance: Some("widget-controller-0".into()),
    };
    let recorder = Recorder::new(server.client(), reporter);
    let event = |type_, reason: &str, note: &str| Event {
        type_,
        reason: reason.into(),
        note: Some(note.into()),
        action: "Reconcile".into(),
        secondary: None,
    };
    let applied = event(EventType::Normal, "Applied", "Set size=1");
    recorder.publish(&applied, &refs[0]).await.unwrap();
    let warned = event(EventType::Warning, "Conflict", "b disagrees with a");
    recorder.publish(&warned, &refs[0]).await.unwrap();
    let other = event(EventType::Normal, "Resized", "about b only");
    recorder.publish(&other, &refs[1]).await.unwrap();

    let kubectl = Session::new(&server);
    let described = kubectl.ok(&["describe", "widget", "a"]).await;
    let events = described
        .split_once("Events:")
        .unwrap_or_else(|| panic!("no Events section:\n{described}"))
        .1;
    let lines: Vec<Vec<&str>> = events
        .lines()
        .map(|l| l.split_whitespace().collect())
        .filter(|w: &Vec<&str>| w.first().is_some_and(|first| !first.starts_with("--")))
        .collect();
    assert_eq!(
        lines[0],
        ["Type", "Reason", "Age", "From", "Message"],
        "{events}"
    );
    assert_eq!(lines.len(), 3, "a's two Events, not b's:\n{events}");
    let applied_line = lines.iter().find(|l| l[1] == "Applied").expect(events);
    assert_eq!(applied_line[0], "Normal");
    assert_eq!(applied_line[3], "widget-controller");
    assert_eq!(applied_line[4..], ["Set", "size=1"]);
    assert!(
        lines.iter().any(|l| l[..2] == ["Warning", "Conflict"]),
        "{events}"
    );

    let table = kubectl.ok(&["get", "events", "-n", "default"]).await;
    let rows: Vec<&str> = table.lines().collect();
    let header: Vec<&str> = rows[0].split_whitespace().collect();
    assert_eq!(
        header,
        ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
        "{table}"
    );
    assert_eq!(rows.len(), 4, "{table}");
    let row = rows.iter().find(|r| r.contains("Resized")).expect(&table);
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cells[1..],
        ["Normal", "Resized", "widget/b", "about", "b", "only"],
        "{table}"
    );

    let wide = kubectl
        .ok(&["get", "events", "-n", "default", "-o", "wide"])
        .await;
    assert!(wide.lines().next().unwrap().contains("SOURCE"), "{wide}");
    assert!(
        wide.contains("widget-controller, widget-controller-0"),
        "{wide}"
    );

    // The same Events through the API an operator writes them to.
    let v1 = kubectl
        .ok(&["get", "events.events.k8s.io", "-n", "default", "-o", "json"])
        .await;
    let v1: Value = serde_json::from_str(&v1).unwrap();
    assert_eq!(v1["items"].as_array().unwrap().len(), 3);
}
