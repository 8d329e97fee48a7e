//! The HTTP entry point: routes each request to discovery or to a resource verb (get, list,
//! watch, create, update, patch, delete) and shapes the answer.
//!
//! Differences from a real API server: no authentication or authorization (every request is
//! allowed); `limit`/`continue` are ignored (a list always returns everything, with no
//! continue token); a list's `resourceVersion`/`resourceVersionMatch` are ignored (lists are
//! always served from the latest state); `deletecollection` is not supported (405); request
//! bodies must be JSON (YAML for apply), except the protobuf Secrets and Namespaces kubectl's
//! imperative `create secret`/`create namespace` send (see `protobuf`); other protobuf and CBOR
//! bodies get a 415 saying what to do instead; protobuf DeleteOptions are ignored.

use crate::cluster::Cluster;
use crate::discovery;
use crate::errors::ApiError;
use crate::kinds::View;
use crate::openapi;
use crate::patch::{self, PatchType};
use crate::protobuf;
use crate::render::{self, Format};
use crate::route::{Route, Target};
use crate::selectors::Selector;
use crate::watch::{self, WatchSpec};
use crate::write::{self, Sub, Write};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// What every request handler shares.
#[derive(Clone)]
pub(crate) struct AppState {
    pub cluster: Arc<Mutex<Cluster>>,
    /// `host:port`, for `/api`'s serverAddressByClientCIDRs.
    pub address: String,
}

impl AppState {
    fn lock(&self) -> Result<MutexGuard<'_, Cluster>, ApiError> {
        self.cluster
            .lock()
            .map_err(|_| ApiError::bad_request("server state poisoned by an earlier panic"))
    }
}

/// The single handler behind the router.
pub(crate) async fn handle(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match dispatch(&state, &method, &uri, &headers, &body) {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

fn json(value: serde_json::Value) -> Response {
    axum::Json(value).into_response()
}

fn dispatch(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    let route = Route::parse(uri.path());
    if let Route::Resource(target) = route {
        return resource(state, method, &target, uri, headers, body);
    }
    if method != Method::GET {
        return Err(ApiError::method_not_allowed());
    }
    let cluster = state.lock()?;
    let doc = match route {
        Route::Version => Some(discovery::version()),
        Route::CoreVersions => Some(discovery::core_versions(&state.address)),
        Route::Groups => Some(discovery::groups(&cluster.registry)),
        Route::Group(g) => discovery::group(&cluster.registry, &g),
        Route::ResourceList { group, version } => {
            discovery::resource_list(&cluster.registry, &group, &version)
        }
        Route::OpenApiIndex => Some(openapi::index(&cluster.registry)),
        Route::OpenApi(path) => openapi::document(&cluster.registry, &path),
        Route::Resource(_) | Route::Unknown => None,
    };
    doc.map(json).ok_or_else(ApiError::no_route)
}

fn resource(
    state: &AppState,
    method: &Method,
    t: &Target,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    let query: HashMap<String, String> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let header = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let format = Format::negotiate(
        header(header::ACCEPT),
        query.get("includeObject").map(String::as_str),
    );
    let kind = state
        .lock()?
        .kind(&t.group, &t.version, &t.plural)
        .ok_or_else(ApiError::no_route)?;
    // A namespaced resource may be listed and watched across namespaces, but is created and
    // addressed by name only within one; a cluster-scoped one never has a namespace.
    let scoped_ok = if kind.namespaced {
        t.namespace.is_some() || (t.name.is_none() && *method == Method::GET)
    } else {
        t.namespace.is_none()
    };
    let sub = match t.subresource.as_deref() {
        None => Sub::Main,
        Some("status") if kind.status_subresource => Sub::Status,
        Some(_) => return Err(ApiError::no_route()),
    };
    if !scoped_ok {
        return Err(ApiError::no_route());
    }
    if kind.view != View::Stored && *method != Method::GET {
        let mut error = ApiError::method_not_allowed();
        error.message = format!(
            "kube-testkit serves {} read-only: write them through {}",
            kind.resource.qualified(),
            kind.storage().qualified()
        );
        return Err(error);
    }
    let namespace = t.namespace.clone().unwrap_or_default();
    let flag = |k: &str| query.get(k).is_some_and(|v| v == "true" || v == "1");
    let manager = query.get("fieldManager").cloned();
    let user_agent = header(header::USER_AGENT)
        .and_then(|ua| ua.split('/').next())
        .unwrap_or("unknown");
    let w = Write {
        kind: &kind,
        namespace: &namespace,
        sub,
        manager: manager.clone().unwrap_or_else(|| user_agent.to_string()),
        explicit_manager: manager.is_some(),
        dry_run: query.get("dryRun").is_some_and(|v| v == "All"),
    };
    let answer = |code: StatusCode, object: serde_json::Value| {
        (
            code,
            axum::Json(render::object(&kind, &t.version, &object, format)),
        )
            .into_response()
    };
    let name = t.name.as_deref();
    match (method.clone(), name) {
        (Method::GET, Some(name)) => {
            let key = crate::store::ObjectKey {
                resource: kind.storage(),
                namespace,
                name: name.to_string(),
            };
            let cluster = state.lock()?;
            let entry = cluster
                .store
                .get(&key)
                .ok_or_else(|| ApiError::not_found(&kind.resource.qualified(), name))?;
            Ok(answer(StatusCode::OK, entry.object.clone()))
        }
        (Method::GET, None) => {
            let selector = Selector::parse(
                query.get("labelSelector").map(String::as_str),
                query.get("fieldSelector").map(String::as_str),
            )?;
            let ns = t.namespace.clone();
            if flag("watch") {
                let since = match query.get("resourceVersion").map(String::as_str) {
                    None | Some("" | "0") => None,
                    Some(rv) => Some(rv.parse::<u64>().map_err(|_| {
                        ApiError::bad_request(format!("invalid resourceVersion {rv:?}"))
                    })?),
                };
                let timeout = query
                    .get("timeoutSeconds")
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(1800);
                let spec = WatchSpec {
                    kind: kind.clone(),
                    version: t.version.clone(),
                    namespace: ns,
                    selector,
                    bookmarks: flag("allowWatchBookmarks"),
                    timeout: Duration::from_secs(timeout),
                    format,
                    since,
                    send_initial_events: flag("sendInitialEvents"),
                };
                return watch::open(&state.cluster, spec);
            }
            let cluster = state.lock()?;
            let storage = kind.storage();
            let items: Vec<&serde_json::Value> = cluster
                .store
                .list(&storage, ns.as_deref())
                .map(|e| &e.object)
                .filter(|o| selector.matches(&kind.view_of(o)))
                .collect();
            // Pages of `limit`; the continue token is the offset of the next page.
            let limit = query.get("limit").and_then(|l| l.parse::<usize>().ok());
            let offset = match query.get("continue").map(String::as_str) {
                None | Some("") => 0,
                Some(token) => token.parse::<usize>().map_err(|_| {
                    ApiError::bad_request(format!("invalid continue token {token:?}"))
                })?,
            };
            let end = limit
                .filter(|l| *l > 0)
                .map_or(items.len(), |l| items.len().min(offset + l));
            let page = render::Page {
                objects: items.get(offset..end).unwrap_or_default(),
                remaining: items.len().saturating_sub(end),
                next: end,
            };
            Ok(json(render::list(
                &kind,
                &t.version,
                &page,
                cluster.store.current_rv(),
                format,
            )))
        }
        (Method::POST, None) => {
            let object = body_object(header(header::CONTENT_TYPE), body)?;
            let created = write::create(&mut *state.lock()?, &w, object)?;
            Ok(answer(StatusCode::CREATED, created))
        }
        (Method::PUT, Some(name)) => {
            let object = body_object(header(header::CONTENT_TYPE), body)?;
            Ok(answer(
                StatusCode::OK,
                write::update(&mut *state.lock()?, &w, name, object)?,
            ))
        }
        (Method::PATCH, Some(name)) => {
            let content_type = header(header::CONTENT_TYPE).unwrap_or("");
            let type_ = PatchType::from_content_type(content_type)
                .ok_or_else(|| ApiError::unsupported_media_type(content_type))?;
            let patched = write::patch(&mut *state.lock()?, &w, name, type_, body, flag("force"))?;
            Ok(answer(StatusCode::OK, patched))
        }
        (Method::DELETE, Some(name)) => {
            // Typed clients may send DeleteOptions as protobuf; they are then ignored.
            let protobuf = header(header::CONTENT_TYPE).is_some_and(|ct| ct.contains("protobuf"));
            let options = if body.is_empty() || protobuf {
                serde_json::Value::Null
            } else {
                patch::parse_json(body)?
            };
            Ok(answer(
                StatusCode::OK,
                write::delete(&mut *state.lock()?, &w, name, &options)?,
            ))
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

/// A create or update body: JSON, or the protobuf of a Secret or Namespace.
fn body_object(content_type: Option<&str>, body: &[u8]) -> Result<serde_json::Value, ApiError> {
    match content_type {
        Some(ct) if ct.contains("protobuf") || ct.contains("cbor") => {
            protobuf::decode(body).ok_or_else(|| {
                let mut error = ApiError::unsupported_media_type(ct);
                error.message = format!(
                    "kube-testkit reads JSON bodies (and protobuf Secrets and Namespaces) only, not this {ct} body: \
                     use `kubectl apply -f` or `kubectl create -f` with a manifest"
                );
                error
            })
        }
        _ => patch::parse_json(body),
    }
}
