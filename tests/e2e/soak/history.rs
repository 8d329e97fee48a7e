//! What happened between checks, kept whole: every version of every SendGridTarget and of the
//! leader-election Lease the harness's watches saw (claims, hand-overs and releases can come and
//! go within one step), and every request the simulator logged (its own log keeps only the
//! latest ones).

use futures::StreamExt;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::{WatchStreamExt, watcher};
use sendgrid_tls_operator::api::SendGridTarget;
use sendgrid_tls_operator::simulator::{LoggedRequest, SimulatorHandle};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::task::JoinHandle;

/// One version of a watched object as the watch delivered it; `spec` None: deleted.
#[derive(Clone, Debug)]
pub struct Version {
    pub at: SystemTime,
    pub name: String,
    pub uid: String,
    pub spec: Option<Value>,
}

/// The versions of the objects of one watch, in the order they were seen.
pub struct Watched {
    versions: Arc<Mutex<Vec<Version>>>,
    task: JoinHandle<()>,
}

impl Watched {
    /// Watches the objects `api` lists with `config`, until dropped.
    pub async fn start(api: Api<DynamicObject>, config: watcher::Config) -> Watched {
        let versions: Arc<Mutex<Vec<Version>>> = Arc::default();
        let (ready, mut synced) = tokio::sync::watch::channel(false);
        let record = versions.clone();
        let task = tokio::spawn(async move {
            let stream = watcher(api, config).default_backoff();
            let mut stream = std::pin::pin!(stream);
            while let Some(event) = stream.next().await {
                let (object, deleted) = match event {
                    Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => (o, false),
                    Ok(watcher::Event::Delete(o)) => (o, true),
                    Ok(watcher::Event::InitDone) => {
                        let _ = ready.send(true);
                        continue;
                    }
                    _ => continue,
                };
                record.lock().unwrap().push(Version {
                    at: SystemTime::now(),
                    name: object.metadata.name.clone().unwrap_or_default(),
                    uid: object.metadata.uid.clone().unwrap_or_default(),
                    spec: (!deleted).then(|| object.data["spec"].clone()),
                });
            }
        });
        tokio::time::timeout(Duration::from_secs(30), synced.wait_for(|s| *s))
            .await
            .expect("the harness's watch to list")
            .unwrap();
        Watched { versions, task }
    }

    pub fn all(&self) -> Vec<Version> {
        self.versions.lock().unwrap().clone()
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub fn target_resource() -> ApiResource {
    ApiResource::erase::<SendGridTarget>(&())
}

/// The simulator's requests since the soak began, collected before its log rotates them out.
#[derive(Default)]
pub struct Ledger {
    requests: Vec<LoggedRequest>,
}

impl Ledger {
    /// Adds what the simulator logged since the last call.
    pub fn collect(&mut self, sim: &SimulatorHandle) {
        let last = self.requests.last().map(|r| r.at);
        self.requests.extend(
            sim.requests()
                .into_iter()
                .filter(|r| last.is_none_or(|last| r.at > last)),
        );
    }

    pub fn all(&self) -> &[LoggedRequest] {
        &self.requests
    }

    pub fn between(&self, from: SystemTime, to: SystemTime) -> Vec<&LoggedRequest> {
        self.requests
            .iter()
            .filter(|r| r.at >= from && r.at <= to)
            .collect()
    }
}
