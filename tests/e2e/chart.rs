//! The chart configurations the scenarios run in, from `tests/fixtures/chart/` (the Helm chart
//! rendered by `scripts/sync-e2e-fixtures.sh`; the packaging checks keep them equal to a fresh
//! render): the RBAC objects to apply, the ServiceAccount the operator runs as, and the operator
//! flags and environment of the chart's Deployment.

use serde_json::Value;
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chart {
    /// Cluster-wide: ClusterRoles only, Secrets read by name only.
    Default,
    /// `watchNamespaces: [mail, marketing]`: a Role per namespace; cluster-wide only the
    /// accounts' records (SendGridTarget is cluster-scoped).
    Namespaced,
    /// `secrets.watch: true`: list/watch on Secrets and `--watch-secrets`.
    WatchSecrets,
    /// `leaderElection.enabled`: a Lease in the release namespace.
    LeaderElection,
}

impl Chart {
    fn file(self) -> &'static str {
        match self {
            Chart::Default => "default",
            Chart::Namespaced => "namespaced",
            Chart::WatchSecrets => "watch-secrets",
            Chart::LeaderElection => "leader-election",
        }
    }

    fn objects(self) -> Vec<Value> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/chart")
            .join(format!("{}.yaml", self.file()));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_saphyr::from_multiple(&text).unwrap()
    }

    /// ServiceAccount, (Cluster)Roles and their bindings.
    pub fn rbac_objects(self) -> Vec<Value> {
        self.objects()
            .into_iter()
            .filter(|o| o["kind"] != "Deployment")
            .collect()
    }

    fn container(self) -> Value {
        let deployment = self
            .objects()
            .into_iter()
            .find(|o| o["kind"] == "Deployment")
            .expect("the fixture holds the Deployment");
        deployment["spec"]["template"]["spec"]["containers"][0].clone()
    }

    /// (namespace, name) of the operator's ServiceAccount.
    pub fn service_account(self) -> (String, String) {
        let account = self
            .objects()
            .into_iter()
            .find(|o| o["kind"] == "ServiceAccount")
            .expect("the fixture holds the ServiceAccount");
        let field = |f: &str| account["metadata"][f].as_str().unwrap().to_string();
        (field("namespace"), field("name"))
    }

    /// The Deployment's `run` flags that choose what the operator does (namespaces, Secret watch,
    /// leader election), as `--flag=value` strings. Logging and the metrics port are the
    /// harness's to set.
    pub fn operator_flags(self) -> Vec<String> {
        let args = self.container()["args"].as_array().unwrap().clone();
        args.iter()
            .filter_map(Value::as_str)
            .filter(|a| a.starts_with("--"))
            .filter(|a| !["--log-format", "--log-level", "--metrics-addr"].contains(&flag_name(a)))
            .map(str::to_string)
            .collect()
    }

    /// The namespaces the operator watches (`--namespace`); empty: all.
    pub fn watch_namespaces(self) -> Vec<String> {
        self.operator_flags()
            .iter()
            .filter_map(|f| f.strip_prefix("--namespace="))
            .map(str::to_string)
            .collect()
    }

    /// The leader-election Lease: (namespace, name).
    pub fn lease(self) -> (&'static str, String) {
        let flags = self.operator_flags();
        let name = flags
            .iter()
            .find_map(|f| f.strip_prefix("--leader-election-lease="))
            .unwrap_or("sendgrid-tls-operator");
        // The chart sets POD_NAMESPACE from the pod: the release namespace.
        (super::cluster::RELEASE_NAMESPACE, name.to_string())
    }
}

/// `--name` of `--name=value`.
pub fn flag_name(arg: &str) -> &str {
    arg.split_once('=').map_or(arg, |(name, _)| name)
}

#[test]
fn the_fixtures_match_the_configurations() {
    // Leader election is on by default (one writer also through a rolling update).
    let leading = [
        "--leader-election",
        "--leader-election-lease=sgtls-sendgrid-tls-operator",
        "--lease-duration=15",
    ];
    let with_leading = |flags: &[&str]| -> Vec<String> {
        flags
            .iter()
            .chain(&leading)
            .map(|f| f.to_string())
            .collect()
    };
    assert_eq!(
        Chart::Namespaced.operator_flags(),
        with_leading(&["--namespace=mail", "--namespace=marketing"])
    );
    assert_eq!(
        Chart::WatchSecrets.operator_flags(),
        with_leading(&["--watch-secrets"])
    );
    assert_eq!(Chart::Default.operator_flags(), with_leading(&[]));
    let kinds = |c: Chart| {
        c.rbac_objects()
            .iter()
            .map(|o| o["kind"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    // Namespaced: besides the aggregated view/edit roles for namespace users, only the
    // operator's ClusterRole for the accounts' records and the platform team's read-only one.
    let own_cluster_roles: Vec<String> = Chart::Namespaced
        .rbac_objects()
        .into_iter()
        .filter(|o| o["kind"] == "ClusterRole")
        .filter(|o| {
            o["metadata"]["labels"].as_object().is_none_or(|l| {
                !l.keys()
                    .any(|k| k.starts_with("rbac.authorization.k8s.io/aggregate-to-"))
            })
        })
        .map(|o| o["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        own_cluster_roles,
        [
            "sgtls-sendgrid-tls-operator-targets",
            "sgtls-sendgrid-tls-operator-targets-view"
        ]
    );
    assert!(kinds(Chart::LeaderElection).contains(&"Role".to_string()));
    assert_eq!(
        Chart::LeaderElection.lease().1,
        "sendgrid-tls-operator-lock"
    );
}
