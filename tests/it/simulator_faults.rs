//! Injected faults over real loopback HTTP, and the server's lifecycle (shutdown, drop).

use crate::support::sim::*;
use crate::support::{KEY, PATH};
use sendgrid_tls_operator::simulator::Fault;
use serde_json::json;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Waits (bounded) until `condition` holds.
async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Sends a raw HTTP/1.1 GET and returns every byte the server wrote before closing.
async fn raw_get(
    sim: &sendgrid_tls_operator::simulator::SimulatorHandle,
) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(sim.addr()).await?;
    let request = format!(
        "GET {PATH} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {KEY}\r\n\
         Connection: close\r\n\r\n",
        sim.addr()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut received = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut received))
        .await
        .expect("the server neither answered nor closed")?;
    Ok(received)
}

#[tokio::test]
async fn latency_delays_the_answer() {
    let sim = start().await;
    let latency = Duration::from_millis(300);
    sim.inject(Fault::Latency(latency));
    let started = Instant::now();
    assert_eq!(Call::get(&sim).json().await.0, 200);
    assert!(started.elapsed() >= latency, "{:?}", started.elapsed());
    sim.clear_faults();
    assert_eq!(Call::get(&sim).json().await.0, 200);
}

#[tokio::test]
async fn server_errors_for_the_next_requests_only() {
    let sim = start().await;
    sim.inject(Fault::ServerErrors {
        count: 2,
        status: 503,
    });
    for _ in 0..2 {
        let response = Call::get(&sim).send().await;
        assert_eq!(response.status(), 503);
        assert!(response.headers().contains_key("x-ratelimit-remaining"));
        assert_eq!(
            response.json::<serde_json::Value>().await.unwrap(),
            json!({"errors": [{"message": "service unavailable"}]})
        );
    }
    assert_eq!(Call::get(&sim).json().await.0, 200);
}

#[tokio::test]
async fn dropped_connections_close_without_any_response() {
    let sim = start().await;
    sim.inject(Fault::DropConnections { count: 2 });
    // A raw client sees the connection end with not a single byte written.
    match raw_get(&sim).await {
        Ok(received) => assert!(
            received.is_empty(),
            "got {:?}",
            String::from_utf8_lossy(&received)
        ),
        Err(error) => assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset),
    }
    // reqwest sees a transport error, not an HTTP status.
    let error = client()
        .get(endpoint(&sim.global_url()))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap_err();
    assert!(error.status().is_none(), "{error:?}");
    assert!(!error.is_timeout(), "{error:?}");
    // Then the simulator answers again, and the log shows the two dropped attempts.
    let received = raw_get(&sim).await.unwrap();
    assert!(
        received.starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&received)
    );
    let statuses: Vec<u16> = sim.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [0, 0, 200]);
}

#[tokio::test]
async fn rate_limit_bursts_send_429_with_a_near_reset() {
    let sim = start().await;
    sim.inject(Fault::RateLimitBurst {
        count: 2,
        reset_after: Duration::from_secs(3),
    });
    for _ in 0..2 {
        let before = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let response = Call::get(&sim).send().await;
        let after = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert_eq!(response.status(), 429);
        assert_eq!(header_number(&response, "x-ratelimit-remaining"), 0);
        assert_eq!(header_number(&response, "x-ratelimit-limit"), 600);
        let reset = header_number(&response, "x-ratelimit-reset");
        assert!(
            reset >= before + 3 && reset <= after + 4,
            "{before} {reset} {after}"
        );
        assert_eq!(
            response.text().await.unwrap(),
            r#"{"errors":[{"field":null,"message":"too many requests"}]}"#
        );
    }
    assert_eq!(Call::get(&sim).json().await.0, 200);
}

#[tokio::test]
async fn faults_never_touch_the_admin_endpoints() {
    let sim = start().await;
    sim.inject(Fault::DropConnections { count: 1 });
    let response = client()
        .get(format!("{}_sim/requests", sim.global_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // The fault is still waiting for an API request.
    assert!(raw_get(&sim).await.map(|r| r.is_empty()).unwrap_or(true));
    assert_eq!(Call::get(&sim).json().await.0, 200);
}

#[tokio::test]
async fn shutdown_finishes_requests_in_flight_then_stops_listening() {
    let sim = start().await;
    sim.inject(Fault::Latency(Duration::from_millis(500)));
    let in_flight = tokio::spawn(Call::get(&sim).send());
    // The request is decided (and logged) on arrival; its answer waits for the latency.
    eventually("the request to arrive", || !sim.requests().is_empty()).await;
    let addr = sim.addr();
    let observer = sim.clone();
    tokio::time::timeout(Duration::from_secs(10), sim.shutdown())
        .await
        .expect("shutdown hung");
    assert_eq!(in_flight.await.unwrap().status(), 200);
    assert!(TcpStream::connect(addr).await.is_err());
    // A clone still reads the state of the stopped simulator.
    assert_eq!(observer.requests().len(), 1);
}

#[tokio::test]
async fn shutdown_is_bounded_even_with_a_stuck_request() {
    let sim = start().await;
    sim.inject(Fault::Latency(Duration::from_secs(3600)));
    let stuck = tokio::spawn(Call::get(&sim).try_send());
    eventually("the request to arrive", || !sim.requests().is_empty()).await;
    tokio::time::timeout(Duration::from_secs(20), sim.shutdown())
        .await
        .expect("shutdown hung");
    assert!(stuck.await.unwrap().is_err());
}

#[tokio::test]
async fn dropping_the_last_handle_stops_the_server() {
    let sim = start().await;
    let addr = sim.addr();
    // An idle keep-alive connection must not keep it alive either.
    let client = client();
    let response = client
        .get(endpoint(&sim.global_url()))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let clone = sim.clone();
    drop(sim);
    assert!(
        TcpStream::connect(addr).await.is_ok(),
        "a clone still serves"
    );
    drop(clone);
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).await.is_ok() {
        assert!(Instant::now() < deadline, "still listening");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        client
            .get(format!("http://{addr}{PATH}"))
            .send()
            .await
            .is_err()
    );
}
