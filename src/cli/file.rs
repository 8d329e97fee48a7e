//! `plan` and `apply`: one reconcile of each resource given with `-f`, straight against
//! SendGrid, through the same decision code the controller runs. Every resource is reported,
//! whatever happens to the others.

use super::Global;
use super::embedded;
use super::inputs::{self, Input};
use super::keys::{self, Keys};
use super::report::{Change, Entry, Event, OutputFormat, Problem, Report, Verdict};
use super::sync;
use crate::api::{DeletionPolicy, READY, Reason, TlsSettings, spec::DEFAULT_RESYNC};
use crate::controller::gather::account_for;
use crate::decision::conditions;
use crate::decision::decide::{Decision, EventKind, Facts, Outcome, PatchPlan};
use crate::decision::scopes::{self, Check};
use crate::sendgrid::{ClientConfig, SendGridClient};
use clap::Args;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct FileArgs {
    /// A YAML or JSON file of SendGridEnforcedTls resources (several documents, or a kubectl
    /// List), a directory (its *.yaml, *.yml and *.json files, not recursive) or - for stdin.
    /// Repeatable. Other kinds are skipped.
    #[arg(short = 'f', long = "filename", value_name = "PATH", required = true)]
    pub files: Vec<PathBuf>,
    /// A file holding the API key, for every resource that no --secret names.
    #[arg(long, value_name = "PATH", conflicts_with = "simulate")]
    pub api_key_file: Option<PathBuf>,
    /// The key of the Secret a resource names in spec.apiKeySecretRef: NAME=PATH or
    /// NAMESPACE/NAME=PATH, PATH a file holding the key. Repeatable; wins over --api-key-file
    /// and SENDGRID_API_KEY.
    #[arg(long = "secret", value_name = "NAME=PATH", value_parser = keys::parse_secret, conflicts_with = "simulate")]
    pub secrets: Vec<(String, PathBuf)>,
    /// Report format.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// Run against an embedded SendGrid simulator instead of SendGrid (a demo with no account:
    /// nothing leaves this machine).
    #[arg(long)]
    pub simulate: bool,
    /// Where the embedded simulator listens (with --simulate).
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:0",
        requires = "simulate"
    )]
    pub simulate_listen: SocketAddr,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub file: FileArgs,
    /// Exit 0 when nothing would change, 2 when something would change or has drifted in Observe
    /// mode, 1 on any error (terraform plan's -detailed-exitcode).
    #[arg(long)]
    pub detailed_exitcode: bool,
}

/// Exit code of `plan --detailed-exitcode` when SendGrid would change or has drifted.
const CHANGES_PENDING: u8 = 2;

/// Runs `plan` (`apply == false`) or `apply` on every SendGridEnforcedTls given.
pub async fn run(
    global: &Global,
    args: &FileArgs,
    apply: bool,
    detailed_exitcode: bool,
) -> Result<ExitCode, String> {
    let inputs = inputs::load(&args.files)?;
    let config = global.client_config();
    let entries = if args.simulate {
        embedded::with_simulator(args.simulate_listen, config, async |keys, config| {
            reconcile_each(inputs, keys, config, apply).await
        })
        .await?
    } else {
        let keys = Keys::new(&args.secrets, args.api_key_file.clone());
        reconcile_each(inputs, keys, config, apply).await?
    };
    let report = Report::new(if apply { "apply" } else { "plan" }, entries);
    report.print(args.output)?;
    let s = &report.summary;
    Ok(ExitCode::from(if s.failed > 0 {
        1
    } else if detailed_exitcode && s.changes + s.drifted > 0 {
        CHANGES_PENDING
    } else {
        0
    }))
}

/// Plans or applies each input in turn, with the keys and SendGrid `config` given.
async fn reconcile_each(
    inputs: Vec<Input>,
    mut keys: Keys,
    config: ClientConfig,
    apply: bool,
) -> Result<Vec<Entry>, String> {
    let client = SendGridClient::new(config).map_err(|e| e.to_string())?;
    let mut entries = Vec::with_capacity(inputs.len());
    for input in inputs {
        entries.push(one(&client, &mut keys, input, apply).await);
    }
    Ok(entries)
}

fn failed(input: &Input, reason: Reason, message: String) -> Entry {
    Entry {
        source: input.source.clone(),
        resource: input.name.clone(),
        result: Verdict::Failed,
        message: message.clone(),
        changes: Vec::new(),
        events: Vec::new(),
        status: None,
        error: Some(Problem {
            reason: reason.to_string(),
            message,
        }),
    }
}

/// One resource: `plan` says what would change; `apply` changes it and keeps the status.
async fn one(client: &SendGridClient, keys: &mut Keys, input: Input, apply: bool) -> Entry {
    let res = match &input.resource {
        Ok(res) => res,
        Err(e) => return failed(&input, Reason::InvalidObject, e.clone()),
    };
    let key = match keys.for_resource(res) {
        Ok(key) => key,
        Err(e) => return failed(&input, e.reason, e.message),
    };
    let account = match account_for(res, key) {
        Ok(account) => account,
        Err(f) => return failed(&input, f.reason(), f.to_string()),
    };
    // As the controller does before a key's first use: a missing scope is named at once.
    // `plan` only reads; `apply` writes when it enforces (it never puts anything back).
    let writes = apply && scopes::writes(res.spec.mode(), DeletionPolicy::Orphan);
    if let Check::Refused(f) = scopes::check(&client.scopes(&account).await, writes) {
        return failed(&input, f.reason(), f.to_string());
    }
    let identity = match client.identity(&account).await {
        Ok(identity) => identity,
        Err(e) => return failed(&input, e.reason(), e.to_string()),
    };
    let status = res.status.clone().unwrap_or_default();
    let mut facts = Facts::of(res, &status, DEFAULT_RESYNC);
    facts.target = Some(account.target(&identity, None));
    let outcome = if apply {
        sync::apply(client, &account, &facts).await
    } else {
        match sync::plan(client, &account, &facts).await {
            Decision::Patch(plan) => {
                let message = "SendGrid differs from the spec".to_string();
                let mut entry = concluded(&input, Verdict::Changes, message, None);
                entry.changes = changed(&plan);
                return entry;
            }
            Decision::Done(outcome) => *outcome,
        }
    };
    if let Some(f) = &outcome.failure {
        return failed(&input, f.reason(), f.to_string());
    }
    let ready = conditions::find(&outcome.status.conditions, READY);
    let verdict = match ready {
        _ if apply && outcome.status.last_applied_time != status.last_applied_time => {
            Verdict::Applied
        }
        Some(c) if c.reason == Reason::Drifted => Verdict::Drifted,
        _ => Verdict::InSync,
    };
    let message = ready.map(|c| c.message.clone()).unwrap_or_default();
    concluded(&input, verdict, message, apply.then_some(&outcome))
}

/// The entry of a resource that reached SendGrid; `apply` passes its outcome (status, Events).
fn concluded(input: &Input, result: Verdict, message: String, applied: Option<&Outcome>) -> Entry {
    Entry {
        source: input.source.clone(),
        resource: input.name.clone(),
        result,
        message,
        changes: Vec::new(),
        events: applied.map(events).unwrap_or_default(),
        status: applied.map(|o| o.status.clone()),
        error: None,
    }
}

fn events(outcome: &Outcome) -> Vec<Event> {
    outcome
        .events
        .iter()
        .map(|n| Event {
            type_: match n.kind {
                EventKind::Normal => "Normal",
                EventKind::Warning => "Warning",
            },
            reason: n.reason.as_str(),
            message: n.message.clone(),
        })
        .collect()
}

/// The fields a PATCH would set, with SendGrid's current values.
fn changed(plan: &PatchPlan) -> Vec<Change> {
    fn change<T: serde::Serialize>(
        field: &'static str,
        before: Option<T>,
        after: Option<T>,
    ) -> Option<Change> {
        let json = |v: Option<T>| v.map_or(Value::Null, |v| serde_json::json!(v));
        after.is_some().then(|| Change {
            field,
            from: json(before),
            to: json(after),
        })
    }
    let (
        TlsSettings {
            require_tls,
            require_valid_cert,
            minimum_tls_version,
        },
        before,
    ) = (plan.changes, plan.before);
    [
        change("requireTls", before.require_tls, require_tls),
        change(
            "requireValidCert",
            before.require_valid_cert,
            require_valid_cert,
        ),
        change(
            "minimumTlsVersion",
            before.minimum_tls_version,
            minimum_tls_version,
        ),
    ]
    .into_iter()
    .flatten()
    .collect()
}
