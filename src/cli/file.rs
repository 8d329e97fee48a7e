//! `plan -f` and `apply -f`: one reconcile of a resource file straight against SendGrid, through
//! the same decision code the controller runs.

use super::{FileArgs, Global};
use crate::api::spec::DEFAULT_RESYNC;
use crate::api::validation::validate_resource;
use crate::api::{SendGridEnforcedTls, TlsSettings};
use crate::controller::gather::account_for;
use crate::reconcile::decide::{Decision, Facts, PatchPlan};
use crate::reconcile::sync;
use crate::sendgrid::{ApiKey, SendGridClient};
use crate::simulator::{SimConfig, Simulator, SimulatorHandle};
use kube::ResourceExt;
use serde::Deserialize;
use std::process::ExitCode;

/// Exit code of `plan` when SendGrid would change.
pub const CHANGES_PENDING: u8 = 2;

/// The key the embedded simulator accepts when no key is given.
const DEMO_KEY: &str = "SG.simulated-demo-key.key";

/// Runs `plan` (`apply == false`) or `apply` on every SendGridEnforcedTls in the file.
pub async fn run(global: &Global, args: &FileArgs, apply: bool) -> Result<ExitCode, String> {
    let resources = load(args)?;
    let (key, simulator) = if args.simulate {
        simulated(args).await?
    } else {
        (key(args)?, None)
    };
    let mut config = global.client_config();
    if let Some(sim) = &simulator {
        config.endpoints.global = sim.global_url();
        config.endpoints.eu = sim.eu_url();
        eprintln!(
            "using an embedded SendGrid simulator at {} (nothing leaves this machine)",
            sim.global_url()
        );
    }
    let client = SendGridClient::new(config).map_err(|e| e.to_string())?;
    let mut code = 0u8;
    for res in &resources {
        let result = one(&client, res, &key, apply).await;
        code = code.max(result?);
    }
    if let Some(sim) = simulator {
        for r in sim.requests() {
            let body = r.body.map(|b| format!(" {b}")).unwrap_or_default();
            eprintln!(
                "simulator saw: {} {} -> {}{body}",
                r.method, r.path, r.status
            );
        }
        sim.shutdown().await;
    }
    Ok(ExitCode::from(code))
}

/// Parses and validates every SendGridEnforcedTls document of the file.
fn load(args: &FileArgs) -> Result<Vec<SendGridEnforcedTls>, String> {
    let path = args.file.display();
    let text = std::fs::read_to_string(&args.file).map_err(|e| format!("{path}: {e}"))?;
    let mut resources = Vec::new();
    for (i, doc) in serde_yaml::Deserializer::from_str(&text).enumerate() {
        let value =
            serde_json::Value::deserialize(doc).map_err(|e| format!("{path}: not YAML: {e}"))?;
        let kind = value.get("kind").and_then(|k| k.as_str());
        if value.is_null() || kind != Some("SendGridEnforcedTls") {
            continue;
        }
        let res = validate_resource(&value).map_err(|violations| {
            let all: Vec<String> = violations.iter().map(ToString::to_string).collect();
            format!("{path}: document {}: {}", i + 1, all.join("; "))
        })?;
        resources.push(res);
    }
    if resources.is_empty() {
        return Err(format!("{path}: holds no SendGridEnforcedTls resource"));
    }
    Ok(resources)
}

fn key(args: &FileArgs) -> Result<ApiKey, String> {
    let raw = match &args.api_key_file {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| format!("--api-key-file {}: {e}", path.display()))?,
        None => std::env::var("SENDGRID_API_KEY").map_err(|_| {
            "no API key: give --api-key-file PATH or set SENDGRID_API_KEY".to_string()
        })?,
    };
    ApiKey::new(&raw).map_err(|e| format!("API key: {e}"))
}

/// An embedded simulator that accepts the given key (or a demo key).
async fn simulated(args: &FileArgs) -> Result<(ApiKey, Option<SimulatorHandle>), String> {
    let raw = std::env::var("SENDGRID_API_KEY").unwrap_or_else(|_| DEMO_KEY.to_string());
    let key = ApiKey::new(&raw).map_err(|e| format!("API key: {e}"))?;
    let sim = Simulator::start(args.simulate_listen, SimConfig::with_keys(&[raw.trim()]))
        .await
        .map_err(|e| format!("simulator on {}: {e}", args.simulate_listen))?;
    Ok((key, Some(sim)))
}

fn name(res: &SendGridEnforcedTls) -> String {
    match res.namespace() {
        Some(ns) => format!("{ns}/{}", res.name_any()),
        None => res.name_any(),
    }
}

/// One resource: `plan` prints what would change; `apply` changes it and prints the status.
async fn one(
    client: &SendGridClient,
    res: &SendGridEnforcedTls,
    key: &ApiKey,
    apply: bool,
) -> Result<u8, String> {
    let account = account_for(res, key.clone()).map_err(|f| format!("{}: {f}", f.reason()))?;
    let status = res.status.clone().unwrap_or_default();
    let mut facts = Facts::of(res, &status, DEFAULT_RESYNC);
    facts.target = Some(account.target());
    let outcome = if apply {
        sync::apply(client, &account, &facts).await
    } else {
        match sync::plan(client, &account, &facts).await {
            Decision::Patch(plan) => {
                println!("{}: would set {}", name(res), changes(&plan));
                return Ok(CHANGES_PENDING);
            }
            Decision::Done(outcome) => *outcome,
        }
    };
    if let Some(f) = outcome.failure {
        return Err(format!("{}: {}: {f}", name(res), f.reason()));
    }
    if !apply {
        let ready = crate::reconcile::conditions::find(&outcome.status.conditions, "Ready");
        let message = ready.map(|c| c.message.as_str()).unwrap_or_default();
        let verdict = match ready {
            Some(c) if c.reason == "Drifted" => "drifted; mode Observe, so nothing would change",
            _ => "no change",
        };
        println!("{}: {verdict} ({message})", name(res));
        return Ok(0);
    }
    for note in &outcome.notes {
        eprintln!("{}: {}: {}", name(res), note.reason, note.message);
    }
    let yaml = serde_yaml::to_string(&serde_json::json!({ "status": outcome.status }))
        .map_err(|e| format!("status: {e}"))?;
    println!("# {}\n{yaml}", name(res));
    Ok(0)
}

/// "requireTls: false -> true, minimumTlsVersion: 1.1 -> 1.2"
fn changes(plan: &PatchPlan) -> String {
    fn arrow<T: std::fmt::Display>(
        field: &str,
        before: Option<T>,
        after: Option<T>,
    ) -> Option<String> {
        let after = after?;
        let before = before.map_or_else(|| "unset".to_string(), |b| b.to_string());
        Some(format!("{field}: {before} -> {after}"))
    }
    let TlsSettings {
        require_tls,
        require_valid_cert,
        minimum_tls_version,
    } = plan.changes;
    let parts: Vec<String> = [
        arrow("requireTls", plan.before.require_tls, require_tls),
        arrow(
            "requireValidCert",
            plan.before.require_valid_cert,
            require_valid_cert,
        ),
        arrow(
            "minimumTlsVersion",
            plan.before.minimum_tls_version,
            minimum_tls_version,
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    parts.join(", ")
}
