//! A loopback TCP tap in front of the simulator, one per operator process: the process's
//! SendGrid URL points at its own tap, which records when that process sent bytes (and the
//! request line, when a chunk starts one). The simulator's log cannot tell processes apart (the
//! key is the resource's, not the process's), so "one writer at a time" is checked on these.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Bytes one process sent towards SendGrid.
#[derive(Clone, Debug)]
pub struct Sent {
    pub at: SystemTime,
    pub process: String,
    /// `PATCH /v3/user/settings/enforced_tls HTTP/1.1`, or empty for a chunk mid-request.
    pub line: String,
}

/// Everything every tap recorded, in the order it was sent.
#[derive(Clone, Default)]
pub struct Sends(Arc<Mutex<Vec<Sent>>>);

impl Sends {
    pub fn all(&self) -> Vec<Sent> {
        self.0.lock().unwrap().clone()
    }

    fn record(&self, process: &str, chunk: &[u8]) {
        let text = String::from_utf8_lossy(&chunk[..chunk.len().min(200)]);
        let first = text.lines().next().unwrap_or_default();
        let line = if first.ends_with("HTTP/1.1") {
            first.to_string()
        } else {
            String::new()
        };
        // The time is taken under the lock, so the list is in time order.
        let mut sends = self.0.lock().unwrap();
        sends.push(Sent {
            at: SystemTime::now(),
            process: process.to_string(),
            line,
        });
    }
}

pub struct Tap {
    /// `http://127.0.0.1:PORT`: the process's global SendGrid URL (`/eu` added for the EU one).
    pub url: String,
    task: JoinHandle<()>,
}

impl Tap {
    pub async fn start(upstream: SocketAddr, process: &str, sends: Sends) -> Tap {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let process = process.to_string();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(pipe(client, upstream, process.clone(), sends.clone()));
            }
        });
        Tap { url, task }
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Forwards one connection both ways until either side closes it (a dropped connection of the
/// simulator's ends the client's too).
async fn pipe(client: TcpStream, upstream: SocketAddr, process: String, sends: Sends) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_server, mut to_server) = server.into_split();
    let up = async {
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            match from_client.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    sends.record(&process, &buffer[..n]);
                    if to_server.write_all(&buffer[..n]).await.is_err() {
                        break;
                    }
                }
            }
        }
    };
    let down = tokio::io::copy(&mut from_server, &mut to_client);
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
}
