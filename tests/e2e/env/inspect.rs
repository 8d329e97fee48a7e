//! What every scenario's world can be asked at the end or on a failure: a dump of the state,
//! the scan for API keys outside Secrets, and (on drop) the check that every Event was accepted.

use super::*;

impl Env {
    /// The state of things, for a failure message.
    pub fn dump(&self) -> String {
        let mut out = String::from("--- resources (status) ---\n");
        let objects = self.server.list_objects(&sgtls(), None);
        for object in objects.iter().filter(|o| !is_ready(o)).take(6) {
            let meta = &object["metadata"];
            out += &format!(
                "{}/{} generation {} deletion {} finalizers {}: {}\n",
                meta["namespace"].as_str().unwrap_or(""),
                meta["name"].as_str().unwrap_or(""),
                meta["generation"],
                meta["deletionTimestamp"],
                meta["finalizers"],
                object["status"]
            );
        }
        out += &format!(
            "({} resources, {} Ready)\n",
            objects.len(),
            objects.iter().filter(|o| is_ready(o)).count()
        );
        if let Server::Real(cluster) = &self.server {
            out += &format!("--- {} ---\n", cluster.logs_hint());
        }
        out += "--- last simulator requests ---\n";
        let requests = self.sim.requests();
        for r in requests.iter().rev().take(8).rev() {
            out += &format!(
                "{} {:?} obo={:?} {:?} body={:?} -> {}\n",
                r.method, r.region, r.on_behalf_of, r.key_fingerprint, r.body, r.status
            );
        }
        for (label, logs) in self.logs.lock().unwrap().iter() {
            out += &format!("--- {label}: last log lines ---\n{}\n", logs.tail(25));
        }
        out
    }

    /// Fails if any API key appears anywhere but in a Secret's data: in any operator's output, in
    /// any object on the server (resources with their status, Events, Leases, Namespaces, CRDs,
    /// Secrets' metadata) or in the simulator's log.
    /// Returns how many log lines and objects were scanned.
    pub fn assert_no_key_leaks(&self) -> (usize, usize) {
        let mut lines = 0;
        for (label, logs) in self.logs.lock().unwrap().iter() {
            for line in logs.lines() {
                lines += 1;
                for key in ALL_KEYS {
                    assert!(!line.contains(key), "{label} logged an API key: {line}");
                }
            }
        }
        let kinds = [
            sgtls(),
            events(),
            ResourceRef::new("", "events"),
            ResourceRef::new("coordination.k8s.io", "leases"),
            ResourceRef::new("", "namespaces"),
            ResourceRef::new("apiextensions.k8s.io", "customresourcedefinitions"),
            ResourceRef::new("", "secrets"),
        ];
        let mut objects = 0;
        for kind in &kinds {
            for object in self.server.list_objects(kind, None) {
                objects += 1;
                // A Secret's data is where the key belongs; its metadata is not.
                let text = if kind.plural == "secrets" {
                    object["metadata"].to_string()
                } else {
                    object.to_string()
                };
                for key in ALL_KEYS {
                    assert!(
                        !text.contains(key),
                        "an API key is in a {}: {text}",
                        kind.qualified()
                    );
                }
            }
        }
        let sim_log = serde_json::to_string(&self.sim.requests()).unwrap();
        for key in ALL_KEYS {
            assert!(!sim_log.contains(key), "the simulator logged an API key");
        }
        (lines, objects)
    }
}

/// Every Event the operator publishes must be accepted: a refused one is only a warning in its
/// log (and on a real cluster the Event is simply missing), so each scenario checks the logs.
impl Drop for Env {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        for (label, logs) in self.logs.lock().unwrap().iter() {
            let refused: Vec<String> = logs
                .lines()
                .into_iter()
                .filter(|l| l.contains("could not publish"))
                .collect();
            assert!(
                refused.is_empty(),
                "{label} could not publish Events:\n{}",
                refused.join("\n")
            );
        }
    }
}
