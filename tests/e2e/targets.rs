//! Whose settings: a subuser and a customer account through `on-behalf-of`, an EU subuser on the
//! EU host, and an EU subuser addressed on the global host (451 -> DataResidency).

use super::env::*;
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

on_both!(subuser_account_id_eu_and_data_residency);
