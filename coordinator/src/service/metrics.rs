//! What the coordinator shows on `/metrics`: runs finished, records
//! ingested and rejects by reason (counted as runs end), and gauges read at
//! scrape time: runs by status, queue depth, leader or standby.

use rapport_backend::metrics::Gauge;
use rapport_common::report::RunReport;
use tracing::warn;

use super::{Coordinator, RUNS_LISTED};
use crate::run_record::RunRecord;

impl Coordinator {
    /// `/metrics`: this coordinator's counters, and gauges read now (runs
    /// by status, queue depth, leader or standby).
    pub async fn metrics_text(&self) -> String {
        let mut gauges = vec![Gauge {
            name: "rapport_leader",
            labels: Vec::new(),
            value: f64::from(u8::from(self.role() == "leader")),
        }];
        match self.backends.queue.waiting().await {
            Ok(n) => gauges.push(Gauge {
                name: "rapport_queue_depth",
                labels: Vec::new(),
                value: f64::from(n),
            }),
            Err(e) => warn!(error = %e, "cannot read the queue depth for /metrics"),
        }
        if let Ok(runs) = self.list_up_to(RUNS_LISTED).await {
            let mut by_status: std::collections::BTreeMap<&str, u32> =
                ["queued", "running", "succeeded", "failed", "cancelled"]
                    .into_iter()
                    .map(|s| (s, 0))
                    .collect();
            for run in &runs {
                *by_status.entry(run.status.name()).or_default() += 1;
            }
            gauges.extend(by_status.into_iter().map(|(status, n)| Gauge {
                name: "rapport_runs",
                labels: vec![("status", status.to_owned())],
                value: f64::from(n),
            }));
        }
        self.metrics.render(&gauges)
    }

    /// Counts a run's end, and a succeeded run's records and rejects.
    pub(super) fn count_run_end(&self, record: &RunRecord, report: Option<&RunReport>) {
        self.metrics.add(
            "rapport_runs_finished_total",
            vec![("status", record.status.name().to_owned())],
            1.0,
        );
        if let Some(report) = report {
            self.metrics.add(
                "rapport_records_ingested_total",
                Vec::new(),
                report.records as f64,
            );
            for (reason, n) in &report.rejected_by_reason {
                self.metrics.add(
                    "rapport_rejects_total",
                    vec![("reason", reason.clone())],
                    *n as f64,
                );
            }
        }
    }
}
