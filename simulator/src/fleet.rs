//! Fleets of subusers and customer accounts, named by pattern: `team-{0..9999}` is ten thousand
//! names, `acct-{000..099}` a hundred zero-padded ones, `eu-{0..9}-{a..c}` is not a range (only
//! numbers are) and stays a literal. Used by `simulate --subusers` and `POST /_sim/accounts`.

/// The most names one pattern may stand for: a typo such as `{0..99999999}` must fail, not
/// fill the machine's memory.
pub const MAX_NAMES: usize = 1_000_000;

/// One piece of a pattern.
#[derive(Debug, PartialEq)]
enum Part {
    Text(String),
    /// `{from..to}`, printed at least `width` digits wide (0: as is).
    Range {
        from: u64,
        to: u64,
        width: usize,
    },
}

/// Every name `pattern` stands for, in order: each `{a..b}` (whole numbers, a <= b) is
/// replaced by a, a+1, ..., b, zero-padded when either end is written with a leading zero (as
/// bash does); several ranges multiply. Braces that do not hold a range are kept as text.
pub fn expand(pattern: &str) -> Result<Vec<String>, String> {
    let parts = parse(pattern)?;
    let count = parts.iter().try_fold(1usize, |count, part| match part {
        Part::Text(_) => Some(count),
        Part::Range { from, to, .. } => {
            let len = usize::try_from(to - from).ok()?.checked_add(1)?;
            count.checked_mul(len).filter(|n| *n <= MAX_NAMES)
        }
    });
    if count.is_none() {
        return Err(format!(
            "{pattern:?} stands for more than {MAX_NAMES} names"
        ));
    }
    let mut names = vec![String::new()];
    for part in &parts {
        names = match part {
            Part::Text(text) => names.into_iter().map(|name| name + text).collect(),
            Part::Range { from, to, width } => names
                .iter()
                .flat_map(|name| (*from..=*to).map(move |n| format!("{name}{n:0width$}")))
                .collect(),
        };
    }
    if names.iter().any(String::is_empty) {
        return Err("a name pattern must not be empty".to_string());
    }
    Ok(names)
}

/// Splits a pattern into text and ranges.
fn parse(pattern: &str) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}').map(|i| open + i) else {
            break;
        };
        match range(&rest[open + 1..close]) {
            Some(Ok(range)) => {
                parts.push(Part::Text(rest[..open].to_string()));
                parts.push(range);
            }
            Some(Err(problem)) => return Err(format!("{pattern:?}: {problem}")),
            None => parts.push(Part::Text(rest[..=close].to_string())),
        }
        rest = &rest[close + 1..];
    }
    parts.push(Part::Text(rest.to_string()));
    Ok(parts)
}

/// `a..b` as a range; `None` when the text is not meant as one (no `..`).
fn range(inner: &str) -> Option<Result<Part, String>> {
    let (from_text, to_text) = inner.split_once("..")?;
    let number = |text: &str| {
        text.parse::<u64>()
            .ok()
            .filter(|_| text.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| format!("{{{inner}}}: {text:?} is not a whole number"))
    };
    Some((|| {
        let (from, to) = (number(from_text)?, number(to_text)?);
        if from > to {
            return Err(format!("{{{inner}}}: the range must count up"));
        }
        let padded = |text: &str| text.len() > 1 && text.starts_with('0');
        let width = if padded(from_text) || padded(to_text) {
            from_text.len().max(to_text.len())
        } else {
            0
        };
        Ok(Part::Range { from, to, width })
    })())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_expand_in_order() {
        assert_eq!(
            expand("team-{0..3}").unwrap(),
            ["team-0", "team-1", "team-2", "team-3"]
        );
        assert_eq!(expand("{8..10}x").unwrap(), ["8x", "9x", "10x"]);
        assert_eq!(expand("plain").unwrap(), ["plain"]);
        assert_eq!(expand("team-{0..9999}").unwrap().len(), 10_000);
    }

    #[test]
    fn leading_zeros_pad_like_bash() {
        assert_eq!(expand("a{08..10}").unwrap(), ["a08", "a09", "a10"]);
        assert_eq!(expand("{0..010}").unwrap()[..2], ["000", "001"]);
    }

    #[test]
    fn several_ranges_multiply() {
        assert_eq!(
            expand("r{1..2}-s{0..1}").unwrap(),
            ["r1-s0", "r1-s1", "r2-s0", "r2-s1"]
        );
    }

    #[test]
    fn braces_without_a_range_are_text() {
        assert_eq!(expand("a{b}c{").unwrap(), ["a{b}c{"]);
    }

    #[test]
    fn bad_ranges_and_huge_fleets_are_refused() {
        for (pattern, problem) in [
            ("x{5..1}", "must count up"),
            ("x{a..3}", "\"a\" is not a whole number"),
            ("x{-1..3}", "\"-1\" is not a whole number"),
            ("x{0..1000000}", "more than 1000000 names"),
            ("{0..999}{0..9999}", "more than 1000000 names"),
            ("", "must not be empty"),
        ] {
            let error = expand(pattern).unwrap_err();
            assert!(error.contains(problem), "{pattern}: {error}");
        }
    }
}
