//! What the soak does next: the model of what it has made so far (namespaces, their Secrets,
//! resources with the spec it wrote) and a seeded choice of the next step from it. Pure: the
//! model changes only by the steps themselves, never by what the cluster happened to do, so a
//! seed gives the same steps on every run.

use super::rng::Rng;
use serde_json::{Value, json};
use std::fmt;

/// The namespaces the soak works in.
pub const NAMESPACES: [&str; 3] = ["soak-a", "soak-b", "soak-c"];
/// The Secret every resource names.
pub const SECRET: &str = "sendgrid-api-key";
/// The accounts resources aim at: (subuser, region); no subuser is the parent account.
pub const TARGETS: [(Option<&str>, &str); 4] = [
    (None, "global"),
    (Some("marketing-sub"), "global"),
    (Some("billing-sub"), "global"),
    (Some("eu-sub"), "eu"),
];
/// The managed fields: (spec name, the values a spec may give it).
pub const FIELDS: [(&str, &[&str]); 3] = [
    ("requireTls", &["true", "false"]),
    ("requireValidCert", &["true", "false"]),
    ("minimumTlsVersion", &["1.1", "1.2", "1.3"]),
];
const MAX_RESOURCES: usize = 8;

#[derive(Clone, Debug)]
pub struct Namespace {
    pub name: &'static str,
    pub live: bool,
    /// Which of the soak's keys its Secret holds; None: no Secret.
    pub key: Option<usize>,
}

#[derive(Clone, Debug)]
pub struct Resource {
    pub ns: String,
    pub name: String,
    pub spec: Value,
    pub paused: bool,
}

#[derive(Clone, Debug)]
pub struct Model {
    pub namespaces: Vec<Namespace>,
    pub resources: Vec<Resource>,
    created: usize,
}

/// A SendGrid fault injected at the start of a step (latency lasts the step).
#[derive(Clone, Debug)]
pub enum SendGridFault {
    Latency { ms: u64 },
    ServerErrors { count: u32, status: u16 },
    DropConnections { count: u32 },
    RateLimitBurst { count: u32 },
}

#[derive(Clone, Debug)]
pub enum Action {
    Create {
        ns: String,
        name: String,
        spec: Value,
    },
    /// A merge patch of the spec.
    Edit {
        ns: String,
        name: String,
        patch: Value,
    },
    Pause {
        ns: String,
        name: String,
        paused: bool,
    },
    Delete {
        ns: String,
        name: String,
    },
    /// Creates the Secret, or rotates it to another key of the same account.
    PutKey {
        ns: String,
        key: usize,
    },
    DeleteSecret {
        ns: String,
    },
    DeleteNamespace {
        ns: String,
    },
    CreateNamespace {
        ns: String,
    },
    KillLeader,
    /// SIGSTOP of the leader until the standby leads, `during` done meanwhile, then SIGCONT.
    StopLeader {
        during: Option<Box<Action>>,
    },
    RestartStandby,
}

#[derive(Clone, Debug)]
pub struct Step {
    pub fault: Option<SendGridFault>,
    pub action: Action,
}

impl Model {
    /// All namespaces, the first two with a Secret of key 0, the third without (a Secret that
    /// comes late).
    pub fn new() -> Model {
        Model {
            namespaces: NAMESPACES
                .iter()
                .enumerate()
                .map(|(i, name)| Namespace {
                    name,
                    live: true,
                    key: (i < 2).then_some(0),
                })
                .collect(),
            resources: Vec::new(),
            created: 0,
        }
    }

    /// The next step, chosen by `rng` from what exists.
    pub fn next(&self, rng: &mut Rng) -> Step {
        let fault = rng.chance(30).then(|| match rng.below(4) {
            0 => SendGridFault::Latency {
                ms: rng.between(100, 800),
            },
            1 => SendGridFault::ServerErrors {
                count: rng.between(1, 4) as u32,
                status: *rng.pick(&[500, 502, 503]),
            },
            2 => SendGridFault::DropConnections {
                count: rng.between(1, 3) as u32,
            },
            _ => SendGridFault::RateLimitBurst {
                count: rng.between(1, 3) as u32,
            },
        });
        let action = loop {
            if let Some(action) = self.action(rng) {
                break action;
            }
        };
        Step { fault, action }
    }

    /// One action of a kind chosen by weight; None when the kind has nothing to act on.
    fn action(&self, rng: &mut Rng) -> Option<Action> {
        let live: Vec<&Namespace> = self.namespaces.iter().filter(|n| n.live).collect();
        let few = self.resources.len() < 3;
        let weights = [
            if few { 40 } else { 14 }, // create
            24,                        // edit
            7,                         // pause / unpause
            9,                         // delete
            7,                         // put a key (create or rotate)
            4,                         // delete a Secret
            2,                         // delete a namespace
            6,                         // create a namespace
            4,                         // kill the leader
            3,                         // stop the leader past its lease
            2,                         // restart the standby
        ];
        let resource = (!self.resources.is_empty())
            .then(|| self.resources[rng.below(self.resources.len())].clone());
        Some(match rng.weighted(&weights) {
            0 => {
                if self.resources.len() >= MAX_RESOURCES || live.is_empty() {
                    return None;
                }
                // Mostly where a Secret is, so that most resources reach SendGrid.
                let keyed: Vec<&Namespace> =
                    live.iter().copied().filter(|n| n.key.is_some()).collect();
                let from = if keyed.is_empty() || rng.chance(20) {
                    &live
                } else {
                    &keyed
                };
                let ns = rng.pick(from).name.to_string();
                Action::Create {
                    ns,
                    name: format!("r{}", self.created),
                    spec: random_spec(rng),
                }
            }
            1 => {
                let r = resource?;
                Action::Edit {
                    patch: random_edit(rng, &r.spec),
                    ns: r.ns,
                    name: r.name,
                }
            }
            2 => {
                let r = resource?;
                Action::Pause {
                    paused: !r.paused,
                    ns: r.ns,
                    name: r.name,
                }
            }
            3 => {
                let r = resource?;
                Action::Delete {
                    ns: r.ns,
                    name: r.name,
                }
            }
            4 => {
                let ns = *rng.pick(&live);
                Action::PutKey {
                    ns: ns.name.to_string(),
                    key: ns.key.map_or(rng.below(2), |k| 1 - k),
                }
            }
            5 => {
                let with: Vec<&&Namespace> = live.iter().filter(|n| n.key.is_some()).collect();
                if with.is_empty() {
                    return None;
                }
                Action::DeleteSecret {
                    ns: rng.pick(&with).name.to_string(),
                }
            }
            6 => {
                if live.len() < 2 {
                    return None;
                }
                Action::DeleteNamespace {
                    ns: rng.pick(&live).name.to_string(),
                }
            }
            7 => {
                let gone: Vec<&Namespace> = self.namespaces.iter().filter(|n| !n.live).collect();
                if gone.is_empty() {
                    return None;
                }
                Action::CreateNamespace {
                    ns: rng.pick(&gone).name.to_string(),
                }
            }
            8 => Action::KillLeader,
            9 => Action::StopLeader {
                during: resource.map(|r| {
                    Box::new(Action::Edit {
                        patch: random_edit(rng, &r.spec),
                        ns: r.ns,
                        name: r.name,
                    })
                }),
            },
            _ => Action::RestartStandby,
        })
    }

    /// The model after `action` was done.
    pub fn apply(&mut self, action: &Action) {
        match action {
            Action::Create { ns, name, spec } => {
                self.created += 1;
                self.resources.push(Resource {
                    ns: ns.clone(),
                    name: name.clone(),
                    spec: spec.clone(),
                    paused: false,
                });
            }
            Action::Edit { ns, name, patch } => {
                if let Some(r) = self.resource_mut(ns, name) {
                    merge(&mut r.spec, patch);
                }
            }
            Action::Pause { ns, name, paused } => {
                if let Some(r) = self.resource_mut(ns, name) {
                    r.paused = *paused;
                }
            }
            Action::Delete { ns, name } => {
                self.resources.retain(|r| !(r.ns == *ns && r.name == *name));
            }
            Action::PutKey { ns, key } => self.namespace_mut(ns).key = Some(*key),
            Action::DeleteSecret { ns } => self.namespace_mut(ns).key = None,
            Action::DeleteNamespace { ns } => {
                self.resources.retain(|r| r.ns != *ns);
                let n = self.namespace_mut(ns);
                n.live = false;
                n.key = None;
            }
            Action::CreateNamespace { ns } => self.namespace_mut(ns).live = true,
            Action::StopLeader {
                during: Some(action),
            } => self.apply(action),
            Action::KillLeader | Action::StopLeader { during: None } | Action::RestartStandby => {}
        }
    }

    fn resource_mut(&mut self, ns: &str, name: &str) -> Option<&mut Resource> {
        self.resources
            .iter_mut()
            .find(|r| r.ns == ns && r.name == name)
    }

    fn namespace_mut(&mut self, ns: &str) -> &mut Namespace {
        self.namespaces
            .iter_mut()
            .find(|n| n.name == ns)
            .expect("one of NAMESPACES")
    }
}

/// A field's value as the spec writes it (booleans as JSON booleans, versions as strings).
fn spec_value(field: &str, value: &str) -> Value {
    if field == "minimumTlsVersion" {
        json!(value)
    } else {
        json!(value == "true")
    }
}

fn target_patch(rng: &mut Rng) -> Value {
    let (subuser, region) = *rng.pick(&TARGETS);
    json!({
        "onBehalfOf": subuser.map(|s| json!({"subuser": s})),
        "region": (region == "eu").then_some(region),
    })
}

fn random_spec(rng: &mut Rng) -> Value {
    let mut spec = json!({"apiKeySecretRef": {"name": SECRET}});
    merge(&mut spec, &target_patch(rng));
    for (field, values) in FIELDS {
        if rng.chance(60) {
            spec[field] = spec_value(field, rng.pick::<&str>(values));
        }
    }
    let observe = rng.chance(15);
    if observe {
        spec["mode"] = json!("Observe");
    }
    // The CRD refuses Restore and Reset with Observe (nothing to undo).
    let policies: &[Option<&str>] = if observe {
        &[None, Some("Orphan")]
    } else {
        &[None, Some("Orphan"), Some("Restore"), Some("Reset")]
    };
    if let Some(policy) = rng.pick(policies) {
        spec["deletionPolicy"] = json!(policy);
    }
    spec
}

/// Whether `spec` puts SendGrid back on deletion.
fn restores(spec: &Value) -> bool {
    spec["deletionPolicy"] == "Restore" || spec["deletionPolicy"] == "Reset"
}

/// A merge patch changing one thing: a field's value, a field unset, the target (a retarget),
/// the deletion policy or the mode.
fn random_edit(rng: &mut Rng, spec: &Value) -> Value {
    match rng.below(6) {
        0 | 1 => {
            let (field, values) = *rng.pick(&FIELDS);
            one(field, spec_value(field, rng.pick::<&str>(values)))
        }
        2 => {
            let (field, _) = *rng.pick(&FIELDS);
            one(field, Value::Null)
        }
        3 => target_patch(rng),
        // A policy that restores, or Observe, takes the other setting along (the CRD's rule).
        4 => {
            let policy = *rng.pick(&["Orphan", "Restore", "Reset"]);
            if policy == "Orphan" {
                json!({ "deletionPolicy": policy })
            } else {
                json!({"deletionPolicy": policy, "mode": "Enforce"})
            }
        }
        _ if spec["mode"] == "Observe" => json!({"mode": "Enforce"}),
        _ if restores(spec) => json!({"mode": "Observe", "deletionPolicy": "Orphan"}),
        _ => json!({"mode": "Observe"}),
    }
}

fn one(field: &str, value: Value) -> Value {
    Value::Object([(field.to_string(), value)].into_iter().collect())
}

/// JSON merge patch (RFC 7386), as the API server applies it to the spec.
pub fn merge(target: &mut Value, patch: &Value) {
    let Some(fields) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    for (key, value) in fields {
        if value.is_null() {
            target.as_object_mut().unwrap().remove(key);
        } else {
            merge(&mut target[key], value);
        }
    }
}

impl fmt::Display for SendGridFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendGridFault::Latency { ms } => write!(f, "latency {ms}ms"),
            SendGridFault::ServerErrors { count, status } => write!(f, "{count} x {status}"),
            SendGridFault::DropConnections { count } => write!(f, "{count} dropped connections"),
            SendGridFault::RateLimitBurst { count } => write!(f, "{count} x 429"),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Create { ns, name, spec } => write!(f, "create {ns}/{name} {spec}"),
            Action::Edit { ns, name, patch } => write!(f, "edit {ns}/{name} {patch}"),
            Action::Pause { ns, name, paused } => write!(
                f,
                "{} {ns}/{name}",
                if *paused { "pause" } else { "unpause" }
            ),
            Action::Delete { ns, name } => write!(f, "delete {ns}/{name}"),
            Action::PutKey { ns, key } => write!(f, "Secret {ns}/{SECRET} := key #{key}"),
            Action::DeleteSecret { ns } => write!(f, "delete Secret {ns}/{SECRET}"),
            Action::DeleteNamespace { ns } => write!(f, "delete namespace {ns}"),
            Action::CreateNamespace { ns } => write!(f, "create namespace {ns}"),
            Action::KillLeader => write!(f, "SIGKILL the leader (a replacement starts)"),
            Action::StopLeader { during: None } => {
                write!(f, "SIGSTOP the leader past its lease, SIGCONT")
            }
            Action::StopLeader {
                during: Some(action),
            } => write!(
                f,
                "SIGSTOP the leader past its lease, {action} meanwhile, SIGCONT"
            ),
            Action::RestartStandby => write!(f, "restart the standby (SIGTERM)"),
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.fault {
            Some(fault) => write!(f, "[{fault}] {}", self.action),
            None => write!(f, "{}", self.action),
        }
    }
}

#[test]
fn a_seed_gives_the_same_steps() {
    let steps = |seed| {
        let (mut model, mut rng) = (Model::new(), Rng::new(seed));
        (0..200)
            .map(|_| {
                let step = model.next(&mut rng);
                model.apply(&step.action);
                step.to_string()
            })
            .collect::<Vec<_>>()
    };
    let steps_1 = steps(1);
    assert_eq!(steps_1, steps(1));
    assert_ne!(steps_1, steps(2));
    for kind in [
        "create",
        "edit",
        "delete namespace",
        "SIGKILL",
        "SIGSTOP",
        "x 429",
    ] {
        assert!(
            steps_1.iter().any(|s| s.contains(kind)),
            "{kind} in 200 steps"
        );
    }
}
