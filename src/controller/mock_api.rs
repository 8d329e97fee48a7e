//! A mocked Kubernetes API server for controller tests, in the style of kube-rs/controller-rs
//! `fixtures.rs`: a `kube::Client` whose HTTP service is a `tower_test` mock, and a verifier
//! that takes each request in order, lets the test assert on it and answers it.
//!
//! The code under test runs in a spawned task; [`ApiServer::finish`] waits for it while failing
//! on any further request, so an unexpected extra call fails the test with its method and path.

use http::{Method, Request, Response, StatusCode};
use kube::client::Body;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;
use tokio::task::JoinHandle;
use tower_test::mock::{self, Handle, SendResponse};

/// How long to wait for a call the script expects (or for the code under test to finish) before
/// declaring it missing. Generous: only a broken test ever waits this long.
const WAIT: Duration = Duration::from_secs(5);

/// The verifier end of the mocked API server.
pub struct ApiServer {
    handle: Handle<Request<Body>, Response<Body>>,
    /// Text no request may contain (the API key).
    forbidden: Vec<String>,
}

/// A client talking to a fresh mocked API server.
pub fn client() -> (kube::Client, ApiServer) {
    let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
    (
        kube::Client::new(service, "default"),
        ApiServer {
            handle,
            forbidden: Vec::new(),
        },
    )
}

/// One request the code under test sent, waiting for its answer.
pub struct Call {
    pub method: Method,
    pub path: String,
    /// The query string, as sent ("" when none).
    pub query: String,
    pub content_type: Option<String>,
    /// The JSON body (`Value::Null` when there was none).
    pub body: Value,
    respond: SendResponse<Response<Body>>,
}

impl ApiServer {
    /// Fails the test if any later request (path, query or body) contains `text`.
    pub fn forbid(&mut self, text: &str) {
        self.forbidden.push(text.to_string());
    }

    /// The next call; fails the test when none comes within [`WAIT`].
    pub async fn next(&mut self) -> Call {
        let (request, respond) = tokio::time::timeout(WAIT, self.handle.next_request())
            .await
            .expect("expected another Kubernetes API call, none came")
            .expect("the client went away");
        let (parts, body) = request.into_parts();
        let bytes = body.collect_bytes().await.expect("request body");
        let raw = format!("{} {}", parts.uri, String::from_utf8_lossy(&bytes));
        for text in &self.forbidden {
            assert!(
                !raw.contains(text.as_str()),
                "a request contains {text:?}: {raw}"
            );
        }
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("request body is JSON")
        };
        Call {
            method: parts.method,
            path: parts.uri.path().to_string(),
            query: parts.uri.query().unwrap_or_default().to_string(),
            content_type: parts
                .headers
                .get(http::header::CONTENT_TYPE)
                .map(|v| v.to_str().expect("ASCII header").to_string()),
            body,
            respond,
        }
    }

    /// The next call, asserted to be `method path`.
    pub async fn expect(&mut self, method: Method, path: &str) -> Call {
        let call = self.next().await;
        assert_eq!(
            (&call.method, call.path.as_str()),
            (&method, path),
            "unexpected Kubernetes API call (query {:?}, body {})",
            call.query,
            call.body
        );
        call
    }

    /// Waits for the code under test to finish, failing on any call it makes meanwhile.
    pub async fn finish<T>(&mut self, task: JoinHandle<T>) -> T {
        let outcome = tokio::time::timeout(WAIT, async {
            tokio::select! {
                done = task => done.expect("the code under test panicked"),
                extra = self.handle.next_request() => {
                    let (request, _) = extra.expect("the client went away");
                    panic!("unexpected extra Kubernetes API call: {} {}", request.method(), request.uri());
                }
            }
        })
        .await;
        outcome.expect("the code under test did not finish")
    }

    /// Runs `work` in a task with no API calls expected at all.
    pub async fn expect_no_calls<T: Send + 'static>(
        &mut self,
        work: impl Future<Output = T> + Send + 'static,
    ) -> T {
        self.finish(tokio::spawn(work)).await
    }
}

impl Call {
    /// A query parameter's value, if sent.
    pub fn param(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// Answers with `status` and a JSON body.
    pub fn respond(self, status: u16, body: &Value) {
        let response = Response::builder()
            .status(StatusCode::from_u16(status).expect("a valid status"))
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Body::from(serde_json::to_vec(body).expect("JSON")))
            .expect("a valid response");
        self.respond.send_response(response);
    }

    /// Answers 200 with `body`.
    pub fn ok(self, body: &Value) {
        self.respond(200, body);
    }

    /// Answers 200 with the request's own body (what the API server does for an Event it
    /// creates, near enough).
    pub fn echo(self) {
        let body = self.body.clone();
        self.ok(&body);
    }

    /// Answers 403 with a `Status` object, as the API server does when RBAC refuses `verb` on
    /// cluster-scoped `resource` (`plural.group`).
    pub fn forbidden(self, verb: &str, resource: &str, name: &str) {
        let (plural, group) = resource.split_once('.').unwrap_or((resource, ""));
        let status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": format!(
                "{resource} \"{name}\" is forbidden: User \"system:serviceaccount:sendgrid-system:operator\" cannot {verb} resource \"{plural}\" in API group \"{group}\" at the cluster scope"
            ),
            "reason": "Forbidden",
            "details": { "name": name, "group": group, "kind": plural },
            "code": 403,
        });
        self.respond(403, &status);
    }

    /// Answers 404 with a `Status` object, as the API server does for a missing object.
    pub fn not_found(self, kind: &str, name: &str) {
        let status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": format!("{kind} \"{name}\" not found"),
            "reason": "NotFound",
            "details": { "name": name, "kind": kind },
            "code": 404,
        });
        self.respond(404, &status);
    }
}

/// Cluster-scoped objects of one kind, kept by the mocked API server and answered as it would:
/// a GET from memory (404 when absent), a create, a merge patch and a delete. Every write must
/// be a compare-and-swap: a create of an object that exists, or a patch or delete on another
/// resourceVersion (or uid), fails the test.
pub struct Objects {
    /// The collection's path, e.g. `/apis/group/v1/plural`.
    collection: String,
    /// The plural, as a 404 names it.
    plural: String,
    items: BTreeMap<String, Value>,
    /// The last resourceVersion handed out.
    version: u64,
}

/// What a write did.
#[derive(Debug, Clone, PartialEq)]
pub enum Written {
    Created(Value),
    Patched(Value),
    Deleted(Value),
}

impl Written {
    /// The object as stored (for a deletion, as it was before).
    pub fn object(&self) -> &Value {
        match self {
            Written::Created(o) | Written::Patched(o) | Written::Deleted(o) => o,
        }
    }
}

impl Objects {
    /// An empty collection at `/apis/{group_version}/{plural}`.
    pub fn new(group_version: &str, plural: &str) -> Objects {
        Objects {
            collection: format!("/apis/{group_version}/{plural}"),
            plural: plural.to_string(),
            items: BTreeMap::new(),
            version: 500,
        }
    }

    /// The path of the object `name`.
    pub fn path(&self, name: &str) -> String {
        format!("{}/{name}", self.collection)
    }

    /// The collection's path (where a create is POSTed).
    pub fn collection(&self) -> &str {
        &self.collection
    }

    /// The object `name` as stored now.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.items.get(name)
    }

    /// Stores `object` as if created earlier; returns it as stored.
    pub fn insert(&mut self, object: Value) -> Value {
        let name = object["metadata"]["name"]
            .as_str()
            .expect("an object with a name")
            .to_string();
        let stored = self.stamp(object, &name);
        self.items.insert(name, stored.clone());
        stored
    }

    /// `object` with a new resourceVersion and the uid the server gives `name`.
    fn stamp(&mut self, mut object: Value, name: &str) -> Value {
        self.version += 1;
        object["metadata"]["resourceVersion"] = json!(self.version.to_string());
        object["metadata"]["uid"] = json!(format!("uid-{name}"));
        object
    }

    /// Answers a GET of one object.
    pub fn answer_get(&self, call: Call) {
        assert_eq!(call.method, Method::GET, "a GET of {}", self.plural);
        let name = self.name_in(&call.path);
        match self.items.get(&name) {
            Some(object) => call.ok(object),
            None => call.not_found(&self.plural, &name),
        }
    }

    /// Answers a create (POST), merge patch (PATCH) or delete (DELETE) and keeps its effect.
    pub fn answer_write(&mut self, call: Call) -> Written {
        match call.method {
            Method::POST => {
                assert_eq!(
                    call.path, self.collection,
                    "a create POSTs to the collection"
                );
                let name = call.body["metadata"]["name"]
                    .as_str()
                    .expect("a create names the object")
                    .to_string();
                assert!(
                    !self.items.contains_key(&name),
                    "a create of {name}, which exists: the write must be a patch"
                );
                assert!(
                    call.body["metadata"]["resourceVersion"].is_null(),
                    "a create carries no resourceVersion: {}",
                    call.body
                );
                let stored = self.stamp(call.body.clone(), &name);
                self.items.insert(name, stored.clone());
                call.respond(201, &stored);
                Written::Created(stored)
            }
            Method::PATCH => {
                assert_eq!(
                    call.content_type.as_deref(),
                    Some("application/merge-patch+json")
                );
                let name = self.name_in(&call.path);
                let mut next = self
                    .items
                    .get(&name)
                    .unwrap_or_else(|| panic!("a patch of {name}, which does not exist"))
                    .clone();
                assert_eq!(
                    call.body["metadata"]["resourceVersion"], next["metadata"]["resourceVersion"],
                    "a patch is a compare-and-swap on the version read"
                );
                merge(&mut next, &call.body);
                let stored = self.stamp(next, &name);
                self.items.insert(name, stored.clone());
                call.ok(&stored);
                Written::Patched(stored)
            }
            Method::DELETE => {
                let name = self.name_in(&call.path);
                let current = self
                    .items
                    .remove(&name)
                    .unwrap_or_else(|| panic!("a delete of {name}, which does not exist"));
                assert_eq!(
                    call.body["preconditions"],
                    json!({
                        "resourceVersion": current["metadata"]["resourceVersion"],
                        "uid": current["metadata"]["uid"],
                    }),
                    "a delete is a compare-and-swap on the version and uid read"
                );
                call.ok(&json!({
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "details": { "name": name, "kind": self.plural, "uid": current["metadata"]["uid"] },
                }));
                Written::Deleted(current)
            }
            ref other => panic!("not a write of {}: {other} {}", self.plural, call.path),
        }
    }

    /// The object name in `path`, one of this collection's.
    fn name_in(&self, path: &str) -> String {
        path.strip_prefix(&self.collection)
            .and_then(|rest| rest.strip_prefix('/'))
            .filter(|name| !name.is_empty() && !name.contains('/'))
            .unwrap_or_else(|| panic!("{path} is not an object of {}", self.collection))
            .to_string()
    }
}

/// Applies a JSON merge patch (RFC 7386) to `target`: how the API server answers a merge PATCH.
pub fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    let Value::Object(target) = target else {
        unreachable!("made an object above")
    };
    for (key, value) in patch {
        if value.is_null() {
            target.remove(key);
        } else {
            merge(target.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}
