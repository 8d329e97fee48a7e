//! The two text formats `/metrics` speaks: OpenMetrics 1.0 (what prometheus-client encodes) for
//! a scraper whose Accept header prefers it, else the classic Prometheus text format 0.0.4,
//! derived from the OpenMetrics text.
//!
//! The classic format differs in what these metrics use: a counter's HELP and TYPE name its
//! sample (`x_total`, not the family `x`), an info metric is a gauge named `x_info`, `unknown` is
//! `untyped`, and there is no `# UNIT`, no `_created` sample, no exemplar and no `# EOF`.

pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    OpenMetrics,
    PrometheusText,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => OPENMETRICS,
            Format::PrometheusText => PROMETHEUS_TEXT,
        }
    }

    /// The format an Accept header asks for: OpenMetrics when it weighs it at least as high as
    /// plain text (Prometheus sends both, with q values from its `scrape_protocols`), else the
    /// classic text (also with no header at all, as curl or an older scraper sends).
    pub fn negotiate(accept: Option<&str>) -> Format {
        let (mut openmetrics, mut text) = (0.0_f32, 0.0_f32);
        for range in accept.unwrap_or_default().split(',') {
            let mut params = range.split(';');
            let media = params
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            let q = params
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            match media.as_str() {
                "application/openmetrics-text" => openmetrics = openmetrics.max(q),
                "text/plain" | "text/*" | "*/*" => text = text.max(q),
                _ => {}
            }
        }
        if openmetrics > 0.0 && openmetrics >= text {
            Format::OpenMetrics
        } else {
            Format::PrometheusText
        }
    }
}

/// The classic Prometheus text of an OpenMetrics exposition.
pub fn prometheus_text(openmetrics: &str) -> String {
    let mut out = String::with_capacity(openmetrics.len());
    // HELP comes before TYPE; its name depends on the type.
    let mut help: Option<(&str, &str)> = None;
    let mut counters: Vec<String> = Vec::new();
    for line in openmetrics.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            flush_help(&mut out, help.take(), None);
            help = Some(rest.split_once(' ').unwrap_or((rest, "")));
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (family, kind) = rest.split_once(' ').unwrap_or((rest, "unknown"));
            let (name, kind) = match kind {
                "counter" => {
                    counters.push(family.to_string());
                    (format!("{family}_total"), "counter")
                }
                "info" => (format!("{family}_info"), "gauge"),
                "gauge" | "histogram" | "summary" => (family.to_string(), kind),
                _ => (family.to_string(), "untyped"),
            };
            flush_help(&mut out, help.take(), Some(&name));
            out.push_str(&format!("# TYPE {name} {kind}\n"));
            continue;
        }
        flush_help(&mut out, help.take(), None);
        if line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        }
        let sample = line.split(" # {").next().unwrap_or(line);
        let name = sample.split(['{', ' ']).next().unwrap_or_default();
        let created = name
            .strip_suffix("_created")
            .is_some_and(|family| counters.iter().any(|c| c == family));
        if !created {
            out.push_str(sample);
            out.push('\n');
        }
    }
    flush_help(&mut out, help, None);
    out
}

fn flush_help(out: &mut String, help: Option<(&str, &str)>, name: Option<&str>) {
    if let Some((family, text)) = help {
        out.push_str(&format!("# HELP {} {text}\n", name.unwrap_or(family)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_asks_for_openmetrics_and_everyone_else_gets_text() {
        let prometheus = "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
        assert_eq!(Format::negotiate(Some(prometheus)), Format::OpenMetrics);
        let text_first =
            "text/plain;version=0.0.4;q=0.9,application/openmetrics-text;version=1.0.0;q=0.5";
        assert_eq!(Format::negotiate(Some(text_first)), Format::PrometheusText);
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text")),
            Format::OpenMetrics
        );
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text;q=0")),
            Format::PrometheusText
        );
        assert_eq!(Format::negotiate(Some("*/*")), Format::PrometheusText);
        assert_eq!(Format::negotiate(None), Format::PrometheusText);
    }

    #[test]
    fn classic_text_names_counters_by_sample_and_drops_openmetrics_parts() {
        let openmetrics = "\
# HELP x_reconciles Reconciles by result.
# TYPE x_reconciles counter
x_reconciles_total{result=\"success\"} 2 # {trace=\"a\"} 1.0
x_reconciles_created{result=\"success\"} 1.7e9
# HELP x_build The version.
# TYPE x_build info
x_build_info{version=\"1\"} 1
# HELP x_wait_seconds Waits.
# TYPE x_wait_seconds histogram
# UNIT x_wait_seconds seconds
x_wait_seconds_bucket{le=\"+Inf\"} 1
x_wait_seconds_sum 0.5
x_wait_seconds_count 1
# HELP x_odd Odd.
# TYPE x_odd unknown
x_odd 1
# EOF
";
        assert_eq!(
            prometheus_text(openmetrics),
            "\
# HELP x_reconciles_total Reconciles by result.
# TYPE x_reconciles_total counter
x_reconciles_total{result=\"success\"} 2
# HELP x_build_info The version.
# TYPE x_build_info gauge
x_build_info{version=\"1\"} 1
# HELP x_wait_seconds Waits.
# TYPE x_wait_seconds histogram
x_wait_seconds_bucket{le=\"+Inf\"} 1
x_wait_seconds_sum 0.5
x_wait_seconds_count 1
# HELP x_odd Odd.
# TYPE x_odd untyped
x_odd 1
"
        );
    }
}
