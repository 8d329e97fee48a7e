//! The SendGrid endpoints the simulator serves, on which host, and the scope each method needs.

use super::settings::Region;
use super::state::Scope;
use axum::http::Method;

/// One SendGrid API path (on either host).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `GET`/`PATCH /v3/user/settings/enforced_tls`
    EnforcedTls,
    /// `GET /v3/user/username`: the username and user id of the account reached.
    Username,
    /// `GET /v3/scopes`: the scopes of the key that asks.
    Scopes,
}

/// The EU host's paths are the global ones under this prefix.
pub const EU_PREFIX: &str = "/eu";

impl Endpoint {
    pub const ALL: [Endpoint; 3] = [Endpoint::EnforcedTls, Endpoint::Username, Endpoint::Scopes];

    /// The path on the global host.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::EnforcedTls => "/v3/user/settings/enforced_tls",
            Endpoint::Username => "/v3/user/username",
            Endpoint::Scopes => "/v3/scopes",
        }
    }

    /// The endpoint a path names, and the host's region; `None` for any other path.
    pub fn at(path: &str) -> Option<(Endpoint, Region)> {
        let (global, region) = match path.strip_prefix(EU_PREFIX) {
            Some(rest) => (rest, Region::Eu),
            None => (path, Region::Global),
        };
        let endpoint = Endpoint::ALL.into_iter().find(|e| e.path() == global)?;
        Some((endpoint, region))
    }

    /// The scope a request with `method` needs (`Ok(None)`: any valid key may ask), or `Err`
    /// for a method this endpoint does not serve (405).
    pub fn scope(self, method: &Method) -> Result<Option<Scope>, MethodNotAllowed> {
        match (self, method) {
            (Endpoint::EnforcedTls, &Method::GET) => Ok(Some(Scope::Read)),
            (Endpoint::EnforcedTls, &Method::PATCH) => Ok(Some(Scope::Update)),
            (Endpoint::Username, &Method::GET) => Ok(Some(Scope::UsernameRead)),
            (Endpoint::Scopes, &Method::GET) => Ok(None),
            _ => Err(MethodNotAllowed),
        }
    }
}

/// A method the endpoint does not serve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MethodNotAllowed;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_on_both_hosts() {
        for endpoint in Endpoint::ALL {
            let path = endpoint.path();
            assert_eq!(Endpoint::at(path), Some((endpoint, Region::Global)));
            let eu = format!("{EU_PREFIX}{path}");
            assert_eq!(Endpoint::at(&eu), Some((endpoint, Region::Eu)));
        }
        for other in [
            "/v3/user",
            "/eu",
            "/eu/eu/v3/scopes",
            "/v3/scopes/",
            "/x/v3/scopes",
        ] {
            assert_eq!(Endpoint::at(other), None, "{other}");
        }
    }

    #[test]
    fn scopes_by_method() {
        let cases = [
            (Endpoint::EnforcedTls, Method::GET, Ok(Some(Scope::Read))),
            (
                Endpoint::EnforcedTls,
                Method::PATCH,
                Ok(Some(Scope::Update)),
            ),
            (Endpoint::EnforcedTls, Method::PUT, Err(MethodNotAllowed)),
            (
                Endpoint::Username,
                Method::GET,
                Ok(Some(Scope::UsernameRead)),
            ),
            (Endpoint::Username, Method::PUT, Err(MethodNotAllowed)),
            (Endpoint::Scopes, Method::GET, Ok(None)),
            (Endpoint::Scopes, Method::POST, Err(MethodNotAllowed)),
        ];
        for (endpoint, method, expected) in cases {
            assert_eq!(endpoint.scope(&method), expected, "{endpoint:?} {method}");
        }
    }
}
