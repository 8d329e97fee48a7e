//! The chart's `watchNamespaces`: the operator (with a Role in each listed namespace and nothing
//! cluster-wide on the control plane) reconciles the resources there and never touches one in
//! another namespace.

use super::env::*;
use serde_json::json;

async fn watch_namespaces_leave_other_namespaces_alone(backend: Backend) {
    let env = Env::setup(backend, Chart::Namespaced, sim_config()).await;
    env.namespace("elsewhere").await;
    for ns in ["mail", "marketing", "elsewhere"] {
        env.secret_in(ns, SECRET, &[("apiKey", KEY)]).await;
    }
    let op = env.operator(&[]);
    env.create_in("mail", "account", json!({"requireTls": true}))
        .await;
    env.create_in(
        "marketing",
        "marketing",
        json!({"onBehalfOf": {"subuser": "marketing-sub"}, "requireTls": true}),
    )
    .await;
    env.create_in(
        "elsewhere",
        "billing",
        json!({"onBehalfOf": {"subuser": "billing-sub"}, "requireTls": true}),
    )
    .await;
    for (ns, name) in [("mail", "account"), ("marketing", "marketing")] {
        env.until(&format!("{ns}/{name} Ready"), WAIT, |env| {
            env.get_in(ns, name).is_some_and(|o| is_ready(&o))
        })
        .await;
    }
    // Both watched resources are done; the third was never listed by this operator.
    let elsewhere = env.get_in("elsewhere", "billing").unwrap();
    assert!(elsewhere["status"].is_null(), "{elsewhere}");
    assert!(env.sg_for(Some("billing-sub")).is_empty());
    let cluster_wide = env
        .server
        .count(|r| r.is_for("sendgridenforcedtlses") && r.namespace.is_none());
    assert_eq!(cluster_wide, 0, "no cluster-wide list or watch");
    report(
        "watchNamespaces",
        format!(
            "mail and marketing Ready, elsewhere untouched (no status, 0 SendGrid requests); {} log lines",
            op.logs().lines().len()
        ),
    );
    env.assert_no_key_leaks();
}

on_both!(watch_namespaces_leave_other_namespaces_alone);
