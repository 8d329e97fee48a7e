//! Which API key `plan` and `apply` use for a resource: the file `--secret` maps its Secret to,
//! else `--api-key-file`, else `SENDGRID_API_KEY`. A key that is missing or unreadable is an
//! error of the resources that need it, not of the whole run, with the reason the controller
//! gives the same trouble with a Secret.

use crate::api::{Reason, SendGridEnforcedTls};
use crate::sendgrid::ApiKey;
use kube::ResourceExt;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Parses `NAME=PATH` or `NAMESPACE/NAME=PATH`.
pub fn parse_secret(text: &str) -> Result<(String, PathBuf), String> {
    match text.split_once('=') {
        Some((name, path)) if !name.is_empty() && !path.is_empty() => {
            Ok((name.to_string(), PathBuf::from(path)))
        }
        _ => Err(format!("{text:?}: want NAME=PATH or NAMESPACE/NAME=PATH")),
    }
}

/// Why a resource has no key: the controller's reason for a Secret with the same trouble
/// (`SecretNotFound` for no key or no file, `SecretForbidden` for a file it may not read,
/// `SecretKeyInvalid` for a malformed key), and what to do.
#[derive(Clone, Debug)]
pub struct KeyError {
    pub reason: Reason,
    pub message: String,
}

impl KeyError {
    fn invalid(message: String) -> KeyError {
        KeyError {
            reason: Reason::SecretKeyInvalid,
            message,
        }
    }

    fn unreadable(error: &std::io::Error, message: String) -> KeyError {
        let reason = match error.kind() {
            std::io::ErrorKind::PermissionDenied => Reason::SecretForbidden,
            _ => Reason::SecretNotFound,
        };
        KeyError { reason, message }
    }
}

type KeyResult = Result<ApiKey, KeyError>;

/// Where keys come from, each file read once.
pub struct Keys {
    secrets: BTreeMap<String, PathBuf>,
    fallback: Fallback,
    read: BTreeMap<PathBuf, KeyResult>,
}

enum Fallback {
    File(PathBuf),
    Value(KeyResult),
    None,
}

impl Keys {
    pub fn new(secrets: &[(String, PathBuf)], file: Option<PathBuf>) -> Keys {
        let fallback = match (file, std::env::var("SENDGRID_API_KEY")) {
            (Some(path), _) => Fallback::File(path),
            (None, Ok(raw)) => Fallback::Value(
                ApiKey::new(&raw).map_err(|e| KeyError::invalid(format!("SENDGRID_API_KEY: {e}"))),
            ),
            (None, Err(_)) => Fallback::None,
        };
        Keys {
            secrets: secrets.iter().cloned().collect(),
            fallback,
            read: BTreeMap::new(),
        }
    }

    /// Every resource gets this key (the embedded simulator's).
    #[cfg(feature = "simulator")]
    pub fn fixed(key: ApiKey) -> Keys {
        Keys {
            secrets: BTreeMap::new(),
            fallback: Fallback::Value(Ok(key)),
            read: BTreeMap::new(),
        }
    }

    /// The key for `res`, or why there is none.
    pub fn for_resource(&mut self, res: &SendGridEnforcedTls) -> KeyResult {
        let name = &res.spec.api_key_secret_ref.name;
        let qualified = format!("{}/{name}", res.namespace().unwrap_or_default());
        let mapped = self
            .secrets
            .get(&qualified)
            .or_else(|| self.secrets.get(name))
            .cloned();
        match (mapped, &self.fallback) {
            (Some(path), _) => self.file(path, "--secret"),
            (None, Fallback::File(path)) => self.file(path.clone(), "--api-key-file"),
            (None, Fallback::Value(key)) => key.clone(),
            (None, Fallback::None) => Err(KeyError {
                reason: Reason::SecretNotFound,
                message: format!(
                    "no API key for Secret {name}: give --secret {name}=PATH, --api-key-file PATH or SENDGRID_API_KEY"
                ),
            }),
        }
    }

    fn file(&mut self, path: PathBuf, flag: &str) -> KeyResult {
        self.read
            .entry(path.clone())
            .or_insert_with(|| {
                let what = format!("{flag} {}", path.display());
                let raw = std::fs::read_to_string(&path)
                    .map_err(|e| KeyError::unreadable(&e, format!("{what}: {e}")))?;
                ApiKey::new(&raw).map_err(|e| KeyError::invalid(format!("{what}: {e}")))
            })
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_secret_mappings() {
        assert_eq!(
            parse_secret("mail/key=/run/k").unwrap(),
            ("mail/key".to_string(), PathBuf::from("/run/k"))
        );
        assert!(parse_secret("key").is_err());
        assert!(parse_secret("=path").is_err());
        assert!(parse_secret("key=").is_err());
    }
}
