//! The JSONPath subset printer columns use: `.a.b`, `['a']`, `[0]`, `[*]`, `.*` and filters
//! `[?(@.type=="Ready")]` (also `!=`, with string, number or boolean literals), optionally
//! wrapped in `{}` and starting with `$`. Anything else is an error.

use serde_json::Value;

#[derive(Clone, Debug, PartialEq)]
enum Step {
    Field(String),
    Index(i64),
    All,
    Filter {
        path: Vec<String>,
        equal: bool,
        literal: Value,
    },
}

/// A parsed path.
#[derive(Clone, Debug)]
pub(crate) struct JsonPath(Vec<Step>);

impl JsonPath {
    pub fn parse(text: &str) -> Result<JsonPath, String> {
        let mut s = text.trim();
        if let Some(inner) = s.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
            s = inner.trim();
        }
        s = s.strip_prefix('$').unwrap_or(s);
        let mut steps = Vec::new();
        let mut rest = s;
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix('.') {
                let end = r.find(['.', '[']).unwrap_or(r.len());
                let name = &r[..end];
                match name {
                    "" => return Err(format!("empty field name in {text:?}")),
                    "*" => steps.push(Step::All),
                    _ => steps.push(Step::Field(name.to_string())),
                }
                rest = &r[end..];
            } else if let Some(r) = rest.strip_prefix('[') {
                let end = closing_bracket(r).ok_or_else(|| format!("unclosed [ in {text:?}"))?;
                steps.push(
                    parse_bracket(&r[..end])
                        .ok_or_else(|| format!("unsupported [{}] in {text:?}", &r[..end]))?,
                );
                rest = &r[end + 1..];
            } else {
                return Err(format!("unexpected {rest:?} in {text:?}"));
            }
        }
        Ok(JsonPath(steps))
    }

    /// Every value the path selects, in document order.
    pub fn find<'a>(&self, root: &'a Value) -> Vec<&'a Value> {
        let mut current = vec![root];
        for step in &self.0 {
            let mut next = Vec::new();
            for value in current {
                match (step, value) {
                    (Step::Field(name), Value::Object(map)) => next.extend(map.get(name)),
                    (Step::Index(i), Value::Array(items)) => {
                        let idx = if *i < 0 { items.len() as i64 + i } else { *i };
                        next.extend(usize::try_from(idx).ok().and_then(|i| items.get(i)));
                    }
                    (Step::All, Value::Array(items)) => next.extend(items.iter()),
                    (Step::All, Value::Object(map)) => next.extend(map.values()),
                    (
                        Step::Filter {
                            path,
                            equal,
                            literal,
                        },
                        Value::Array(items),
                    ) => {
                        next.extend(items.iter().filter(|item| {
                            let got = path.iter().try_fold(*item, |v, k| v.get(k));
                            (got == Some(literal)) == *equal
                        }));
                    }
                    _ => {}
                }
            }
            current = next;
        }
        current
    }
}

/// The index of the `]` closing a bracket whose content starts `r`, skipping quoted text.
fn closing_bracket(r: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (i, c) in r.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, ']') => return Some(i),
            _ => {}
        }
    }
    None
}

fn parse_bracket(inner: &str) -> Option<Step> {
    let inner = inner.trim();
    if inner == "*" {
        return Some(Step::All);
    }
    if let Some(name) = unquote(inner) {
        return Some(Step::Field(name));
    }
    if let Ok(i) = inner.parse::<i64>() {
        return Some(Step::Index(i));
    }
    let cond = inner.strip_prefix("?(")?.strip_suffix(')')?.trim();
    let (lhs, equal, rhs) = if let Some((l, r)) = cond.split_once("!=") {
        (l, false, r)
    } else {
        let (l, r) = cond.split_once("==")?;
        (l, true, r)
    };
    let path = lhs
        .trim()
        .strip_prefix("@.")?
        .split('.')
        .map(String::from)
        .collect();
    let rhs = rhs.trim();
    let literal = match unquote(rhs) {
        Some(s) => Value::String(s),
        None => serde_json::from_str(rhs).ok()?,
    };
    Some(Step::Filter {
        path,
        equal,
        literal,
    })
}

fn unquote(s: &str) -> Option<String> {
    ['"', '\'']
        .into_iter()
        .find_map(|q| s.strip_prefix(q).and_then(|r| r.strip_suffix(q)))
        .map(String::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_fields_indexes_and_filters() {
        let obj = json!({"status": {"conditions": [
            {"type": "Synced", "status": "False"},
            {"type": "Ready", "status": "True", "reason": "InSync"}
        ]}, "spec": {"n": 3}});
        let find = |p: &str| {
            JsonPath::parse(p)
                .unwrap()
                .find(&obj)
                .into_iter()
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(
            find(r#".status.conditions[?(@.type=="Ready")].status"#),
            vec![json!("True")]
        );
        assert_eq!(
            find(r#"{.status.conditions[?(@.type!='Ready')].type}"#),
            vec![json!("Synced")]
        );
        assert_eq!(find(".status.conditions[1].reason"), vec![json!("InSync")]);
        assert_eq!(find(".status.conditions[*].type").len(), 2);
        assert_eq!(find("$.spec['n']"), vec![json!(3)]);
        assert!(find(".status.missing").is_empty());
        assert!(JsonPath::parse(".a[").is_err());
    }
}
