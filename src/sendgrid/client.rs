//! The HTTP client for `GET`/`PATCH /v3/user/settings/enforced_tls`, `GET /v3/user/username`
//! and `GET /v3/scopes`.
//!
//! One instance serves the whole operator: it holds the connection pool, the rate budgets and
//! the rate limiters (per key and endpoint). It never sleeps and never retries (callers requeue, so
//! no worker is ever blocked); each call is one exchange, or none when the key's budget or
//! SendGrid's window is used up.

use super::USERNAME_SCOPE;
use super::account::{Account, Endpoint, Endpoints, Identity, endpoint_url};
use super::budget::{Budgets, DEFAULT_PER_MINUTE};
use super::error::{SendGridError, scrub_bytes};
use super::fence::Fence;
use super::gate;
use super::ratelimit::{RateLimitHeaders, RateLimits};
use super::wire;
use crate::api::TlsSettings;
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use url::Url;

/// Bodies longer than this are not read further: a settings body is ~80 bytes, and an error
/// page only needs its start.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// How the client connects. Defaults: connect 10 s, whole request 30 s, SendGrid's hosts, a
/// budget of 570 requests per key per minute.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub endpoints: Endpoints,
    /// Accept `http://` endpoints that are not on loopback (an in-cluster simulator only).
    pub allow_http: bool,
    /// Requests per API key per one-minute window (see [`super::budget`]).
    pub budget_per_minute: u32,
}

impl Default for ClientConfig {
    fn default() -> ClientConfig {
        ClientConfig {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            endpoints: Endpoints::default(),
            allow_http: false,
            budget_per_minute: DEFAULT_PER_MINUTE,
        }
    }
}

/// Told about every HTTP exchange (and every request refused locally by the rate limiter), so
/// telemetry can count requests without the client depending on it.
pub trait RequestObserver: Send + Sync {
    /// `method` "GET"/"PATCH"; `class` "2xx", "4xx", "429", "5xx", "other" (1xx/3xx),
    /// "timeout", "connect" (no connection, or it dropped), "ratelimited-local", "fenced" (not
    /// sent: past the leader lease's renew deadline) or "withheld" (not sent: the resource was
    /// paused or deleted meanwhile).
    fn observe(&self, method: &'static str, class: &'static str, elapsed: Duration);
}

/// Cheap to clone (the state is shared): build ONE and hand clones around, so that all
/// resources using a key share its rate limiter.
#[derive(Clone)]
pub struct SendGridClient {
    inner: Arc<Inner>,
    observer: Option<Arc<dyn RequestObserver>>,
    fence: Fence,
}

struct Inner {
    http: reqwest::Client,
    /// The settings endpoint itself (`<base>/v3/user/settings/enforced_tls`) per region.
    urls: Endpoints,
    /// `<base>/v3/user/username` per region.
    username_urls: Endpoints,
    /// `<base>/v3/scopes` per region.
    scopes_urls: Endpoints,
    budgets: Arc<Budgets>,
    limits: RateLimits,
}

impl fmt::Debug for SendGridClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendGridClient")
            .field("global_url", &self.inner.urls.global.as_str())
            .field("eu_url", &self.inner.urls.eu.as_str())
            .finish_non_exhaustive()
    }
}

/// A failed exchange: the error, and the observer class to report it under.
type Failure = (SendGridError, &'static str);

impl SendGridClient {
    /// Builds the client: rustls with TLS 1.2 at least, explicit timeouts, no redirects (a
    /// redirect would carry the key to another URL), `Accept: application/json` and a
    /// `sendgrid-tls-operator/<version>` User-Agent. Installs rustls' ring provider if the
    /// process has none yet.
    pub fn new(config: ClientConfig) -> Result<SendGridClient, SendGridError> {
        let config_error = |message: String| SendGridError::Config { message };
        let urls = |path: &str| -> Result<Endpoints, SendGridError> {
            Ok(Endpoints {
                global: endpoint_url(&config.endpoints.global, path, config.allow_http)
                    .map_err(|e| config_error(format!("global SendGrid URL {e}")))?,
                eu: endpoint_url(&config.endpoints.eu, path, config.allow_http)
                    .map_err(|e| config_error(format!("EU SendGrid URL {e}")))?,
            })
        };
        let (settings_urls, username_urls) = (
            urls(Endpoint::Settings.path())?,
            urls(Endpoint::Username.path())?,
        );
        let scopes_urls = urls(Endpoint::Scopes.path())?;
        // Ignored error: another part of the process installed a provider first, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        let http = reqwest::Client::builder()
            .tls_version_min(reqwest::tls::Version::TLS_1_2)
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("sendgrid-tls-operator/", env!("CARGO_PKG_VERSION")))
            .default_headers(headers)
            .build()
            .map_err(|e| config_error(format!("could not build the HTTP client: {}", chain(&e))))?;
        Ok(SendGridClient {
            inner: Arc::new(Inner {
                http,
                urls: settings_urls,
                username_urls,
                scopes_urls,
                budgets: Arc::new(Budgets::new(config.budget_per_minute)),
                limits: RateLimits::default(),
            }),
            observer: None,
            fence: Fence::default(),
        })
    }

    /// The per-key budgets, for the controller to pace reconciles by.
    pub(crate) fn budgets(&self) -> Arc<Budgets> {
        self.inner.budgets.clone()
    }

    pub fn with_observer(mut self, o: Arc<dyn RequestObserver>) -> Self {
        self.observer = Some(o);
        self
    }

    /// Sends nothing unless `fence` is open at that moment (leader election).
    pub fn with_fence(mut self, fence: Fence) -> Self {
        self.fence = fence;
        self
    }

    /// The fence every request passes, for the controller's Kubernetes writes too.
    pub fn fence(&self) -> &Fence {
        &self.fence
    }

    /// GET: the settings SendGrid reports (`minimum_tls_version` None when it sends none).
    pub async fn get(&self, account: &Account) -> Result<TlsSettings, SendGridError> {
        self.exchange(
            Method::GET,
            account,
            Endpoint::Settings,
            None,
            wire::decode_settings,
        )
        .await
    }

    /// GET `/v3/user/username`: whose account the key reaches with the account's on-behalf-of
    /// header. A key without the scope it needs is told which one: without its identity the
    /// operator cannot tell which account a write would land on, so it does not write.
    pub async fn identity(&self, account: &Account) -> Result<Identity, SendGridError> {
        let decode = wire::decode_identity;
        match self
            .exchange(Method::GET, account, Endpoint::Username, None, decode)
            .await
        {
            Err(SendGridError::Forbidden { message }) => Err(SendGridError::Forbidden {
                message: format!(
                    "{message}: GET /v3/user/username was refused; the API key needs the scope {USERNAME_SCOPE} (SendGrid's \"User Account\" read access) so the operator can tell which account it changes; add it to the key"
                ),
            }),
            other => other,
        }
    }

    /// GET `/v3/scopes`: the scopes SendGrid lists for the key, asked with the account's
    /// on-behalf-of header (SendGrid's description accepts it), so the answer is about the
    /// account the key is used for.
    pub async fn scopes(&self, account: &Account) -> Result<Vec<String>, SendGridError> {
        self.exchange(Method::GET, account, Endpoint::Scopes, None, decode_scopes)
            .await
    }

    /// PATCH with only the `Some` fields of `changes` (an explicit `false` is sent); returns the
    /// settings in the PATCH response, which is fresher than an immediate GET. An empty
    /// `changes` is a caller bug: it is refused with `Config` and nothing is sent, because
    /// `{}` would look like a successful write that wrote nothing.
    pub async fn patch(
        &self,
        account: &Account,
        changes: &TlsSettings,
    ) -> Result<TlsSettings, SendGridError> {
        if changes.is_empty() {
            return Err(SendGridError::Config {
                message: "refusing to send an empty PATCH: no setting to change".to_string(),
            });
        }
        let body = wire::encode_patch(changes);
        let decode = wire::decode_settings;
        self.exchange(
            Method::PATCH,
            account,
            Endpoint::Settings,
            Some(body),
            decode,
        )
        .await
    }

    /// One exchange (or a local refusal), observed and logged; `decode` reads a 2xx body.
    async fn exchange<T>(
        &self,
        method: Method,
        account: &Account,
        endpoint: Endpoint,
        body: Option<Vec<u8>>,
        decode: Decoder<T>,
    ) -> Result<T, SendGridError> {
        let method_name = if method == Method::PATCH {
            "PATCH"
        } else {
            "GET"
        };
        let started = Instant::now();
        let headers = account_headers(account)?;
        let key = account.key.digest();
        let now = SystemTime::now();
        let refused = match self.inner.limits.check(&key, endpoint, now) {
            Err(block) => Some((block.until, local_refusal_message(account, block.limit))),
            // A PATCH completes its reconcile: it may use the margin under SendGrid's limit.
            Ok(()) => self
                .inner
                .budgets
                .admit(&key, endpoint, method == Method::PATCH, now)
                .err()
                .map(|until| (until, budget_refusal_message(account))),
        };
        let (result, class) = match refused {
            Some((until, message)) => (
                Err(SendGridError::RateLimited {
                    reset: Some(until),
                    message,
                }),
                "ratelimited-local",
            ),
            None => match self
                .send(method, account, endpoint, headers, body, &key, decode)
                .await
            {
                Ok((settings, class)) => (Ok(settings), class),
                Err((error, class)) => (Err(error), class),
            },
        };
        let elapsed = started.elapsed();
        if let Some(observer) = &self.observer {
            observer.observe(method_name, class, elapsed);
        }
        tracing::debug!(
            method = method_name,
            sendgrid_account = %account.place(),
            endpoint = endpoint.path(),
            class,
            elapsed_ms = elapsed.as_millis() as u64,
            "SendGrid exchange"
        );
        result.map_err(|e| e.scrubbed(account.key.expose()))
    }

    /// One HTTP exchange; the Ok side carries the observer class too ("2xx").
    #[allow(clippy::too_many_arguments)]
    async fn send<T>(
        &self,
        method: Method,
        account: &Account,
        endpoint: Endpoint,
        headers: HeaderMap,
        body: Option<Vec<u8>>,
        key: &[u8; 32],
        decode: Decoder<T>,
    ) -> Result<(T, &'static str), Failure> {
        let url = match endpoint {
            Endpoint::Settings => self.inner.urls.for_region(account.region),
            Endpoint::Username => self.inner.username_urls.for_region(account.region),
            Endpoint::Scopes => self.inner.scopes_urls.for_region(account.region),
        };
        let what = format!("{method} {}", origin(url));
        let mut request = self
            .inner
            .http
            .request(method, url.clone())
            .headers(headers);
        if let Some(body) = body {
            request = request
                .header(header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        // The last thing before the socket: a replica past its lease sends nothing.
        self.fence.check().map_err(|e| {
            let message = e.to_string();
            let error = SendGridError::Unavailable {
                status: None,
                message,
            };
            (error, "fenced")
        })?;
        if !gate::open() {
            // The status write that follows fails its compare-and-swap (the pause moved the
            // resourceVersion; a deleted resource has none) and the reconcile starts over from
            // the resource as it is now.
            let error = SendGridError::Unavailable {
                status: None,
                message:
                    "not sent: the resource was paused or deleted while its reconcile was under way"
                        .to_string(),
            };
            return Err((error, "withheld"));
        }
        let mut response = request
            .send()
            .await
            .map_err(|e| transport_failure(&what, "no response", &e))?;
        let status = response.status();
        let now = SystemTime::now();
        let limits = RateLimitHeaders::parse(response.headers(), now);
        // A 429 blocks the key's endpoint until its Reset (below); its headers say nothing the
        // budget's windows should learn from (a proxy's or an injected 429 may name any time).
        if status != StatusCode::TOO_MANY_REQUESTS {
            self.inner.budgets.observe(key, endpoint, &limits, now);
        }
        let reset = self
            .inner
            .limits
            .record(key, endpoint, status.as_u16(), &limits, now);
        let body = read_body(&mut response)
            .await
            .map_err(|e| transport_failure(&what, "reading the response body failed", &e))?;
        // Before anything is parsed or cut to length: a body that echoes the Authorization
        // header must not leave any part of the key in a message.
        let body = scrub_bytes(&body, account.key.expose().as_bytes());
        let class = status_class(status);
        if status.is_success() {
            let answer = decode(&body).map_err(|problem| {
                let message = format!(
                    "{}: unexpected response: {problem}",
                    wire::status_text(status)
                );
                let status = Some(status.as_u16());
                (SendGridError::Unavailable { status, message }, class)
            })?;
            return Ok((answer, class));
        }
        // No reset time or request id in the message: a retry that fails the same way must
        // leave the condition (and so the status and its Event) unchanged.
        let message = wire::error_message(status, &body);
        Err((
            SendGridError::from_status(status.as_u16(), message, reset),
            class,
        ))
    }
}

/// Reads a 2xx body, or says what was unexpected in it.
type Decoder<T> = fn(&[u8]) -> Result<T, String>;

/// A 2xx `GET /v3/scopes` body: `{"scopes": ["user.username.read", ...]}`, `scopes` required
/// (SendGrid's description).
#[derive(serde::Deserialize)]
struct ScopesBody {
    scopes: Vec<String>,
}

fn decode_scopes(body: &[u8]) -> Result<Vec<String>, String> {
    serde_json::from_slice::<ScopesBody>(body)
        .map(|b| b.scopes)
        .map_err(|e| format!("the body is not a list of scopes: {e}"))
}

/// The per-account headers: `Authorization: Bearer <key>` (marked sensitive, so HTTP tracing
/// layers print it redacted) and `on-behalf-of`. Values that cannot be headers are a `Config`
/// error; `ApiKey::new` and `OnBehalfOf::from_ref` already refuse them, this guards hand-built
/// values.
fn account_headers(account: &Account) -> Result<HeaderMap, SendGridError> {
    let invalid = |what: &str| SendGridError::Config {
        message: format!("{what} cannot be sent in an HTTP header"),
    };
    let mut headers = HeaderMap::new();
    let mut authorization = HeaderValue::from_str(&format!("Bearer {}", account.key.expose()))
        .map_err(|_| invalid("the API key"))?;
    authorization.set_sensitive(true);
    headers.insert(header::AUTHORIZATION, authorization);
    if let Some(on_behalf_of) = &account.on_behalf_of {
        let value = HeaderValue::from_str(&on_behalf_of.header_value())
            .map_err(|_| invalid("the on-behalf-of value"))?;
        headers.insert("on-behalf-of", value);
    }
    Ok(headers)
}

/// Reads at most [`MAX_BODY_BYTES`] of the body.
async fn read_body(response: &mut reqwest::Response) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        body.extend_from_slice(&chunk);
        if body.len() >= MAX_BODY_BYTES {
            body.truncate(MAX_BODY_BYTES);
            break;
        }
    }
    Ok(body)
}

/// A transport error as `Unavailable { status: None }`, saying which: timeout, connection
/// refused or dropped. reqwest's own text is used without the URL (the URL is in `what`).
fn transport_failure(what: &str, stage: &str, error: &reqwest::Error) -> Failure {
    let (class, kind) = if error.is_timeout() {
        ("timeout", "timed out")
    } else if error.is_connect() {
        ("connect", "could not connect")
    } else {
        ("connect", "connection failed")
    };
    let message = format!("{what}: {kind} ({stage}): {}", chain(error));
    (
        SendGridError::Unavailable {
            status: None,
            message,
        },
        class,
    )
}

/// An error and its sources, "a: b: c", skipping repeats; reqwest's text without the URL it
/// embeds (callers name the host themselves).
fn chain(error: &reqwest::Error) -> String {
    let mut top = error.to_string();
    if let Some(url) = error.url() {
        top = top.replace(&format!(" for url ({url})"), "");
    }
    let mut parts = vec![top];
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if parts.last().is_none_or(|last| !last.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

/// `https://api.sendgrid.com` of a URL, for messages.
fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() {
        200..=299 => "2xx",
        429 => "429",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "other",
    }
}

fn local_refusal_message(account: &Account, limit: Option<u64>) -> String {
    let limit = limit
        .map(|l| format!(" of {l} requests"))
        .unwrap_or_default();
    format!(
        "rate limited: SendGrid's window{limit} for the API key used for {} is exhausted; request not sent, retrying after the window resets",
        account.place(),
    )
}

fn budget_refusal_message(account: &Account) -> String {
    format!(
        "rate limited: the operator's rate budget for the API key used for {} is used up; request not sent, retrying when it refills",
        account.place(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_by_status() {
        let class = |code| status_class(StatusCode::from_u16(code).unwrap());
        assert_eq!(class(200), "2xx");
        assert_eq!(class(204), "2xx");
        assert_eq!(class(429), "429");
        assert_eq!(class(404), "4xx");
        assert_eq!(class(451), "4xx");
        assert_eq!(class(503), "5xx");
        assert_eq!(class(302), "other");
    }

    #[test]
    fn refuses_bad_endpoints_as_config_errors() {
        let mut config = ClientConfig::default();
        config.endpoints.eu = Url::parse("ftp://example.com").unwrap();
        let error = SendGridClient::new(config).unwrap_err();
        assert!(
            matches!(&error, SendGridError::Config { message } if message.starts_with("EU SendGrid URL ftp://")),
            "{error:?}"
        );
    }

    #[test]
    fn builds_with_defaults_and_debug_shows_urls_only() {
        let client = SendGridClient::new(ClientConfig::default()).unwrap();
        assert_eq!(
            format!("{client:?}"),
            "SendGridClient { global_url: \"https://api.sendgrid.com/v3/user/settings/enforced_tls\", \
             eu_url: \"https://api.eu.sendgrid.com/v3/user/settings/enforced_tls\", .. }"
        );
    }
}
