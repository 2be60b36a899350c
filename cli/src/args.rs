//! Command-line arguments (CLI.md), one struct per subcommand.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::settings::Given;

/// Account engagement from email and meeting metadata.
#[derive(Debug, Parser)]
#[command(name = "rapport", version, about)]
pub struct Cli {
    /// Settings file (rapport.toml); variables and flags override it.
    #[arg(long, global = true, env = "RAPPORT_SETTINGS", value_name = "FILE")]
    pub settings: Option<PathBuf>,
    /// Log format on standard error: text or json [default: text].
    #[arg(long, global = true, env = "RAPPORT_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The whole enrichment in one process (in-process queue and store).
    Run(RunArgs),
    /// Write a synthetic tenant.
    Generate(GenerateArgs),
    /// Generate a demo tenant, run it embedded and print the most and least engaged accounts.
    Demo(DemoArgs),
    /// Long-running coordinator: plans runs, publishes jobs, tracks progress, serves the HTTP API.
    Coordinator(CoordinatorArgs),
    /// Long-running, stateless worker.
    Worker(WorkerArgs),
    /// Submit a run to the coordinator; prints its id.
    Submit(SubmitArgs),
    /// Phase, jobs done/total, failures and timings of a run.
    Status(RunIdArgs),
    /// A new run with the same inputs and settings.
    Rerun(RerunArgs),
    /// Cancel a run.
    Cancel(RunIdArgs),
    /// Recent runs, newest first.
    Runs(ClientArgs),
    /// Scheduled refreshes of a tenant: add, list, remove.
    Schedule(ScheduleArgs),
    /// The AccountIds of the rows of a results folder matching an expression.
    Segment(SegmentArgs),
}

/// `rapport segment`.
#[derive(Debug, Args)]
pub struct SegmentArgs {
    /// A results folder (holding account_engagement.csv).
    #[arg(long)]
    pub results: PathBuf,
    /// The aggregation level.
    #[arg(long, default_value = "Year", value_parser = ["Year", "Month", "Week"])]
    pub level: String,
    /// The period: its AggregationStartDate (default: the latest of the level).
    #[arg(long, value_name = "DATE")]
    pub period: Option<String>,
    /// The expression, as "DaysSinceLastEmail > 60 AND DaysSinceLastMeeting > 60".
    pub expr: String,
}

/// `rapport schedule`.
#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: ScheduleAction,
    /// The coordinator.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `rapport schedule add|list|remove`.
#[derive(Debug, Subcommand)]
pub enum ScheduleAction {
    /// Refresh a tenant on a cron expression (read in the tenant's time
    /// zone); prints the schedule's id.
    Add {
        /// The tenant configuration (readable by the coordinator and workers).
        #[arg(long)]
        config: PathBuf,
        /// Output folder (writable by the coordinator).
        #[arg(long)]
        out: PathBuf,
        /// Five fields (minute hour day month weekday), as in "0 3 * * MON",
        /// or six with seconds first.
        #[arg(long)]
        cron: String,
        /// The first run this long after now (as 6h, 30m, 2d), then on the
        /// expression.
        #[arg(long, value_name = "DURATION")]
        first_run_after: Option<String>,
        /// Output formats besides the CSV, as csv,parquet,jsonl.
        #[arg(long, default_value = "csv")]
        formats: String,
    },
    /// Every schedule, with its next firing and last run.
    List,
    /// Remove a schedule (its runs stay).
    Remove {
        /// The schedule's id.
        id: String,
    },
}

/// Where the cluster's servers are. Every setting of this and the structs
/// below is optional here: unset, it comes from the settings file, else its
/// default (`crate::settings`).
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// RabbitMQ URL [default: amqp://guest:guest@127.0.0.1:5672/%2f].
    #[arg(long, env = "RAPPORT_AMQP_URL")]
    pub amqp_url: Option<String>,
    /// A file holding RabbitMQ's password, put into the URL.
    #[arg(long, env = "RAPPORT_AMQP_PASSWORD_FILE", value_name = "FILE")]
    pub amqp_password_file: Option<PathBuf>,
    /// Redis URL [default: redis://127.0.0.1:6379/].
    #[arg(long, env = "RAPPORT_REDIS_URL")]
    pub redis_url: Option<String>,
    /// A file holding Redis's password, put into the URL.
    #[arg(long, env = "RAPPORT_REDIS_PASSWORD_FILE", value_name = "FILE")]
    pub redis_password_file: Option<PathBuf>,
    /// CA certificates (PEM) trusted on amqps:// and rediss:// (default:
    /// the system's roots).
    #[arg(long, env = "RAPPORT_TLS_CA_FILE", value_name = "FILE")]
    pub tls_ca_file: Option<PathBuf>,
    /// A client certificate (PEM) for servers that ask for one.
    #[arg(long, env = "RAPPORT_TLS_CERT_FILE", value_name = "FILE")]
    pub tls_cert_file: Option<PathBuf>,
    /// The client certificate's key (PEM, PKCS#8).
    #[arg(long, env = "RAPPORT_TLS_KEY_FILE", value_name = "FILE")]
    pub tls_key_file: Option<PathBuf>,
    /// Prefix of every queue, exchange and Redis key [default: rapport].
    #[arg(long, env = "RAPPORT_NAMESPACE")]
    pub namespace: Option<String>,
    /// Staging area shared by the coordinator and every worker: a folder,
    /// or an object-storage URL (`s3://BUCKET/KEY`, `az://CONTAINER/KEY`)
    /// [default: rapport-staging].
    #[arg(long, env = "RAPPORT_STAGING")]
    pub staging: Option<String>,
    /// Configs and inputs are read only below these folders or
    /// object-storage URLs (repeat, or `:`-separated, a URL's `://` kept);
    /// required off loopback.
    #[arg(long = "input-root", env = "RAPPORT_INPUT_ROOTS", value_name = "DIR")]
    pub input_roots: Vec<PathBuf>,
    /// Outputs are written only below this folder or object-storage URL;
    /// required off loopback.
    #[arg(long, env = "RAPPORT_OUTPUT_ROOT", value_name = "DIR")]
    pub output_root: Option<PathBuf>,
}

/// `rapport coordinator`.
#[derive(Debug, Args)]
pub struct CoordinatorArgs {
    /// Servers and data roots.
    #[command(flatten)]
    pub servers: ServerArgs,
    /// Address of the HTTP API [default: 127.0.0.1:7070].
    #[arg(long, env = "RAPPORT_LISTEN")]
    pub listen: Option<String>,
    /// Tokens file: `ROLE TOKEN` lines, ROLE viewer or operator. Without
    /// it the coordinator serves only on a loopback address.
    #[arg(long, env = "RAPPORT_TOKENS_FILE", value_name = "FILE")]
    pub tokens_file: Option<PathBuf>,
    /// A run with no job completing for this many seconds fails [default: 900].
    #[arg(long, env = "RAPPORT_STALL_SECONDS")]
    pub stall_seconds: Option<u64>,
    /// Pause before the outputs are committed, in milliseconds (failure
    /// drills only: aims a fault at the write phase).
    #[arg(long, env = "RAPPORT_WRITE_DELAY_MS", default_value_t = 0, hide = true)]
    pub write_delay_ms: u64,
    /// Records of ended runs are kept this many days [default: 30].
    #[arg(long, env = "RAPPORT_RETENTION_DAYS")]
    pub retention_days: Option<u64>,
    /// At most this many ended runs' records are kept [default: 1000].
    #[arg(long, env = "RAPPORT_RETENTION_RUNS")]
    pub retention_runs: Option<usize>,
    /// Succeeded runs' outputs are kept here, per tenant and run [default:
    /// OUTPUT_ROOT/rapport-history].
    #[arg(long, env = "RAPPORT_HISTORY_ROOT", value_name = "DIR")]
    pub history_root: Option<PathBuf>,
    /// Runs kept per tenant in the history [default: 12].
    #[arg(long, env = "RAPPORT_HISTORY_KEEP")]
    pub history_keep: Option<usize>,
    /// The largest tenant.toml or table read, in bytes [default: 268435456].
    #[arg(long, env = "RAPPORT_MAX_CONFIG_BYTES")]
    pub max_config_bytes: Option<u64>,
    /// The most files one activity glob may match [default: 100000].
    #[arg(long, env = "RAPPORT_MAX_GLOB_MATCHES")]
    pub max_glob_matches: Option<usize>,
    /// How long loading a tenant may take, in seconds [default: 10].
    #[arg(long, env = "RAPPORT_READ_TIMEOUT_SECONDS")]
    pub read_timeout_seconds: Option<u64>,
    /// Runs executed at once, at most [default: 4].
    #[arg(long, env = "RAPPORT_CONCURRENT_RUNS")]
    pub concurrent_runs: Option<usize>,
    /// Jobs of one run in the queue or in workers' hands, at most
    /// [default: 8].
    #[arg(long, env = "RAPPORT_JOBS_IN_FLIGHT")]
    pub jobs_in_flight: Option<usize>,
}

/// `rapport worker`.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Servers and data roots.
    #[command(flatten)]
    pub servers: ServerArgs,
    /// Jobs run at once [default: 1].
    #[arg(long, env = "RAPPORT_CONCURRENCY")]
    pub concurrency: Option<usize>,
    /// Address of the worker's `/metrics` listener (none by default).
    #[arg(long, env = "RAPPORT_METRICS_LISTEN")]
    pub metrics_listen: Option<String>,
    /// Pause in each job, in milliseconds (failure drills only).
    #[arg(long, env = "RAPPORT_JOB_DELAY_MS", default_value_t = 0, hide = true)]
    pub job_delay_ms: u64,
    /// Where the pause goes: `before` a job, or `after-store` (between
    /// storing its effects and acking it; failure drills only).
    #[arg(
        long,
        env = "RAPPORT_JOB_DELAY_AT",
        default_value = "before",
        hide = true
    )]
    pub job_delay_at: String,
}

/// Where the coordinator's API is, and the token to show it.
#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// The coordinator's URL [default: http://127.0.0.1:7070].
    #[arg(long, env = "RAPPORT_COORDINATOR")]
    pub coordinator: Option<String>,
    /// A file holding the bearer token (else the variable RAPPORT_TOKEN).
    #[arg(long, env = "RAPPORT_TOKEN_FILE", value_name = "FILE")]
    pub token_file: Option<PathBuf>,
}

/// `rapport submit`.
#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// The tenant configuration (readable by the coordinator and workers).
    #[arg(long)]
    pub config: PathBuf,
    /// Output folder (writable by the coordinator).
    #[arg(long)]
    pub out: PathBuf,
    /// Wait for the run, showing progress; exit 0 once outputs are written.
    #[arg(long)]
    pub wait: bool,
    /// Output formats besides the CSV, as csv,parquet,jsonl.
    #[arg(long, default_value = "csv")]
    pub formats: String,
    /// The coordinator.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// A command about one run.
#[derive(Debug, Args)]
pub struct RunIdArgs {
    /// The run id.
    pub run_id: String,
    /// The coordinator.
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `rapport rerun`.
#[derive(Debug, Args)]
pub struct RerunArgs {
    /// The run to repeat.
    pub run_id: String,
    /// Wait for the new run, showing progress.
    #[arg(long)]
    pub wait: bool,
    /// The coordinator.
    #[command(flatten)]
    pub client: ClientArgs,
}

impl Command {
    /// The subcommand's name, as typed.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Run(_) => "run",
            Command::Generate(_) => "generate",
            Command::Demo(_) => "demo",
            Command::Coordinator(_) => "coordinator",
            Command::Worker(_) => "worker",
            Command::Submit(_) => "submit",
            Command::Status(_) => "status",
            Command::Rerun(_) => "rerun",
            Command::Cancel(_) => "cancel",
            Command::Runs(_) => "runs",
            Command::Schedule(_) => "schedule",
            Command::Segment(_) => "segment",
        }
    }
}

/// `rapport run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The tenant configuration.
    #[arg(long)]
    pub config: PathBuf,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Worker tasks (default: the number of cores).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Bytes per ingest shard (how the work is cut; the output is the same).
    #[arg(long, hide = true)]
    pub shard_bytes: Option<u64>,
    /// Key partitions (how the work is cut; the output is the same).
    #[arg(long, hide = true)]
    pub key_partitions: Option<u32>,
    /// Account partitions (how the work is cut; the output is the same).
    #[arg(long, hide = true)]
    pub account_partitions: Option<u32>,
    /// Staged bytes an ingest job holds before it stages them (how the
    /// work is cut; the output is the same).
    #[arg(long, hide = true)]
    pub staged_batch_bytes: Option<u64>,
    /// Output formats besides the CSV, as csv,parquet,jsonl.
    #[arg(long, default_value = "csv")]
    pub formats: String,
    /// Keep the run's outputs in this run history (a folder per tenant and
    /// run), to compare runs on the account pages.
    #[arg(long, value_name = "DIR")]
    pub history: Option<PathBuf>,
    /// Runs kept per tenant in that history.
    #[arg(long, default_value_t = 12)]
    pub history_keep: usize,
}

/// `rapport generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Random seed: same seed, same bytes.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Org users (mailboxes).
    #[arg(long, default_value_t = 50)]
    pub users: u32,
    /// Accounts.
    #[arg(long, default_value_t = 200)]
    pub accounts: u32,
    /// Distinct emails (before copies per mailbox).
    #[arg(long, default_value_t = 20_000)]
    pub emails: u64,
    /// Distinct meeting occurrences.
    #[arg(long, default_value_t = 3_000)]
    pub meetings: u64,
    /// Activity format: jsonl, graph (Graph resources) or mail (mbox, .eml
    /// and .ics); the three give the same results.
    #[arg(long, default_value = "jsonl", value_parser = ["jsonl", "graph", "mail"])]
    pub format: String,
    /// Write this existing jsonl tenant in --format instead of a synthetic one
    /// (--seed and the counts are then unused).
    #[arg(long, value_name = "TENANT.toml")]
    pub from: Option<PathBuf>,
}

/// `rapport demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Output folder.
    #[arg(long, default_value = "rapport-demo")]
    pub out: PathBuf,
}

impl Cli {
    /// The settings given by a flag or its variable: the settings' top layer.
    pub fn given(&self) -> Given {
        let mut g = Given::default();
        g.put("log_format", self.log_format.clone());
        match &self.command {
            Command::Coordinator(a) => {
                a.servers.add_to(&mut g);
                g.put("listen", a.listen.clone());
                g.put("tokens_file", path(&a.tokens_file));
                g.put("stall_seconds", a.stall_seconds);
                g.put("retention_days", a.retention_days);
                g.put("retention_runs", a.retention_runs.map(|n| n as u64));
                g.put("history_root", path(&a.history_root));
                g.put("history_keep", a.history_keep.map(|n| n as u64));
                g.put("max_config_bytes", a.max_config_bytes);
                g.put("max_glob_matches", a.max_glob_matches.map(|n| n as u64));
                g.put("read_timeout_seconds", a.read_timeout_seconds);
                g.put("concurrent_runs", a.concurrent_runs.map(|n| n as u64));
                g.put("jobs_in_flight", a.jobs_in_flight.map(|n| n as u64));
            }
            Command::Worker(a) => {
                a.servers.add_to(&mut g);
                g.put("concurrency", a.concurrency.map(|n| n as u64));
                g.put("metrics_listen", a.metrics_listen.clone());
            }
            Command::Submit(SubmitArgs { client, .. })
            | Command::Status(RunIdArgs { client, .. })
            | Command::Cancel(RunIdArgs { client, .. })
            | Command::Rerun(RerunArgs { client, .. })
            | Command::Runs(client)
            | Command::Schedule(ScheduleArgs { client, .. }) => client.add_to(&mut g),
            Command::Run(_) | Command::Generate(_) | Command::Demo(_) | Command::Segment(_) => {}
        }
        g
    }
}

fn path(p: &Option<PathBuf>) -> Option<String> {
    p.as_ref().map(|p| p.display().to_string())
}

/// Roots given `:`-separated, split, except at the `:` of a URL's
/// `scheme://`.
fn split_roots(values: &[PathBuf]) -> Vec<PathBuf> {
    let mut roots = Vec::new();
    for value in values {
        let text = value.to_string_lossy();
        let mut current = String::new();
        for part in text.split(':') {
            if part.starts_with("//") && !current.is_empty() && !current.contains('/') {
                current.push(':');
                current.push_str(part);
                continue;
            }
            if !current.is_empty() {
                roots.push(PathBuf::from(std::mem::take(&mut current)));
            }
            current = part.to_owned();
        }
        if !current.is_empty() {
            roots.push(PathBuf::from(current));
        }
    }
    roots
}

impl ServerArgs {
    fn add_to(&self, g: &mut Given) {
        g.put("amqp_url", self.amqp_url.clone());
        g.put("amqp_password_file", path(&self.amqp_password_file));
        g.put("redis_url", self.redis_url.clone());
        g.put("redis_password_file", path(&self.redis_password_file));
        g.put("tls_ca_file", path(&self.tls_ca_file));
        g.put("tls_cert_file", path(&self.tls_cert_file));
        g.put("tls_key_file", path(&self.tls_key_file));
        g.put("namespace", self.namespace.clone());
        g.put("staging", self.staging.clone());
        g.put_paths("input_roots", &split_roots(&self.input_roots));
        g.put("output_root", path(&self.output_root));
    }
}

impl ClientArgs {
    fn add_to(&self, g: &mut Given) {
        g.put("coordinator", self.coordinator.clone());
        g.put("token_file", path(&self.token_file));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_split_at_colons_but_not_in_a_url() {
        let given = [
            PathBuf::from("/data/a:s3://bucket/tenants:/data/b"),
            PathBuf::from("az://c/x"),
        ];
        let split: Vec<String> = split_roots(&given)
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        assert_eq!(
            split,
            ["/data/a", "s3://bucket/tenants", "/data/b", "az://c/x"]
        );
    }
}
