//! A Conflict loser goes ahead as soon as the holder's spec agrees with it, even while the
//! holder cannot act on its edit (its Secret is gone): the holders' specs are what is agreed,
//! and the loser is woken by the holder's edit, not only by a change of the account's record.

use super::env::*;
use serde_json::json;

async fn a_loser_goes_ahead_once_the_holder_agrees_even_before_it_can_act(backend: Backend) {
    let env = Env::on(backend).await;
    env.key_secret(KEY).await;
    env.secret("holder-key", &[("apiKey", KEY)]).await;
    let _op = env.operator(&[]);
    env.create(
        "holder",
        json!({"apiKeySecretRef": {"name": "holder-key"}, "requireValidCert": false}),
    )
    .await;
    env.wait_ready("holder").await;
    env.create("loser", json!({"requireValidCert": true})).await;
    env.wait_condition("loser", "Ready", "False", "Conflict")
        .await;
    // The holder changes its mind while it cannot read its key.
    env.delete_secret("holder-key").await;
    env.edit("holder", json!({"requireValidCert": true})).await;
    env.wait_condition("holder", "Synced", "False", "SecretNotFound")
        .await;
    let joined = env.wait_ready("loser").await;
    assert_eq!(env.settings(None).require_valid_cert, Some(true));
    let record = env
        .record(joined["status"]["target"]["name"].as_str().unwrap())
        .expect("the account's record");
    let holders = &record["spec"]["fields"]["requireValidCert"]["holders"];
    assert_eq!(
        holders,
        &json!([format!("{NS}/holder"), format!("{NS}/loser")]),
        "both hold it"
    );
    report(
        "a holder agrees before it can act",
        format!("the loser joined and wrote; holders {holders}"),
    );
    env.assert_no_key_leaks();
}

on_both!(a_loser_goes_ahead_once_the_holder_agrees_even_before_it_can_act);
