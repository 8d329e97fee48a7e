//! What the simulated SendGrid API (see `endpoints`) answers to one request: the whole decision
//! (faults, rate limit, auth, scopes, on-behalf-of, region, validation, the change) as a pure
//! function of the request, the state and the time. `api.rs` only moves bytes.
//!
//! Order of checks, the same for every endpoint: every request counts against its key's rate
//! window of that endpoint first (so each answer, errors included, carries the rate-limit headers); then injected
//! faults; then the rate limit (429); the method (405); the key (401); its scope (403); the
//! `on-behalf-of` target (404); the target's region against the host's (451). Then the endpoint's
//! own answer: for an Enforced TLS PATCH the body (400), then a version the account refuses (an
//! injected fault, 400 too).

use super::accounts::{Stored, Target, User};
use super::endpoints::Endpoint;
use super::faults::{Faults, Injected};
use super::patch::parse_patch;
use super::ratelimit::{RateHeaders, unix_secs_after};
use super::settings::Region;
use super::state::{LoggedRequest, Scope, SimState, fingerprint};
use super::wire::{ApiError, ReplyBody, version_number};
use axum::http::{Method, StatusCode};
use std::time::SystemTime;

/// The parts of an HTTP request the decision depends on.
#[derive(Clone, Copy, Debug)]
pub struct ApiRequest<'a> {
    pub method: &'a Method,
    pub endpoint: Endpoint,
    pub region: Region,
    pub path: &'a str,
    /// The `Authorization` header, if present and text.
    pub authorization: Option<&'a str>,
    /// The `on-behalf-of` header, if present.
    pub on_behalf_of: Option<&'a str>,
    pub body: &'a [u8],
}

/// An answer to send back.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    pub status: StatusCode,
    pub rate: RateHeaders,
    pub body: ReplyBody,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Respond(Reply),
    /// Close the connection without writing anything.
    Drop,
}

impl SimState {
    /// Decides the answer to `request`, applies a successful PATCH and logs the request.
    pub fn process(&mut self, request: &ApiRequest<'_>, now: SystemTime) -> Outcome {
        let key = bearer_key(request.authorization);
        let outcome = self.decide(request, key, now);
        let status = match &outcome {
            Outcome::Respond(reply) => reply.status.as_u16(),
            Outcome::Drop => 0,
        };
        self.record(LoggedRequest {
            method: request.method.to_string(),
            region: request.region,
            path: request.path.to_owned(),
            on_behalf_of: request.on_behalf_of.map(str::to_owned),
            key_fingerprint: presented_fingerprint(request.authorization),
            body: logged_body(request.body),
            status,
            at: now,
        });
        outcome
    }

    fn decide(&mut self, request: &ApiRequest<'_>, key: Option<&str>, now: SystemTime) -> Outcome {
        let rate = self
            .limiter
            .check(key.unwrap_or_default(), request.endpoint, now);
        let reply = |status: StatusCode, body: ReplyBody| {
            Outcome::Respond(Reply {
                status,
                rate: rate.headers,
                body,
            })
        };
        let error =
            |status: StatusCode, error: ApiError| reply(status, ReplyBody::Errors(vec![error]));

        match self.faults.next() {
            Some(Injected::DropConnection) => return Outcome::Drop,
            Some(Injected::ServerError { status }) => {
                let status =
                    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let message = status
                    .canonical_reason()
                    .unwrap_or("server error")
                    .to_lowercase();
                return error(status, ApiError::message_only(message));
            }
            Some(Injected::EchoAuthorization { status, padding }) => {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
                let echoed = format!(
                    "{}Authorization: {}",
                    "x".repeat(padding),
                    request.authorization.unwrap_or_default()
                );
                return error(status, ApiError::message_only(echoed));
            }
            Some(Injected::RateLimited { reset_after }) => {
                return Outcome::Respond(Reply {
                    status: StatusCode::TOO_MANY_REQUESTS,
                    rate: RateHeaders {
                        remaining: 0,
                        reset: unix_secs_after(now, reset_after),
                        ..rate.headers
                    },
                    body: too_many_requests(),
                });
            }
            None => {}
        }
        if !rate.allowed {
            return reply(StatusCode::TOO_MANY_REQUESTS, too_many_requests());
        }
        let Ok(needed) = request.endpoint.scope(request.method) else {
            return error(
                StatusCode::METHOD_NOT_ALLOWED,
                ApiError::general("method not allowed"),
            );
        };
        let Some(key) = key else {
            return error(
                StatusCode::UNAUTHORIZED,
                ApiError::general("authorization required"),
            );
        };
        let Some(sim_key) = self.keys.get(key) else {
            return error(
                StatusCode::UNAUTHORIZED,
                ApiError::general(
                    "The provided authorization grant is invalid, expired, or revoked",
                )
                .with_null_help(),
            );
        };
        if needed.is_some_and(|scope| !sim_key.scopes.contains(&scope)) {
            return error(StatusCode::FORBIDDEN, ApiError::general("access forbidden"));
        }
        let target = Target::parse(request.on_behalf_of);
        let Some(user) = self.accounts.get_mut(&sim_key.account, target) else {
            return error(
                StatusCode::NOT_FOUND,
                ApiError::general("resource not found"),
            );
        };
        if user.profile.region != request.region {
            return error(
                StatusCode::UNAVAILABLE_FOR_LEGAL_REASONS,
                ApiError::general("Unavailable due to data residency restrictions"),
            );
        }
        match request.endpoint {
            Endpoint::EnforcedTls => match enforced_tls(&self.faults, request, user) {
                Ok(stored) => reply(StatusCode::OK, ReplyBody::Settings(stored)),
                Err(errors) => reply(StatusCode::BAD_REQUEST, ReplyBody::Errors(errors)),
            },
            Endpoint::Username => reply(StatusCode::OK, ReplyBody::Username(user.profile.clone())),
            Endpoint::Scopes => {
                // In a fixed order, each once (the schema says `uniqueItems`).
                let scopes = Scope::ALL
                    .into_iter()
                    .filter(|scope| sim_key.scopes.contains(scope))
                    .map(Scope::sendgrid_name)
                    .collect();
                reply(StatusCode::OK, ReplyBody::Scopes(scopes))
            }
        }
    }
}

/// An Enforced TLS GET (the settings; with lagging reads injected, a GET soon after a PATCH
/// answers what was there before it) or PATCH (the body checked, then applied): the new
/// settings, or the errors of a 400.
fn enforced_tls(
    faults: &Faults,
    request: &ApiRequest<'_>,
    user: &mut User,
) -> Result<Stored, Vec<ApiError>> {
    if *request.method != Method::PATCH {
        // A GET soon after a PATCH may still answer what was there before it.
        if let Some((before, left)) = user.lagging.as_mut().filter(|(_, left)| *left > 0) {
            *left -= 1;
            return Ok(*before);
        }
        return Ok(user.stored);
    }
    let changes = parse_patch(request.body)?;
    if let Some(version) = changes.minimum_tls_version
        && faults.refuses(version)
    {
        let message = format!(
            "TLS {} is not available on this account's plan",
            version_number(version)
        );
        return Err(vec![ApiError::field("version", message)]);
    }
    let before = user.stored;
    user.stored.apply(changes);
    user.lagging = Some((before, faults.lagging_reads()));
    Ok(user.stored)
}

fn too_many_requests() -> ReplyBody {
    ReplyBody::Errors(vec![ApiError::general("too many requests")])
}

/// The fingerprint of the key in an `Authorization` header, for logs.
pub fn presented_fingerprint(authorization: Option<&str>) -> Option<String> {
    bearer_key(authorization).and_then(fingerprint)
}

/// The key of `Authorization: Bearer <key>` (scheme case-insensitive); `None` for anything else.
fn bearer_key(authorization: Option<&str>) -> Option<&str> {
    let (scheme, key) = authorization?.trim().split_once(' ')?;
    let key = key.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !key.is_empty()).then_some(key)
}

/// The body as JSON for the log; text that is not JSON is kept as a string; no body is `None`.
fn logged_body(body: &[u8]) -> Option<serde_json::Value> {
    if body.is_empty() {
        return None;
    }
    Some(
        serde_json::from_slice(body).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(body).into_owned())
        }),
    )
}

#[cfg(test)]
mod tests;
