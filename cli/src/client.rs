//! The operator commands: `submit`, `status`, `rerun`, `cancel`, `runs`,
//! talking to the coordinator's HTTP API. `submit` and `rerun` print the new
//! run's id alone on standard output; progress and messages go to standard
//! error. Each request carries the bearer token of `--token-file`, else of
//! the variable `RAPPORT_TOKEN`.

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::{anyhow, Context};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rapport_coordinator::http::{ErrorBody, SubmitRequest};
use rapport_coordinator::output_formats::{parse_formats, OutputFormat};
use rapport_coordinator::run_record::{RunRecord, RunStatus};
use rapport_coordinator::schedule::{parse_duration, Schedule};
use rapport_coordinator::service::scheduler::ScheduleRequest;
use reqwest::StatusCode;

use crate::args::{RerunArgs, RunIdArgs, ScheduleAction, ScheduleArgs, SubmitArgs};
use crate::exit::CliError;
use crate::settings::Settings;

/// How often `--wait` asks for progress.
const WAIT_POLL: Duration = Duration::from_millis(250);

struct Api {
    base: String,
    http: reqwest::Client,
    token: Option<String>,
}

impl Api {
    fn new(settings: &Settings) -> Result<Api, CliError> {
        let token = match &settings.token_file {
            Some(file) => Some(
                std::fs::read_to_string(file)
                    .map_err(|e| CliError::Usage(format!("{}: {e}", file.display())))?
                    .trim()
                    .to_owned(),
            ),
            None => std::env::var("RAPPORT_TOKEN").ok(),
        };
        Ok(Api {
            base: settings.coordinator.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
            token: token.filter(|t| !t.is_empty()),
        })
    }

    async fn call(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, CliError> {
        let request = match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        let response = request.send().await.map_err(|e| {
            CliError::Failed(anyhow!(
                "cannot reach the coordinator at {}: {e}",
                self.base
            ))
        })?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let message = response
            .json::<ErrorBody>()
            .await
            .map(|b| b.error)
            .unwrap_or_else(|_| status.to_string());
        Err(match status {
            StatusCode::BAD_REQUEST
            | StatusCode::UNAUTHORIZED
            | StatusCode::FORBIDDEN
            | StatusCode::NOT_FOUND
            | StatusCode::CONFLICT => CliError::Usage(message),
            _ => CliError::Failed(anyhow!(message)),
        })
    }

    async fn record(&self, response: reqwest::Response) -> Result<RunRecord, CliError> {
        Ok(response
            .json()
            .await
            .context("unreadable answer from the coordinator")?)
    }

    async fn get(&self, run: &str) -> Result<RunRecord, CliError> {
        let r = self
            .call(self.http.get(format!("{}/runs/{run}", self.base)))
            .await?;
        self.record(r).await
    }
}

/// `path` made absolute, as the coordinator resolves it; an
/// object-storage URL as given.
fn absolute(path: &std::path::Path) -> Result<String, CliError> {
    let shown = path.display().to_string();
    if rapport_backend::object_url::is_object_url(&shown) {
        return Ok(shown);
    }
    std::path::absolute(path)
        .map(|p| p.display().to_string())
        .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))
}

/// `--formats`, checked here so a typo exits 2 before anything is sent.
fn formats_arg(text: &str) -> Result<Vec<OutputFormat>, CliError> {
    parse_formats(text).map_err(|e| CliError::Usage(format!("--formats: {e}")))
}

/// `rapport submit`.
pub async fn submit_command(args: SubmitArgs, settings: &Settings) -> Result<(), CliError> {
    let api = Api::new(settings)?;
    let body = SubmitRequest {
        config: absolute(&args.config)?,
        out: absolute(&args.out)?,
        formats: formats_arg(&args.formats)?,
    };
    let request = api.http.post(format!("{}/runs", api.base)).json(&body);
    start_run(&api, request, args.wait).await
}

/// `rapport rerun`.
pub async fn rerun_command(args: RerunArgs, settings: &Settings) -> Result<(), CliError> {
    let api = Api::new(settings)?;
    let request = api
        .http
        .post(format!("{}/runs/{}/rerun", api.base, args.run_id));
    start_run(&api, request, args.wait).await
}

/// Sends a request that creates a run, prints the run's id alone on
/// standard output, and waits for it when asked.
async fn start_run(
    api: &Api,
    request: reqwest::RequestBuilder,
    wait_for_it: bool,
) -> Result<(), CliError> {
    let record = api.record(api.call(request).await?).await?;
    println!("{}", record.run_id);
    if wait_for_it {
        wait(api, &record.run_id).await?;
    }
    Ok(())
}

/// `rapport status`.
pub async fn status_command(args: RunIdArgs, settings: &Settings) -> Result<(), CliError> {
    let record = Api::new(settings)?.get(&args.run_id).await?;
    println!(
        "{}",
        serde_json::to_string_pretty(&record).context("record")?
    );
    Ok(())
}

/// `rapport cancel`.
pub async fn cancel_command(args: RunIdArgs, settings: &Settings) -> Result<(), CliError> {
    let api = Api::new(settings)?;
    api.call(
        api.http
            .post(format!("{}/runs/{}/cancel", api.base, args.run_id)),
    )
    .await?;
    eprintln!("rapport: run {} cancelled", args.run_id);
    Ok(())
}

/// `rapport runs`.
pub async fn runs_command(settings: &Settings) -> Result<(), CliError> {
    let api = Api::new(settings)?;
    let r = api.call(api.http.get(format!("{}/runs", api.base))).await?;
    let runs: Vec<RunRecord> = r
        .json()
        .await
        .context("unreadable answer from the coordinator")?;
    println!(
        "{:<24} {:<10} {:<10} {:>11} {:<25} TENANT",
        "RUN", "STATUS", "PHASE", "JOBS", "CREATED"
    );
    for run in runs {
        println!(
            "{:<24} {:<10} {:<10} {:>11} {:<25} {}",
            run.run_id,
            format!("{:?}", run.status).to_lowercase(),
            run.phase.unwrap_or_default(),
            format!("{}/{}", run.jobs_done, run.jobs_total),
            run.created_at.get(..19).unwrap_or(&run.created_at),
            run.tenant_id
        );
    }
    Ok(())
}

/// `rapport schedule add|list|remove`.
pub async fn schedule_command(args: ScheduleArgs, settings: &Settings) -> Result<(), CliError> {
    let api = Api::new(settings)?;
    let url = format!("{}/schedules", api.base);
    match args.action {
        ScheduleAction::Add {
            config,
            out,
            cron,
            first_run_after,
            formats,
        } => {
            let first_run_after_seconds =
                first_run_after
                    .map(|d| parse_duration(&d))
                    .transpose()
                    .map_err(|e| CliError::Usage(format!("--first-run-after: {e}")))?;
            let body = ScheduleRequest {
                config: absolute(&config)?,
                out: absolute(&out)?,
                cron,
                first_run_after_seconds,
                formats: formats_arg(&formats)?,
            };
            let r = api.call(api.http.post(url).json(&body)).await?;
            let schedule: Schedule = r.json().await.context("unreadable answer")?;
            println!("{}", schedule.id);
            eprintln!("rapport: first run at {}", schedule.next_at());
        }
        ScheduleAction::List => {
            let r = api.call(api.http.get(url)).await?;
            let all: Vec<Schedule> = r.json().await.context("unreadable answer")?;
            println!(
                "{:<32} {:<20} {:<26} {:<24} TENANT",
                "SCHEDULE", "CRON", "NEXT", "LAST RUN"
            );
            for s in all {
                println!(
                    "{:<32} {:<20} {:<26} {:<24} {}",
                    s.id,
                    s.cron,
                    s.next_at(),
                    s.last_run.as_deref().unwrap_or("-"),
                    s.tenant_id
                );
            }
        }
        ScheduleAction::Remove { id } => {
            api.call(api.http.delete(format!("{url}/{id}"))).await?;
            eprintln!("rapport: schedule {id} removed");
        }
    }
    Ok(())
}

/// Shows progress until the run ends; an unsuccessful end is an error.
async fn wait(api: &Api, run: &str) -> Result<(), CliError> {
    let target = if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(0), target);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix:>9} [{bar:30}] {pos}/{len} jobs  {per_sec}  {elapsed}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let mut phase = String::new();
    loop {
        let record = api.get(run).await?;
        let current = record.phase.clone().unwrap_or_else(|| "queued".to_owned());
        if current != phase {
            phase = current;
            bar.set_prefix(phase.clone());
            bar.reset();
        }
        bar.set_length(record.jobs_total);
        bar.set_position(record.jobs_done);
        match record.status {
            RunStatus::Succeeded => {
                bar.finish_and_clear();
                eprintln!(
                    "rapport: run {run} succeeded: {} rows -> {}",
                    record.rows.unwrap_or(0),
                    record.out
                );
                return Ok(());
            }
            RunStatus::Failed | RunStatus::Cancelled => {
                bar.finish_and_clear();
                let why = record.error.unwrap_or_else(|| "cancelled".to_owned());
                return Err(CliError::Failed(anyhow!(
                    "run {run} {:?}: {why}",
                    record.status
                )));
            }
            RunStatus::Queued | RunStatus::Running => tokio::time::sleep(WAIT_POLL).await,
        }
    }
}
