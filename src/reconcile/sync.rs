//! One pass against SendGrid: GET, decide, PATCH if needed, conclude. Shared by the controller
//! and the `plan` / `apply` commands so both judge a resource with the same code.

use super::cleanup::cleanup_changes;
use super::decide::{self, Decision, Facts, Outcome};
use super::failure::Failure;
use crate::api::TlsSettings;
use crate::sendgrid::{Account, SendGridClient};

/// GETs the settings and decides; changes nothing (what `plan` shows).
pub async fn plan(client: &SendGridClient, account: &Account, facts: &Facts<'_>) -> Decision {
    decide::decide(facts, client.get(account).await.map_err(Failure::from))
}

/// GETs the settings, decides, and PATCHes the difference.
pub async fn apply(client: &SendGridClient, account: &Account, facts: &Facts<'_>) -> Outcome {
    match plan(client, account, facts).await {
        Decision::Done(outcome) => *outcome,
        Decision::Patch(plan) => {
            let result = client
                .patch(account, &plan.changes)
                .await
                .map_err(Failure::from);
            decide::after_patch(facts, &plan, result)
        }
    }
}

/// Puts SendGrid back as the deletion policy says; returns what it changed.
pub async fn cleanup(
    client: &SendGridClient,
    account: &Account,
    facts: &Facts<'_>,
) -> Result<Option<TlsSettings>, Failure> {
    let seen = client.get(account).await?;
    match cleanup_changes(facts, &seen) {
        None => Ok(None),
        Some(changes) => {
            client.patch(account, &changes).await?;
            Ok(Some(changes))
        }
    }
}
