//! Schedules on the coordinator: operators add, list and remove them (any
//! coordinator serves that); the leader looks every second for firings
//! that came due, claims each in the registry and submits its run with
//! `as_of` = today in the tenant's zone (see [`crate::schedule`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::requests::Origin;
use super::{Coordinator, RequestError};
use crate::output_formats::OutputFormat;
use crate::planner::new_run_id;
use crate::schedule::{parse_cron, Schedule};
use crate::tenant_loader::LoadError;

/// How often the leader looks for due firings.
const TICK: Duration = Duration::from_secs(1);

/// `POST /schedules` body.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ScheduleRequest {
    /// Path of `tenant.toml`.
    pub config: String,
    /// Output folder.
    pub out: String,
    /// Cron expression, read in the tenant's time zone.
    pub cron: String,
    /// The first firing this many seconds after now, instead of the
    /// expression's first time.
    #[serde(default)]
    pub first_run_after_seconds: Option<u64>,
    /// Output formats of its runs besides the CSV.
    #[serde(default)]
    pub formats: Vec<OutputFormat>,
}

fn decode(text: &str) -> Option<Schedule> {
    serde_json::from_str(text)
        .inspect_err(|e| warn!(error = %e, "skipping an unreadable schedule"))
        .ok()
}

impl Coordinator {
    /// Checks the tenant, the output folder and the expression, and keeps
    /// the schedule.
    pub async fn add_schedule(&self, request: ScheduleRequest) -> Result<Schedule, RequestError> {
        parse_cron(&request.cron)?;
        let tenant = self.load(PathBuf::from(&request.config)).await?;
        let out = self
            .backends
            .data_roots
            .output_location(std::path::Path::new(&request.out))
            .map_err(LoadError::from)?;
        let id = format!("sch-{}", new_run_id());
        let mut schedule = Schedule::new(
            id,
            tenant.settings.id.clone(),
            tenant.config_path.display().to_string(),
            out.display().to_string(),
            request.cron,
            tenant.settings.tz(),
            request.first_run_after_seconds,
            Utc::now(),
        )?;
        schedule.formats = request.formats;
        self.save_schedule(&schedule).await?;
        info!(schedule = %schedule.id, next = %schedule.next_at(), "schedule added");
        Ok(schedule)
    }

    /// Every schedule, by id.
    pub async fn list_schedules(&self) -> Result<Vec<Schedule>, RequestError> {
        let texts = self.backends.registry.list_schedules().await?;
        let mut all: Vec<Schedule> = texts.iter().filter_map(|t| decode(t)).collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(all)
    }

    /// Removes a schedule; runs it fired are not touched.
    pub async fn remove_schedule(&self, id: &str) -> Result<(), RequestError> {
        if self.backends.registry.delete_schedule(id).await? {
            info!(schedule = id, "schedule removed");
            Ok(())
        } else {
            Err(RequestError::NoSchedule(id.to_owned()))
        }
    }

    async fn save_schedule(&self, schedule: &Schedule) -> Result<(), RequestError> {
        let json = serde_json::to_string(schedule).expect("a schedule always serialises");
        Ok(self
            .backends
            .registry
            .put_schedule(&schedule.id, json)
            .await?)
    }

    /// Fires due schedules while this coordinator leads, until `shutdown`.
    pub async fn schedule_loop(self: Arc<Self>, shutdown: CancellationToken) {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(TICK) => {}
            }
            if self.role() != "leader" {
                continue;
            }
            if let Err(e) = self.fire_due().await {
                warn!(error = %e, "cannot look at the schedules");
            }
        }
    }

    /// Makes every firing due now: once each, whoever else looks.
    pub async fn fire_due(&self) -> Result<(), RequestError> {
        let now = Utc::now();
        for mut schedule in self.list_schedules().await? {
            if !schedule.is_due(now) {
                continue;
            }
            let due = schedule.next_ms;
            if self
                .backends
                .registry
                .claim_firing(&schedule.id, due)
                .await?
            {
                self.fire(&mut schedule).await;
            }
            if let Err(e) = schedule.advance(now) {
                warn!(schedule = %schedule.id, error = %e, "the schedule does not fire again");
                schedule.next_ms = i64::MAX;
            }
            // Removed meanwhile: not put back.
            let still_there = self
                .backends
                .registry
                .list_schedules()
                .await?
                .iter()
                .filter_map(|t| decode(t))
                .any(|s| s.id == schedule.id);
            if still_there {
                self.save_schedule(&schedule).await?;
            }
        }
        Ok(())
    }

    /// Submits the schedule's run, as of today in the tenant's zone.
    async fn fire(&self, schedule: &mut Schedule) {
        let today = Utc::now().with_timezone(&schedule.tz()).date_naive();
        let origin = Origin {
            rerun_of: None,
            as_of: Some(today.format("%Y-%m-%d").to_string()),
            schedule: Some(schedule.id.clone()),
            formats: schedule.formats.clone(),
        };
        let (config, out) = (
            PathBuf::from(&schedule.config),
            PathBuf::from(&schedule.out),
        );
        match self.submit_from(config, out, origin).await {
            Ok(record) => {
                info!(schedule = %schedule.id, run_id = %record.run_id, "schedule fired");
                schedule.last_run = Some(record.run_id);
                schedule.last_error = None;
            }
            Err(e) => {
                warn!(schedule = %schedule.id, error = %e, "a schedule's run was refused");
                schedule.last_error = Some(e.to_string());
            }
        }
    }
}
