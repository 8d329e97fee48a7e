//! Kubeconfigs of API servers that may run side by side (a dev cluster started twice): each
//! server's own file is named for its port, and the one shared name is taken over only from a
//! server that no longer answers. So a second instance never points the first one's users at
//! itself.

use kube::config::{KubeConfigOptions, Kubeconfig};
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where [`publish`] wrote a server's kubeconfig.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// `<dir>/kubeconfig-<port>`: this server's, always written.
    pub own: PathBuf,
    /// `<dir>/kubeconfig`: written, or left to the live server it names.
    pub shared: Shared,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shared {
    Written(PathBuf),
    /// Left as is: it names another server, which still answers at `server`.
    Kept {
        path: PathBuf,
        server: String,
    },
}

/// Writes `kubeconfig` (YAML naming the server at `url`) to `<dir>/kubeconfig-<port>`, and to
/// `<dir>/kubeconfig` unless that file names another server that still answers.
pub async fn publish(dir: &Path, url: &str, port: u16, kubeconfig: &str) -> io::Result<Published> {
    std::fs::create_dir_all(dir)?;
    let own = dir.join(format!("kubeconfig-{port}"));
    std::fs::write(&own, kubeconfig)?;
    let path = dir.join("kubeconfig");
    let shared = match live_server(&path).await {
        Some(server) if server.trim_end_matches('/') != url.trim_end_matches('/') => {
            Shared::Kept { path, server }
        }
        _ => {
            std::fs::write(&path, kubeconfig)?;
            Shared::Written(path)
        }
    };
    Ok(Published { own, shared })
}

/// The server a kubeconfig names, if it answers `/version` with that kubeconfig's credentials.
async fn live_server(path: &Path) -> Option<String> {
    let kubeconfig = Kubeconfig::read_from(path).ok()?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .ok()?;
    let server = config.cluster_url.to_string();
    let client = kube::Client::try_from(config).ok()?;
    let answer = tokio::time::timeout(Duration::from_secs(2), client.apiserver_version()).await;
    matches!(answer, Ok(Ok(_))).then_some(server)
}
