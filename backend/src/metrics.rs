//! A process's metrics in the Prometheus text format (version 0.0.4):
//! counters and histograms kept here, gauges read by the caller at scrape
//! time. Every metric is described once, in [`DESCRIPTIONS`]; labels never
//! hold an address, a path or a token, only phases, outcomes, reasons and
//! statuses.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Name, type and help of every metric this project exports.
pub const DESCRIPTIONS: &[(&str, &str, &str)] = &[
    (
        "rapport_jobs_total",
        "counter",
        "Jobs a worker finished handling, by phase and outcome (done, retried, failed, dropped).",
    ),
    (
        "rapport_job_duration_seconds",
        "histogram",
        "Time a worker spent on a job it completed, by phase.",
    ),
    (
        "rapport_records_ingested_total",
        "counter",
        "Activity records read by runs that succeeded.",
    ),
    (
        "rapport_rejects_total",
        "counter",
        "Records rejected by runs that succeeded, by reason.",
    ),
    (
        "rapport_runs_finished_total",
        "counter",
        "Runs this coordinator executed to an end, by status.",
    ),
    (
        "rapport_runs",
        "gauge",
        "Runs among the latest 200 run records, by status.",
    ),
    (
        "rapport_queue_depth",
        "gauge",
        "Jobs waiting in the namespace's queue.",
    ),
    (
        "rapport_leader",
        "gauge",
        "1 when this coordinator leads (executes runs), 0 when it stands by.",
    ),
];

/// Upper bounds of the job-duration buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0, 600.0,
];

/// Labels, as `(name, value)` pairs in a fixed order.
pub type Labels = Vec<(&'static str, String)>;

#[derive(Debug, Default, Clone)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Debug, Default)]
struct State {
    counters: BTreeMap<(&'static str, Labels), f64>,
    histograms: BTreeMap<(&'static str, Labels), Histogram>,
}

/// A process's counters and histograms.
#[derive(Debug, Default)]
pub struct Metrics {
    state: Mutex<State>,
}

/// A gauge read at scrape time.
#[derive(Debug, Clone)]
pub struct Gauge {
    /// Its name, one of [`DESCRIPTIONS`].
    pub name: &'static str,
    /// Its labels.
    pub labels: Labels,
    /// Its value.
    pub value: f64,
}

impl Metrics {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds `by` to the counter `name` with `labels`.
    pub fn add(&self, name: &'static str, labels: Labels, by: f64) {
        *self.state().counters.entry((name, labels)).or_default() += by;
    }

    /// Records `seconds` in the histogram `name` with `labels`.
    pub fn observe(&self, name: &'static str, labels: Labels, seconds: f64) {
        let mut state = self.state();
        let h = state.histograms.entry((name, labels)).or_default();
        for (bucket, bound) in h.buckets.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
        h.count += 1;
        h.sum += seconds;
    }

    /// The text exposition of every metric, with `gauges` read by the caller.
    pub fn render(&self, gauges: &[Gauge]) -> String {
        let state = self.state();
        let mut out = String::new();
        for (name, kind, help) in DESCRIPTIONS {
            let counters: Vec<_> = state
                .counters
                .iter()
                .filter(|((n, _), _)| n == name)
                .collect();
            let histograms: Vec<_> = state
                .histograms
                .iter()
                .filter(|((n, _), _)| n == name)
                .collect();
            let own_gauges: Vec<_> = gauges.iter().filter(|g| g.name == *name).collect();
            if counters.is_empty() && histograms.is_empty() && own_gauges.is_empty() {
                continue;
            }
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for ((_, labels), value) in counters {
                let _ = writeln!(out, "{name}{} {value}", label_text(labels, None));
            }
            for g in own_gauges {
                let _ = writeln!(out, "{name}{} {}", label_text(&g.labels, None), g.value);
            }
            for ((_, labels), h) in histograms {
                for (count, bound) in h.buckets.iter().zip(BUCKETS) {
                    let le = bound.to_string();
                    let _ = writeln!(
                        out,
                        "{name}_bucket{} {count}",
                        label_text(labels, Some(&le))
                    );
                }
                let all = label_text(labels, Some("+Inf"));
                let _ = writeln!(out, "{name}_bucket{all} {}", h.count);
                let _ = writeln!(out, "{name}_sum{} {}", label_text(labels, None), h.sum);
                let _ = writeln!(out, "{name}_count{} {}", label_text(labels, None), h.count);
            }
        }
        out
    }
}

/// `{a="x",b="y"}` (empty without labels), with `le` last when given.
fn label_text(labels: &Labels, le: Option<&str>) -> String {
    let mut parts: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    if let Some(le) = le {
        parts.push(format!("le=\"{le}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The content type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_histograms_and_gauges_render_as_prometheus_text() {
        let m = Metrics::default();
        let done = || {
            vec![
                ("phase", "ingest".to_owned()),
                ("outcome", "done".to_owned()),
            ]
        };
        m.add("rapport_jobs_total", done(), 1.0);
        m.add("rapport_jobs_total", done(), 1.0);
        m.observe(
            "rapport_job_duration_seconds",
            vec![("phase", "ingest".into())],
            0.3,
        );
        m.observe(
            "rapport_job_duration_seconds",
            vec![("phase", "ingest".into())],
            7.0,
        );
        let leader = Gauge {
            name: "rapport_leader",
            labels: Vec::new(),
            value: 1.0,
        };
        let text = m.render(&[leader]);
        let has = |line: &str| text.lines().any(|l| l == line);
        assert!(has("# TYPE rapport_jobs_total counter"), "{text}");
        assert!(
            has("rapport_jobs_total{phase=\"ingest\",outcome=\"done\"} 2"),
            "{text}"
        );
        assert!(has(
            "rapport_job_duration_seconds_bucket{phase=\"ingest\",le=\"0.25\"} 0"
        ));
        assert!(has(
            "rapport_job_duration_seconds_bucket{phase=\"ingest\",le=\"0.5\"} 1"
        ));
        assert!(has(
            "rapport_job_duration_seconds_bucket{phase=\"ingest\",le=\"+Inf\"} 2"
        ));
        assert!(has(
            "rapport_job_duration_seconds_sum{phase=\"ingest\"} 7.3"
        ));
        assert!(has(
            "rapport_job_duration_seconds_count{phase=\"ingest\"} 2"
        ));
        assert!(has("rapport_leader 1"), "{text}");
        assert!(
            !text.contains("rapport_queue_depth"),
            "nothing for an unset metric"
        );
        // Every sample line is `name{labels} number`.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, value) = line.rsplit_once(' ').expect("a value");
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(
            label_text(&vec![("reason", "a\"b\\c\nd".to_owned())], None),
            "{reason=\"a\\\"b\\\\c\\nd\"}"
        );
    }
}
