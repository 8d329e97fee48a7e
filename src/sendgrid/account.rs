//! Whose settings a call reads or writes: the key, the region's host and the optional
//! `on-behalf-of` subuser or customer account.

use super::key::ApiKey;
use crate::api::{OnBehalfOfRef, Region, TargetAccount};
use url::Url;

/// Longest subuser name or account id accepted (the CRD's limit too).
const MAX_LEN: usize = 64;

/// A subuser or customer account of the key's (parent) account, validated so that it can only
/// ever produce one well-formed `on-behalf-of` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OnBehalfOf {
    /// A subuser's username: `on-behalf-of: marketing-sub`.
    Subuser(String),
    /// A customer account's id: `on-behalf-of: account-id 1234567`.
    AccountId(String),
}

/// Why `spec.onBehalfOf` cannot become a header; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InvalidOnBehalfOf {
    field: &'static str,
    reason: &'static str,
}

impl OnBehalfOf {
    /// From the resource field. Exactly one of `subuser` and `accountId` must be set. A subuser
    /// is 1-64 visible ASCII characters (no spaces, CR, LF or other control characters); an
    /// account id is 1-64 of `A-Z a-z 0-9 _ -`.
    pub fn from_ref(r: &OnBehalfOfRef) -> Result<OnBehalfOf, InvalidOnBehalfOf> {
        match (&r.subuser, &r.account_id) {
            (Some(subuser), None) => {
                check(
                    "spec.onBehalfOf.subuser",
                    subuser,
                    |b| b.is_ascii_graphic(),
                    "may contain only visible ASCII characters (no spaces)",
                )?;
                Ok(OnBehalfOf::Subuser(subuser.clone()))
            }
            (None, Some(id)) => {
                check(
                    "spec.onBehalfOf.accountId",
                    id,
                    |b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-',
                    "may contain only letters, digits, '_' and '-'",
                )?;
                Ok(OnBehalfOf::AccountId(id.clone()))
            }
            _ => Err(InvalidOnBehalfOf {
                field: "spec.onBehalfOf",
                reason: "give exactly one of subuser or accountId",
            }),
        }
    }

    /// The header value: "marketing-sub" or "account-id 1234567".
    pub(crate) fn header_value(&self) -> String {
        match self {
            OnBehalfOf::Subuser(name) => name.clone(),
            OnBehalfOf::AccountId(id) => format!("account-id {id}"),
        }
    }

    /// The resource field this was built from.
    pub(crate) fn to_ref(&self) -> OnBehalfOfRef {
        match self {
            OnBehalfOf::Subuser(name) => OnBehalfOfRef {
                subuser: Some(name.clone()),
                account_id: None,
            },
            OnBehalfOf::AccountId(id) => OnBehalfOfRef {
                subuser: None,
                account_id: Some(id.clone()),
            },
        }
    }
}

/// Rejects empty, over-long and badly-charactered values. The value itself is left out of the
/// message: it may hold the very control characters that would garble a log line.
fn check(
    field: &'static str,
    value: &str,
    allowed: fn(u8) -> bool,
    allowed_reason: &'static str,
) -> Result<(), InvalidOnBehalfOf> {
    let reason = if value.is_empty() {
        "must not be empty"
    } else if value.len() > MAX_LEN {
        "must be at most 64 characters"
    } else if value.chars().any(char::is_control) {
        "must not contain CR, LF or other control characters"
    } else if !value.bytes().all(allowed) {
        allowed_reason
    } else {
        return Ok(());
    };
    Err(InvalidOnBehalfOf { field, reason })
}

/// Whose settings a call reads or writes.
#[derive(Clone, Debug)]
pub struct Account {
    pub key: ApiKey,
    pub region: Region,
    pub on_behalf_of: Option<OnBehalfOf>,
}

/// Who an account is, as SendGrid says (`GET /v3/user/username`): the same for every key of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub user_id: u64,
    pub username: String,
}

impl Account {
    /// The target this account's calls act on, once SendGrid has said whose account it is.
    /// `secret_resource_version` is the version of the Secret the key was read from.
    pub(crate) fn target(
        &self,
        identity: &Identity,
        secret_resource_version: Option<String>,
    ) -> TargetAccount {
        TargetAccount {
            name: TargetAccount::name_of(self.region, identity.user_id),
            region: self.region,
            user_id: identity.user_id,
            username: identity.username.clone(),
            on_behalf_of: self.on_behalf_of.as_ref().map(OnBehalfOf::to_ref),
            secret_resource_version,
        }
    }

    /// The account of a recorded `target`, reached with `key` (which must reach that target).
    pub(crate) fn at(target: &TargetAccount, key: ApiKey) -> Result<Account, InvalidOnBehalfOf> {
        Ok(Account {
            key,
            region: target.region,
            on_behalf_of: target
                .on_behalf_of
                .as_ref()
                .map(OnBehalfOf::from_ref)
                .transpose()?,
        })
    }

    /// Region and on-behalf-of as text, for logs: `global`, `eu/marketing-sub`.
    pub(crate) fn place(&self) -> String {
        match &self.on_behalf_of {
            Some(o) => format!("{}/{}", self.region.as_str(), o.header_value()),
            None => self.region.as_str().to_string(),
        }
    }
}

/// Base URLs of the two SendGrid hosts. A base may carry a path prefix (e.g.
/// `http://127.0.0.1:8025/eu`): requests go to `<base>/v3/user/settings/enforced_tls`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    pub global: Url,
    pub eu: Url,
}

impl Default for Endpoints {
    /// `https://api.sendgrid.com` and `https://api.eu.sendgrid.com`, the servers of SendGrid's
    /// OpenAPI description.
    fn default() -> Endpoints {
        Endpoints {
            global: Url::parse("https://api.sendgrid.com").expect("a valid constant URL"),
            eu: Url::parse("https://api.eu.sendgrid.com").expect("a valid constant URL"),
        }
    }
}

impl Endpoints {
    pub(crate) fn for_region(&self, r: Region) -> &Url {
        match r {
            Region::Global => &self.global,
            Region::Eu => &self.eu,
        }
    }
}

/// The Enforced TLS endpoint's path below a base URL.
pub(crate) const SETTINGS_PATH: &str = "v3/user/settings/enforced_tls";
/// The endpoint that says whose account a key (and on-behalf-of) reaches.
pub(crate) const USERNAME_PATH: &str = "v3/user/username";
/// Where SendGrid lists a key's scopes.
const SCOPES_PATH: &str = "v3/scopes";

/// Which SendGrid endpoint an exchange is with. SendGrid limits each endpoint's requests on its
/// own ("each endpoint permits a fixed number of requests per refresh period"), so the rate
/// budget keeps one count per key and endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Endpoint {
    Settings,
    Username,
    Scopes,
}

impl Endpoint {
    /// How many there are (the budget's per-endpoint arrays).
    pub(crate) const COUNT: usize = 3;

    pub(crate) fn path(self) -> &'static str {
        match self {
            Endpoint::Settings => SETTINGS_PATH,
            Endpoint::Username => USERNAME_PATH,
            Endpoint::Scopes => SCOPES_PATH,
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// `<base>/<path>`, keeping a path prefix of `base`. Refuses bases that would send the key
/// somewhere surprising or leak something into the URL: a scheme other than http(s), no host,
/// embedded credentials, a query or a fragment. No message repeats a URL's credentials.
pub(crate) fn endpoint_url(base: &Url, path: &str, allow_http: bool) -> Result<Url, String> {
    if !base.username().is_empty() || base.password().is_some() {
        return Err(format!(
            "{}: a SendGrid base URL must not contain credentials",
            without_credentials(base)
        ));
    }
    if !matches!(base.scheme(), "http" | "https") {
        return Err(format!("{base}: the scheme must be https"));
    }
    // Plain http would send the key in clear text: only for a simulator on this machine.
    if base.scheme() == "http" && !allow_http && !is_loopback(base) {
        return Err(format!(
            "{base}: http:// sends the API key in clear text; use https:// (http is allowed only for loopback hosts such as 127.0.0.1 or localhost, or with --allow-http-sendgrid-url for an in-cluster simulator)"
        ));
    }
    if base.host_str().is_none_or(str::is_empty) {
        return Err(format!("{base}: no host"));
    }
    if base.query().is_some() || base.fragment().is_some() {
        return Err(format!("{base}: must not have a query or fragment"));
    }
    let mut url = base.clone();
    let prefix = base.path().trim_end_matches('/');
    url.set_path(&format!("{prefix}/{path}"));
    Ok(url)
}

/// `url` with any user name and password replaced by `***`.
pub(crate) fn without_credentials(url: &Url) -> String {
    let mut shown = url.clone();
    if !url.username().is_empty() {
        let _ = shown.set_username("***");
    }
    if url.password().is_some() {
        let _ = shown.set_password(Some("***"));
    }
    shown.to_string()
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subuser(name: &str) -> OnBehalfOfRef {
        OnBehalfOfRef {
            subuser: Some(name.into()),
            account_id: None,
        }
    }

    fn account_id(id: &str) -> OnBehalfOfRef {
        OnBehalfOfRef {
            subuser: None,
            account_id: Some(id.into()),
        }
    }

    #[test]
    fn header_values_and_round_trips() {
        let sub = OnBehalfOf::from_ref(&subuser("marketing-sub")).unwrap();
        assert_eq!(sub.header_value(), "marketing-sub");
        assert_eq!(sub.to_ref(), subuser("marketing-sub"));
        let customer = OnBehalfOf::from_ref(&account_id("1234567")).unwrap();
        assert_eq!(customer.header_value(), "account-id 1234567");
        assert_eq!(customer.to_ref(), account_id("1234567"));
    }

    #[test]
    fn rejects_header_injection_and_bad_shapes_naming_the_field() {
        let cases = [
            (
                subuser("a\r\nX-Evil: 1"),
                "spec.onBehalfOf.subuser: must not contain CR",
            ),
            (
                subuser("a\tb"),
                "spec.onBehalfOf.subuser: must not contain CR",
            ),
            (subuser(""), "spec.onBehalfOf.subuser: must not be empty"),
            (
                subuser("two words"),
                "spec.onBehalfOf.subuser: may contain only visible",
            ),
            (
                subuser("ünïcode"),
                "spec.onBehalfOf.subuser: may contain only visible",
            ),
            (
                subuser(&"x".repeat(65)),
                "spec.onBehalfOf.subuser: must be at most 64",
            ),
            (
                account_id("12 34"),
                "spec.onBehalfOf.accountId: may contain only letters",
            ),
            (
                account_id("1\n2"),
                "spec.onBehalfOf.accountId: must not contain CR",
            ),
            (
                account_id(""),
                "spec.onBehalfOf.accountId: must not be empty",
            ),
            (
                OnBehalfOfRef {
                    subuser: Some("a".into()),
                    account_id: Some("1".into()),
                },
                "spec.onBehalfOf: give exactly one",
            ),
            (
                OnBehalfOfRef {
                    subuser: None,
                    account_id: None,
                },
                "spec.onBehalfOf: give exactly one",
            ),
        ];
        for (input, expected) in cases {
            let message = OnBehalfOf::from_ref(&input).unwrap_err().to_string();
            assert!(message.starts_with(expected), "{input:?}: {message}");
        }
        assert!(OnBehalfOf::from_ref(&subuser(&"x".repeat(64))).is_ok());
        assert!(OnBehalfOf::from_ref(&account_id("abc123_DEF-9")).is_ok());
    }

    #[test]
    fn target_is_named_for_region_and_user_id_whatever_the_key() {
        let identity = Identity {
            user_id: 4711,
            username: "marketing-sub".into(),
        };
        let mut account = Account {
            key: ApiKey::new("SG.test.key").unwrap(),
            region: Region::Global,
            on_behalf_of: Some(OnBehalfOf::Subuser("marketing-sub".into())),
        };
        let target = account.target(&identity, Some("7".into()));
        assert_eq!(target.name, "global-4711");
        assert_eq!(target.to_string(), "global-4711 (marketing-sub)");
        account.key = ApiKey::new("SG.rotated.key").unwrap();
        assert!(
            account
                .target(&identity, Some("8".into()))
                .same_account(&target)
        );
        account.region = Region::Eu;
        assert_eq!(account.target(&identity, None).name, "eu-4711");
        assert!(!account.target(&identity, None).same_account(&target));
        assert!(!format!("{account:?}").contains("SG.rotated.key"));
        let back = Account::at(&target, ApiKey::new("SG.test.key").unwrap()).unwrap();
        assert_eq!(
            back.on_behalf_of,
            Some(OnBehalfOf::Subuser("marketing-sub".into()))
        );
        assert_eq!(back.place(), "global/marketing-sub");
    }

    #[test]
    fn settings_url_keeps_path_prefixes_and_refuses_odd_bases() {
        let url = |base: &str| endpoint_url(&Url::parse(base).unwrap(), SETTINGS_PATH, false);
        assert_eq!(
            url("https://api.sendgrid.com").unwrap().as_str(),
            "https://api.sendgrid.com/v3/user/settings/enforced_tls"
        );
        assert_eq!(
            url("http://127.0.0.1:8025/eu/").unwrap().as_str(),
            "http://127.0.0.1:8025/eu/v3/user/settings/enforced_tls"
        );
        assert_eq!(
            url("http://127.0.0.1:8025/a/b").unwrap().as_str(),
            "http://127.0.0.1:8025/a/b/v3/user/settings/enforced_tls"
        );
        for bad in [
            "ftp://api.sendgrid.com",
            "http://user:pw@api.sendgrid.com",
            "https://api.sendgrid.com/?x=1",
            "https://api.sendgrid.com/#f",
            "unix:/run/socket",
            "http://api.sendgrid.com",
            "http://10.0.0.1:8025",
        ] {
            assert!(url(bad).is_err(), "{bad}");
        }
        assert!(url("http://localhost:8025").is_ok());
        let simulator = Url::parse("http://simulator.demo.svc:8025").unwrap();
        assert!(
            endpoint_url(&simulator, SETTINGS_PATH, true).is_ok(),
            "allowed by the flag"
        );
        assert!(url("http://[::1]:8025").is_ok());
        for with_credentials in [
            "https://user:secret@h",
            "ftp://user:secret@h",
            "http://user:secret@10.0.0.1",
        ] {
            let error = url(with_credentials).unwrap_err();
            assert!(
                !error.contains("secret") && !error.contains("user"),
                "{error}"
            );
        }
    }

    #[test]
    fn default_endpoints_are_sendgrids_hosts() {
        let endpoints = Endpoints::default();
        assert_eq!(
            endpoints.for_region(Region::Global).as_str(),
            "https://api.sendgrid.com/"
        );
        assert_eq!(
            endpoints.for_region(Region::Eu).as_str(),
            "https://api.eu.sendgrid.com/"
        );
    }
}
