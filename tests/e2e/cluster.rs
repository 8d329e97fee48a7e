//! One scenario's turn on the real control plane: the cluster emptied of the previous scenario's
//! namespaces, the chart's RBAC for the configuration under test applied, a ServiceAccount token
//! for the operator (behind a loopback TCP proxy the test can cut, as a network blip would), a
//! mirror of the objects the scenario reads (kept by watches, so waits can check synchronously),
//! and the audit log read into request records like the test server's own log.
//!
//! Scenarios on the shared control plane take turns (one at a time): a cluster-wide operator of
//! one scenario would otherwise reconcile another scenario's resources against its own simulator.

use super::audit::{Audit, BARRIER};
use super::chart::Chart;
use super::control_plane::{self, ControlPlane, HARNESS_TOKEN, USER_TOKEN};
use super::mirror::{Mirror, Proxy};
use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube_testkit::{RequestRecord, ResourceRef};
use sendgrid_tls_operator::api::SendGridTarget;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::{Arc, LazyLock};
use std::time::Duration;
use tokio::sync::OwnedMutexGuard;
use tokio::time::Instant;

/// The namespace the chart is installed in (the fixtures' release namespace).
pub const RELEASE_NAMESPACE: &str = "sendgrid-system";
const SYSTEM_NAMESPACES: [&str; 4] = ["default", "kube-system", "kube-public", "kube-node-lease"];

static TURN: LazyLock<Arc<tokio::sync::Mutex<()>>> = LazyLock::new(Default::default);
static SHARED: tokio::sync::OnceCell<Arc<ControlPlane>> = tokio::sync::OnceCell::const_new();

/// The control plane shared by the scenarios of this test binary, started on first use with the
/// CRD from `crds/` installed.
pub async fn shared() -> Arc<ControlPlane> {
    SHARED
        .get_or_init(|| async {
            let plane = Arc::new(ControlPlane::start("shared", &[]).await);
            install_crd(&plane).await;
            plane
        })
        .await
        .clone()
}

/// Applies `crds/` (as `kubectl apply --server-side` would) and waits until they are served.
pub async fn install_crd(plane: &ControlPlane) {
    let client = user_client(plane).await;
    let api: Api<CustomResourceDefinition> = Api::all(client);
    for file in crate::support::CRD_FILES {
        let text =
            std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file))
                .unwrap();
        let crd: CustomResourceDefinition = serde_saphyr::from_str(&text).unwrap();
        let name = crd.metadata.name.clone().unwrap();
        api.patch(
            &name,
            &PatchParams::apply("e2e").force(),
            &Patch::Apply(&crd),
        )
        .await
        .unwrap();
        let established = kube::runtime::wait::conditions::is_crd_established();
        tokio::time::timeout(
            Duration::from_secs(30),
            kube::runtime::wait::await_condition(api.clone(), &name, established),
        )
        .await
        .expect("the CRD to be established")
        .unwrap();
    }
}

async fn user_client(plane: &ControlPlane) -> kube::Client {
    let path = plane.write_kubeconfig(&plane.dir.join("user.kubeconfig"), USER_TOKEN);
    control_plane::client_for(&path).await
}

/// The real control plane, as one scenario sees it.
pub struct Cluster {
    pub plane: Arc<ControlPlane>,
    pub client: kube::Client,
    /// A kubeconfig for the operator: the chart's ServiceAccount, through the proxy.
    pub operator_kubeconfig: PathBuf,
    /// A kubeconfig for kubectl as the test's user.
    pub user_kubeconfig: PathBuf,
    mirror: Mirror,
    audit: Audit,
    proxy: Proxy,
    _turn: OwnedMutexGuard<()>,
}

impl Cluster {
    /// Waits for this scenario's turn on the shared control plane, then prepares it.
    pub async fn on_shared(chart: Chart, namespaces: &[&str], dir: &std::path::Path) -> Cluster {
        let turn = TURN.clone().lock_owned().await;
        Cluster::prepare(shared().await, turn, chart, namespaces, dir).await
    }

    /// Prepares a control plane of the scenario's own (still taking a turn: two control planes
    /// at once would overload a 2-core machine).
    pub async fn on(
        plane: Arc<ControlPlane>,
        chart: Chart,
        namespaces: &[&str],
        dir: &std::path::Path,
    ) -> Cluster {
        let turn = TURN.clone().lock_owned().await;
        Cluster::prepare(plane, turn, chart, namespaces, dir).await
    }

    async fn prepare(
        plane: Arc<ControlPlane>,
        turn: OwnedMutexGuard<()>,
        chart: Chart,
        namespaces: &[&str],
        dir: &std::path::Path,
    ) -> Cluster {
        plane.assert_running();
        let client = user_client(&plane).await;
        let harness_path = plane.write_kubeconfig(&dir.join("harness.kubeconfig"), HARNESS_TOKEN);
        let harness = control_plane::client_for(&harness_path).await;
        reset(&harness).await;
        let mut wanted: Vec<String> = vec![RELEASE_NAMESPACE.to_string()];
        wanted.extend(namespaces.iter().map(|n| n.to_string()));
        wanted.extend(chart.watch_namespaces());
        for ns in &wanted {
            ensure_namespace(&client, ns).await;
        }
        let params = PatchParams::apply("e2e").force();
        for object in chart.rbac_objects() {
            apply(&client, &object, &params).await;
        }
        let token = service_account_token(&client, &chart.service_account()).await;
        let proxy = Proxy::start(&plane.url).await;
        let operator_kubeconfig =
            plane.write_kubeconfig_at(&dir.join("operator.kubeconfig"), &proxy.url, &token);
        let user_kubeconfig = plane.write_kubeconfig(&dir.join("user.kubeconfig"), USER_TOKEN);
        let mirror = Mirror::start(&harness).await;
        let audit = Audit::from_now(plane.audit_log.clone());
        Cluster {
            plane,
            client,
            operator_kubeconfig,
            user_kubeconfig,
            mirror,
            audit,
            proxy,
            _turn: turn,
        }
    }

    pub fn requests(&self) -> Vec<RequestRecord> {
        self.audit.requests()
    }

    /// Waits until the audit log holds every request answered so far. A request's audit line is
    /// written as its response ends, a moment after a watch may already have shown its effect;
    /// so the harness makes a request of its own and waits for that one's line.
    pub async fn settle(&self) {
        static MARKERS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = MARKERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let marker = format!("{BARRIER}{n}");
        let maps: Api<k8s_openapi::api::core::v1::ConfigMap> =
            Api::namespaced(self.client.clone(), "default");
        maps.get_opt(&marker).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self
            .audit
            .records()
            .iter()
            .any(|r| r.name.as_deref() == Some(marker.as_str()))
        {
            assert!(Instant::now() < deadline, "the audit log missed {marker}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    pub fn list_objects(&self, resource: &ResourceRef, namespace: Option<&str>) -> Vec<Value> {
        self.mirror.list(resource, namespace)
    }

    pub fn get_object(
        &self,
        resource: &ResourceRef,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        self.list_objects(resource, namespace)
            .into_iter()
            .find(|o| o["metadata"]["name"] == name)
    }

    /// Cuts every connection of the operator to the API server (its watches re-connect).
    pub fn drop_watches(&self) {
        self.proxy.cut();
    }

    /// Waits until `condition` holds, re-checking on every change the mirror sees.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        mut condition: impl FnMut(&Cluster) -> bool,
    ) -> bool {
        let mut changes = self.mirror.changed.subscribe();
        let deadline = Instant::now() + timeout;
        loop {
            changes.borrow_and_update();
            if condition(self) {
                return true;
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                _ => return condition(self),
            }
        }
    }

    /// Where the components' logs are, for a failure message.
    pub fn logs_hint(&self) -> String {
        format!(
            "control plane logs (etcd, kube-apiserver, kube-controller-manager, audit): {}",
            self.plane.dir.display()
        )
    }
}

/// Empties the cluster of what earlier scenarios left: their namespaces (resources' finalizers
/// removed first, as their operators are gone), the accounts' records (cluster-scoped: no
/// namespace takes them along) and the chart's cluster-wide RBAC.
async fn reset(client: &kube::Client) {
    let resources: Api<DynamicObject> = Api::all_with(client.clone(), &sgtls_resource());
    for object in resources.list(&Default::default()).await.unwrap() {
        let ns = object.metadata.namespace.clone().unwrap();
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &sgtls_resource());
        if object
            .metadata
            .finalizers
            .as_ref()
            .is_some_and(|f| !f.is_empty())
        {
            let clear = Patch::Merge(json!({"metadata": {"finalizers": null}}));
            let _ = api
                .patch(
                    &object.metadata.name.clone().unwrap(),
                    &PatchParams::default(),
                    &clear,
                )
                .await;
        }
    }
    let targets: Api<SendGridTarget> = Api::all(client.clone());
    targets
        .delete_collection(&DeleteParams::default(), &Default::default())
        .await
        .unwrap();
    for (group, kind, plural) in [
        (
            "rbac.authorization.k8s.io",
            "ClusterRoleBinding",
            "clusterrolebindings",
        ),
        ("rbac.authorization.k8s.io", "ClusterRole", "clusterroles"),
    ] {
        let resource = ApiResource {
            group: group.into(),
            version: "v1".into(),
            api_version: format!("{group}/v1"),
            kind: kind.into(),
            plural: plural.into(),
        };
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
        let chart = kube::api::ListParams::default().labels("app.kubernetes.io/instance=sgtls");
        api.delete_collection(&DeleteParams::default(), &chart)
            .await
            .unwrap();
    }
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let leftover: Vec<String> = namespaces
        .list(&Default::default())
        .await
        .unwrap()
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .filter(|n| !SYSTEM_NAMESPACES.contains(&n.as_str()))
        .collect();
    for ns in &leftover {
        let _ = namespaces.delete(ns, &DeleteParams::background()).await;
    }
    wait_namespaces_gone(&namespaces, &leftover).await;
}

async fn wait_namespaces_gone(namespaces: &Api<Namespace>, names: &[String]) {
    let deadline = Instant::now() + Duration::from_secs(90);
    for ns in names {
        while namespaces.get_opt(ns).await.unwrap().is_some() {
            assert!(
                Instant::now() < deadline,
                "namespace {ns} still there after 90s (kube-controller-manager's log says why)"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Creates `name` (after a terminating namespace of that name is gone).
async fn ensure_namespace(client: &kube::Client, name: &str) {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    wait_namespaces_gone(
        &namespaces,
        &namespaces
            .get_opt(name)
            .await
            .unwrap()
            .filter(|n| n.metadata.deletion_timestamp.is_some())
            .map(|_| vec![name.to_string()])
            .unwrap_or_default(),
    )
    .await;
    let object: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    match namespaces.create(&PostParams::default(), &object).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => {}
        Err(e) => panic!("creating namespace {name}: {e}"),
    }
}

pub fn sgtls_resource() -> ApiResource {
    ApiResource::erase::<sendgrid_tls_operator::api::SendGridEnforcedTls>(&())
}

/// Server-side applies one object of the chart (any kind the fixtures hold).
pub async fn apply(client: &kube::Client, object: &Value, params: &PatchParams) {
    let api_version = object["apiVersion"].as_str().unwrap();
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let kind = object["kind"].as_str().unwrap();
    let resource = ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: api_version.into(),
        kind: kind.into(),
        plural: format!("{}s", kind.to_lowercase()),
    };
    let name = object["metadata"]["name"].as_str().unwrap();
    let api: Api<DynamicObject> = match object["metadata"]["namespace"].as_str() {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    api.patch(name, params, &Patch::Apply(object))
        .await
        .unwrap_or_else(|e| panic!("applying {kind} {name}: {e}"));
}

/// A bound token of the ServiceAccount (namespace, name), from the TokenRequest API.
async fn service_account_token(client: &kube::Client, (ns, name): &(String, String)) -> String {
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), ns);
    let request: TokenRequest =
        serde_json::from_value(json!({"spec": {"audiences": [], "expirationSeconds": 3600}}))
            .unwrap();
    let answer = accounts
        .create_token_request(name, &PostParams::default(), &request)
        .await
        .unwrap_or_else(|e| panic!("a token for ServiceAccount {ns}/{name}: {e}"));
    answer.status.unwrap().token
}
