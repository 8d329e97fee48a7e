//! One pass against SendGrid for the `plan` and `apply` commands: pause, GET, decide, PATCH if
//! needed, conclude. The same decisions as the controller's reconcile; without a cluster there is
//! no status to write ahead, so the original is only printed.

use crate::decision::Failure;
use crate::decision::decide::{self, Decision, Facts, Outcome};
use crate::sendgrid::{Account, SendGridClient};

/// GETs the settings and decides; changes nothing (what `plan` shows).
pub async fn plan(client: &SendGridClient, account: &Account, facts: &Facts<'_>) -> Decision {
    if facts.paused {
        return Decision::Done(Box::new(decide::paused(facts)));
    }
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
