//! Starting, serving and stopping the simulator.
//!
//! A hand-written accept loop over hyper-util rather than `axum::serve`, for two reasons: a
//! dropped-connection fault must close the TCP connection without writing a response (the
//! handler signals its connection task, which drops the connection), and shutdown must finish in
//! bounded time even while a latency fault holds a request.

use super::accounts::{SimAccount, SimUser};
use super::faults::Fault;
use super::settings::TlsSettings;
use super::shared::{ConnectionControl, Shared};
use super::state::{LoggedRequest, RequestCount, SimConfig, SimKey, SimState};
use super::{admin, api};
use axum::Router;
use axum::extract::Extension;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;
use std::sync::{Arc, MutexGuard};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

/// How long shutdown waits for requests in flight before cutting their connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Pause after a failed accept (e.g. out of file descriptors), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// The local SendGrid simulator.
pub struct Simulator;

impl Simulator {
    /// Binds `addr` (use 127.0.0.1:0 in tests) and serves until every handle is dropped or one
    /// is shut down. Global API at `/v3/...`, EU API at `/eu/v3/...`, admin at `/_sim/...`.
    pub async fn start(addr: SocketAddr, config: SimConfig) -> std::io::Result<SimulatorHandle> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(SimState::new(config)));
        let app = api::router()
            .merge(admin::router())
            .fallback(api::not_found)
            .with_state(shared.clone());
        let (stop, stop_rx) = watch::channel(false);
        let (done_tx, done) = watch::channel(false);
        tokio::spawn(async move {
            serve(listener, app, stop_rx).await;
            let _ = done_tx.send(true);
        });
        tracing::info!(%addr, "SendGrid simulator listening");
        Ok(SimulatorHandle {
            inner: Arc::new(Inner {
                addr,
                shared,
                stop,
                done,
            }),
        })
    }
}

/// Controls a running simulator. Clones share it; dropping the last one stops the server.
#[derive(Clone, Debug)]
pub struct SimulatorHandle {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    addr: SocketAddr,
    shared: Arc<Shared>,
    /// Dropping this (with the last handle) also stops the server.
    stop: watch::Sender<bool>,
    done: watch::Receiver<bool>,
}

impl SimulatorHandle {
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// `http://127.0.0.1:PORT`
    pub fn global_url(&self) -> url::Url {
        self.url("")
    }

    /// `http://127.0.0.1:PORT/eu`
    pub fn eu_url(&self) -> url::Url {
        self.url("/eu")
    }

    fn url(&self, path: &str) -> url::Url {
        let text = format!("http://{}{path}", self.inner.addr);
        url::Url::parse(&text).unwrap_or_else(|e| unreachable!("{text} is a valid URL: {e}"))
    }

    /// Settings of an account as SendGrid stores them: `on_behalf_of` None is the parent account
    /// `account`; `Some("marketing-sub")` a subuser; `Some("account-id 1234567")` a customer
    /// account. An account that does not exist has no settings: all fields `None`.
    pub fn settings(&self, account: &str, on_behalf_of: Option<&str>) -> TlsSettings {
        self.shared()
            .settings(account, on_behalf_of)
            .unwrap_or_default()
    }

    /// The username, SendGrid user id and region of an account, named as for
    /// [`settings`](Self::settings); `None` if there is no such account. Every parent, subuser
    /// and customer account has its own id; every key of a parent reaches the same ones.
    pub fn user(&self, account: &str, on_behalf_of: Option<&str>) -> Option<SimUser> {
        self.shared().user(account, on_behalf_of)
    }

    /// Changes settings "from the UI" (drift): only `Some` fields change. Does nothing (and
    /// warns) for an account that does not exist. Takes whatever converts into settings (the
    /// operator converts its own).
    pub fn set_from_ui(
        &self,
        account: &str,
        on_behalf_of: Option<&str>,
        changes: impl Into<TlsSettings>,
    ) {
        if self
            .shared()
            .set_from_ui(account, on_behalf_of, changes.into())
            .is_none()
        {
            tracing::warn!(
                account,
                on_behalf_of,
                "simulator: no such account to change"
            );
        }
    }

    pub fn inject(&self, fault: Fault) {
        self.shared().inject(fault);
    }

    pub fn clear_faults(&self) {
        self.shared().clear_faults();
    }

    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.shared().requests()
    }

    /// Exact request counts (the log above keeps only the latest requests).
    pub fn counts(&self) -> Vec<RequestCount> {
        self.shared().counts()
    }

    /// Clears the request log and the counts.
    pub fn clear_requests(&self) {
        self.shared().clear_requests();
    }

    /// Adds subusers and customer accounts to a parent account (see [`SimAccount::fleet`]).
    pub fn add_account(&self, account: &SimAccount) {
        self.shared().add_account(account);
    }

    /// Adds a key, or replaces the key with the same text (new account or scopes).
    pub fn add_key(&self, key: SimKey) {
        self.shared().add_key(key);
    }

    /// Revokes a key: it gets 401 from then on.
    pub fn remove_key(&self, key: &str) {
        self.shared().remove_key(key);
    }

    /// Stops accepting, lets requests in flight finish (for at most a few seconds) and returns
    /// when the server has stopped. Other clones of the handle then talk to a stopped server.
    pub async fn shutdown(self) {
        let _ = self.inner.stop.send(true);
        let mut done = self.inner.done.clone();
        // An error means the server task is gone already, which is just as stopped.
        let _ = done.wait_for(|done| *done).await;
    }

    fn shared(&self) -> MutexGuard<'_, SimState> {
        self.inner.shared.lock()
    }
}

/// Resolves once a stop is requested or every handle is gone.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

async fn serve(listener: TcpListener, app: Router, mut stop: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            () = stopped(&mut stop) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_connection(stream, app.clone(), stop.clone()));
                }
                Err(error) => {
                    tracing::warn!(%error, "simulator: accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            // Reap finished connections so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::debug!("simulator: cutting connections still busy after the grace period");
    }
    connections.shutdown().await;
    tracing::info!("SendGrid simulator stopped");
}

async fn serve_connection(stream: TcpStream, app: Router, mut stop: watch::Receiver<bool>) {
    let kill = Arc::new(Notify::new());
    let app = app.layer(Extension(ConnectionControl::new(kill.clone())));
    let builder = auto::Builder::new(TokioExecutor::new());
    let connection = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app));
    tokio::pin!(connection);
    let mut draining = false;
    loop {
        tokio::select! {
            _ = connection.as_mut() => return,
            // Returning drops the connection, and with it the socket, unanswered.
            () = kill.notified() => return,
            () = stopped(&mut stop), if !draining => {
                draining = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}
