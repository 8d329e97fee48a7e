//! Label and field selectors for list and watch.
//!
//! Labels: `k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`, comma-separated.
//! Fields: `path=v`, `path==v`, `path!=v` where `path` is a dotted path such as
//! `metadata.name`. Differences from a real API server: any dotted field path is accepted for
//! any type (a real server allows only a few per type).

use crate::errors::ApiError;
use serde_json::Value;

#[derive(Clone, Debug)]
enum LabelReq {
    Eq(String, String),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed `labelSelector` and `fieldSelector` pair.
#[derive(Clone, Debug, Default)]
pub(crate) struct Selector {
    labels: Vec<LabelReq>,
    fields: Vec<(String, bool, String)>,
}

impl Selector {
    pub fn parse(labels: Option<&str>, fields: Option<&str>) -> Result<Selector, ApiError> {
        Ok(Selector {
            labels: match labels {
                Some(s) => parse_labels(s)?,
                None => Vec::new(),
            },
            fields: match fields {
                Some(s) => parse_fields(s)?,
                None => Vec::new(),
            },
        })
    }

    pub fn matches(&self, object: &Value) -> bool {
        let labels = &object["metadata"]["labels"];
        let label = |k: &str| labels.get(k).and_then(Value::as_str);
        let labels_ok = self.labels.iter().all(|req| match req {
            LabelReq::Eq(k, v) => label(k) == Some(v.as_str()),
            LabelReq::NotEq(k, v) => label(k) != Some(v.as_str()),
            LabelReq::In(k, vs) => label(k).is_some_and(|l| vs.iter().any(|v| v == l)),
            LabelReq::NotIn(k, vs) => label(k).is_none_or(|l| vs.iter().all(|v| v != l)),
            LabelReq::Exists(k) => label(k).is_some(),
            LabelReq::NotExists(k) => label(k).is_none(),
        });
        labels_ok
            && self.fields.iter().all(|(path, equal, want)| {
                let got = path
                    .split('.')
                    .try_fold(object, |v, k| v.get(k))
                    .map(|v| match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .unwrap_or_default();
                (got == *want) == *equal
            })
    }
}

/// Splits on commas outside parentheses.
fn split_terms(s: &str) -> Vec<&str> {
    let mut terms = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                terms.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    terms.push(&s[start..]);
    terms
        .into_iter()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect()
}

fn parse_labels(s: &str) -> Result<Vec<LabelReq>, ApiError> {
    split_terms(s)
        .into_iter()
        .map(|term| {
            let set = |rest: &str| -> Result<Vec<String>, ApiError> {
                let inner = rest
                    .trim()
                    .strip_prefix('(')
                    .and_then(|r| r.strip_suffix(')'))
                    .ok_or_else(|| {
                        ApiError::bad_request(format!("invalid label selector term {term:?}"))
                    })?;
                Ok(inner.split(',').map(|v| v.trim().to_string()).collect())
            };
            if let Some((k, v)) = term.split_once("!=") {
                Ok(LabelReq::NotEq(k.trim().into(), v.trim().into()))
            } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
                Ok(LabelReq::Eq(k.trim().into(), v.trim().into()))
            } else if let Some((k, rest)) = term.split_once(" notin ") {
                Ok(LabelReq::NotIn(k.trim().into(), set(rest)?))
            } else if let Some((k, rest)) = term.split_once(" in ") {
                Ok(LabelReq::In(k.trim().into(), set(rest)?))
            } else if let Some(k) = term.strip_prefix('!') {
                Ok(LabelReq::NotExists(k.trim().into()))
            } else {
                Ok(LabelReq::Exists(term.to_string()))
            }
        })
        .collect()
}

fn parse_fields(s: &str) -> Result<Vec<(String, bool, String)>, ApiError> {
    split_terms(s)
        .into_iter()
        .map(|term| {
            if let Some((k, v)) = term.split_once("!=") {
                Ok((k.trim().into(), false, v.trim().into()))
            } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
                Ok((k.trim().into(), true, v.trim().into()))
            } else {
                Err(ApiError::bad_request(format!(
                    "invalid field selector term {term:?}"
                )))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_and_field_selectors() {
        let obj = json!({"metadata": {"name": "a", "labels": {"app": "web", "tier": "x"}}});
        let sel = |l: Option<&str>, f: Option<&str>| Selector::parse(l, f).unwrap().matches(&obj);
        assert!(sel(Some("app=web,tier"), None));
        assert!(sel(Some("app in (web, db),!missing"), None));
        assert!(!sel(Some("app notin (web)"), None));
        assert!(!sel(Some("app!=web"), None));
        assert!(sel(None, Some("metadata.name=a")));
        assert!(!sel(None, Some("metadata.name!=a")));
    }
}
