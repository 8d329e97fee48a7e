//! What scenarios assert on: conditions of a stored object, the simulator's request log
//! (methods, gaps between attempts), and the `[e2e]` report lines.

pub use crate::support::condition;
use sendgrid_tls_operator::simulator::LoggedRequest;
use serde_json::Value;

/// True when `object` has this condition for its current generation.
pub fn has_condition(object: &Value, type_: &str, status: &str, reason: &str) -> bool {
    condition(object, type_).is_some_and(|c| {
        c["status"] == status
            && c["reason"] == reason
            && c["observedGeneration"] == object["metadata"]["generation"]
    })
}

pub fn is_ready(object: &Value) -> bool {
    has_condition(object, "Ready", "True", "InSync")
}

/// The message of a condition ("" if absent).
pub fn message(object: &Value, type_: &str) -> String {
    condition(object, type_)
        .and_then(|c| c["message"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// Prints a measured count for the report (`--nocapture` shows it).
pub fn report(scenario: &str, text: impl std::fmt::Display) {
    println!("[e2e] {scenario}: {text}");
}

/// The methods of these requests, in order.
pub fn methods(requests: &[LoggedRequest]) -> Vec<&str> {
    requests.iter().map(|r| r.method.as_str()).collect()
}

/// Seconds between consecutive requests.
pub fn gaps(requests: &[LoggedRequest]) -> Vec<f64> {
    requests
        .windows(2)
        .map(|w| {
            w[1].at
                .duration_since(w[0].at)
                .unwrap_or_default()
                .as_secs_f64()
        })
        .collect()
}
