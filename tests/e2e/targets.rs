//! Whose settings: a subuser and a customer account through `on-behalf-of`, an EU subuser on the
//! EU host, and an EU subuser addressed on the global host (451 -> DataResidency); whose account
//! a key reaches is asked once per key and account, across restarts too; and `kubectl get
//! sgtargets` lists every managed account with its holders.

use super::env::*;
use super::kubectl::kubectl_for;
use sendgrid_tls_operator::api::{Region, TlsVersion};
use serde_json::json;

async fn subuser_account_id_eu_and_data_residency(backend: Backend) {
    let env = Env::on(backend).await;
    env.key_secret(KEY).await;
    let _op = env.operator(&[]);
    env.create(
        "marketing",
        json!({"onBehalfOf": {"subuser": "marketing-sub"}, "requireTls": true}),
    )
    .await;
    env.create(
        "customer",
        json!({"onBehalfOf": {"accountId": "1234567"}, "requireTls": true, "minimumTlsVersion": "1.3"}),
    )
    .await;
    env.create(
        "eu",
        json!({"region": "eu", "onBehalfOf": {"subuser": "eu-sub"},
               "requireTls": true, "requireValidCert": true, "minimumTlsVersion": "1.2"}),
    )
    .await;
    env.create(
        "eu-on-global",
        json!({"onBehalfOf": {"subuser": "eu-marketing-sub"}, "requireTls": true}),
    )
    .await;

    // Each account as SendGrid identifies it: its own user id, named for the region.
    let user = |on_behalf_of| env.sim.user("main", Some(on_behalf_of)).unwrap().user_id;
    let cases = [
        (
            "marketing",
            "marketing-sub",
            Region::Global,
            format!("global-{}", user("marketing-sub")),
        ),
        (
            "customer",
            "account-id 1234567",
            Region::Global,
            format!("global-{}", user("account-id 1234567")),
        ),
        ("eu", "eu-sub", Region::Eu, format!("eu-{}", user("eu-sub"))),
    ];
    for (name, header, region, target) in &cases {
        let object = env.wait_ready(name).await;
        assert_eq!(object["status"]["target"]["name"], target.as_str());
        assert!(env.record(target).is_some(), "{name}: the account's record");
        assert_eq!(
            methods(&env.identity_reads(Some(header))),
            ["GET"],
            "{name}"
        );
        let requests = env.sg_for(Some(header));
        assert_eq!(methods(&requests), ["GET", "PATCH"], "{name}");
        assert!(
            requests.iter().all(|r| r.region == *region),
            "{name}: {requests:?}"
        );
        report(
            "targets",
            format!(
                "{name}: on-behalf-of {header:?} on {region:?}: {:?}",
                methods(&requests)
            ),
        );
    }
    assert_eq!(
        env.settings(Some("account-id 1234567")),
        tls(true, false, TlsVersion::V1_3)
    );
    assert_eq!(
        env.settings(Some("eu-sub")),
        tls(true, true, TlsVersion::V1_2)
    );
    // Nothing reached the parent account.
    assert!(env.sg_for(None).is_empty());

    let residency = env
        .wait_condition("eu-on-global", "Synced", "False", "DataResidency")
        .await;
    assert!(has_condition(&residency, "Ready", "False", "Pending"));
    let text = message(&residency, "Synced");
    assert!(text.contains("data residency"), "{text}");
    // The identity read already gets the 451: nothing further is asked.
    let requests = env.sg(|r| r.on_behalf_of.as_deref() == Some("eu-marketing-sub"));
    assert!(
        !requests.is_empty()
            && requests
                .iter()
                .all(|r| r.method == "GET" && r.status == 451 && r.region == Region::Global),
        "{requests:?}"
    );
    assert_eq!(
        env.settings(Some("eu-marketing-sub")).require_tls,
        Some(false)
    );
    env.until("a DataResidency Warning Event", WAIT, |env| {
        env.event_reasons("eu-on-global")
            .contains(&"DataResidency".to_string())
    })
    .await;
    report(
        "targets",
        format!(
            "eu-on-global: Synced=False DataResidency ({text}); {} GETs (451, retried with backoff), 0 PATCH",
            requests.len()
        ),
    );
    env.assert_no_key_leaks();
}

/// Waits until the operator has resynced `count` more times (settings GETs on the parent
/// account, from request `from` of the simulator's log on).
async fn resyncs(env: &Env, from: usize, count: usize) {
    env.until(&format!("{count} resyncs"), WAIT, |env| {
        env.sim.requests()[from..]
            .iter()
            .filter(|r| r.path.ends_with(crate::support::PATH) && r.method == "GET")
            .count()
            >= count
    })
    .await;
}

async fn whose_account_is_asked_once_per_key_even_across_restarts(backend: Backend) {
    let resync = ["--default-resync-interval", "1s"];
    let env = Env::on(backend).await;
    env.key_secret(KEY).await;
    let mut first = env.operator_as("first", &resync, &[]);
    env.create("account", json!({"requireTls": true})).await;
    env.wait_ready("account").await;
    resyncs(&env, 0, 3).await;
    assert_eq!(methods(&env.identity_reads(None)), ["GET"], "once per key");

    // The status's target and the Secret's resourceVersion stand in for what the process knew.
    first.terminate().await;
    let restarted = env.sim.requests().len();
    let _second = env.operator_as("second", &resync, &[]);
    resyncs(&env, restarted, 3).await;
    assert_eq!(
        methods(&env.identity_reads(None)),
        ["GET"],
        "not again after a restart"
    );

    // A new key in the Secret (a rotation): asked once for it, then not again.
    env.key_secret(KEY2).await;
    env.until("the new key's identity read", WAIT, |env| {
        env.identity_reads(None).len() == 2
    })
    .await;
    let rotated = env.sim.requests().len();
    resyncs(&env, rotated, 3).await;
    assert_eq!(
        env.identity_reads(None).len(),
        2,
        "once for the new key, then not again"
    );
    assert!(is_ready(&env.get("account").unwrap()));
    report(
        "identity reads",
        format!(
            "{} in all over 9+ resyncs, a restart and a rotation",
            env.identity_reads(None).len()
        ),
    );
    env.assert_no_key_leaks();
}

/// The cells of a table kubectl prints, cut at the columns where the header's words start (a
/// cell may be empty).
fn cells(table: &str) -> Vec<Vec<String>> {
    let header = table.lines().next().unwrap_or_default();
    let mut starts: Vec<usize> = header
        .char_indices()
        .filter(|&(at, c)| c != ' ' && (at == 0 || header.as_bytes()[at - 1] == b' '))
        .map(|(at, _)| at)
        .collect();
    starts.push(usize::MAX);
    table
        .lines()
        .map(|line| {
            starts
                .windows(2)
                .map(|w| {
                    let end = w[1].min(line.len());
                    line.get(w[0].min(end)..end)
                        .unwrap_or_default()
                        .trim()
                        .to_string()
                })
                .collect()
        })
        .collect()
}

async fn kubectl_get_sgtargets_lists_every_managed_account_with_its_holders(backend: Backend) {
    let env = Env::on(backend).await;
    env.key_secret(KEY).await;
    let _op = env.operator(&[]);
    env.create(
        "account",
        json!({"requireTls": true, "minimumTlsVersion": "1.2"}),
    )
    .await;
    env.create("sharer", json!({"requireTls": true})).await;
    env.create(
        "marketing",
        json!({"onBehalfOf": {"subuser": "marketing-sub"}, "requireValidCert": true}),
    )
    .await;
    for name in ["account", "sharer", "marketing"] {
        env.wait_ready(name).await;
    }
    let table = kubectl_for(&env).ok(&["get", "sgtargets"]).await;
    let rows = cells(&table);
    assert_eq!(
        rows[0],
        [
            "NAME",
            "REGION",
            "USERNAME",
            "HOLDERS",
            "REQUIRE-TLS",
            "VALID-CERT",
            "MIN-TLS",
            "AGE"
        ],
        "{table}"
    );
    let row = |target: String| {
        rows.iter()
            .find(|r| r[0] == target)
            .unwrap_or_else(|| panic!("{target} listed: {table}"))[1..7]
            .to_vec()
    };
    assert_eq!(
        row(env.target_name("main", None)),
        [
            "global",
            "main",
            r#"["mail/account","mail/sharer"]"#,
            "true",
            "",
            "1.2"
        ],
        "{table}"
    );
    assert_eq!(
        row(env.target_name("main", Some("marketing-sub"))),
        [
            "global",
            "marketing-sub",
            r#"["mail/marketing"]"#,
            "",
            "true",
            ""
        ],
        "{table}"
    );
    assert_eq!(rows.len(), 3, "one row per account: {table}");
    report("kubectl get sgtargets", format!("\n{table}"));
}

on_both!(
    subuser_account_id_eu_and_data_residency,
    whose_account_is_asked_once_per_key_even_across_restarts,
    kubectl_get_sgtargets_lists_every_managed_account_with_its_holders,
);
