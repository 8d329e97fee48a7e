//! At start, the operator asks the API server (SelfSubjectAccessReview, which every
//! authenticated identity may do) whether it holds each permission its work needs, and names
//! every missing one in its log: a trimmed ClusterRole is reported, never a silent stall. A
//! resource affected later says so in its status too (`SecretForbidden`).

use super::run::RunOptions;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::api::PostParams;
use kube::{Api, Client};

/// (API group, resource, verb) the controller uses; `watch_secrets` adds list/watch on Secrets.
fn needed(watch_secrets: bool) -> Vec<(&'static str, &'static str, &'static str)> {
    let mut needed = vec![
        ("sendgrid.ops.dev", "sendgridenforcedtlses", "list"),
        ("sendgrid.ops.dev", "sendgridenforcedtlses", "watch"),
        ("sendgrid.ops.dev", "sendgridenforcedtlses", "get"),
        ("sendgrid.ops.dev", "sendgridenforcedtlses", "patch"),
        ("sendgrid.ops.dev", "sendgridenforcedtlses/status", "patch"),
        ("", "secrets", "get"),
        // The accounts' claim records (cluster-scoped).
        ("sendgrid.ops.dev", "sendgridtargets", "get"),
        ("sendgrid.ops.dev", "sendgridtargets", "list"),
        ("sendgrid.ops.dev", "sendgridtargets", "watch"),
        ("sendgrid.ops.dev", "sendgridtargets", "create"),
        ("sendgrid.ops.dev", "sendgridtargets", "patch"),
        ("sendgrid.ops.dev", "sendgridtargets", "delete"),
        ("events.k8s.io", "events", "create"),
        ("events.k8s.io", "events", "patch"),
    ];
    if watch_secrets {
        needed.extend([("", "secrets", "list"), ("", "secrets", "watch")]);
    }
    needed
}

/// Logs an error naming each permission the operator lacks, in each namespace it watches (all
/// namespaces when none is given). Returns how many are missing. A server that cannot answer
/// (no authorization API) is logged at debug level and counts as nothing missing.
pub async fn report_missing(client: &Client, options: &RunOptions) -> usize {
    let reviews: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let namespaces: Vec<Option<&str>> = if options.namespaces.is_empty() {
        vec![None]
    } else {
        options
            .namespaces
            .iter()
            .map(|n| Some(n.as_str()))
            .collect()
    };
    let mut missing = 0;
    for namespace in namespaces {
        for (group, resource, verb) in needed(options.watch_secrets) {
            let (resource, subresource) = match resource.split_once('/') {
                Some((r, s)) => (r, Some(s.to_string())),
                None => (resource, None),
            };
            let review = SelfSubjectAccessReview {
                spec: SelfSubjectAccessReviewSpec {
                    resource_attributes: Some(ResourceAttributes {
                        group: Some(group.to_string()),
                        resource: Some(resource.to_string()),
                        subresource: subresource.clone(),
                        verb: Some(verb.to_string()),
                        namespace: namespace.map(str::to_string),
                        ..ResourceAttributes::default()
                    }),
                    ..SelfSubjectAccessReviewSpec::default()
                },
                ..SelfSubjectAccessReview::default()
            };
            match reviews.create(&PostParams::default(), &review).await {
                Ok(answer) if answer.status.as_ref().is_some_and(|s| !s.allowed) => {
                    missing += 1;
                    let resource = match &subresource {
                        Some(sub) => format!("{resource}/{sub}"),
                        None => resource.to_string(),
                    };
                    tracing::error!(
                        verb,
                        resource = %resource,
                        group,
                        namespace = namespace.unwrap_or("(all)"),
                        fix = "grant it in the operator's ClusterRole (or Role), as the chart does",
                        "missing permission"
                    );
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::debug!(%error, "cannot check permissions (SelfSubjectAccessReview)");
                    return 0;
                }
            }
        }
    }
    missing
}
