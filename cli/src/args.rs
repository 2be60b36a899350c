//! Command-line arguments (CLI.md), one struct per subcommand.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Account engagement from email and meeting metadata.
#[derive(Debug, Parser)]
#[command(name = "rapport", version, about)]
pub struct Cli {
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
}

/// Where the cluster's servers are (flags, then environment, then defaults).
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// RabbitMQ URL.
    #[arg(
        long,
        env = "RAPPORT_AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    pub amqp_url: String,
    /// Redis URL.
    #[arg(
        long,
        env = "RAPPORT_REDIS_URL",
        default_value = "redis://127.0.0.1:6379/"
    )]
    pub redis_url: String,
    /// Prefix of every queue, exchange and Redis key.
    #[arg(long, env = "RAPPORT_NAMESPACE", default_value = "rapport")]
    pub namespace: String,
    /// Staging area shared by the coordinator and every worker (a folder).
    #[arg(long, env = "RAPPORT_STAGING", default_value = "rapport-staging")]
    pub staging: String,
}

/// `rapport coordinator`.
#[derive(Debug, Args)]
pub struct CoordinatorArgs {
    /// Servers.
    #[command(flatten)]
    pub servers: ServerArgs,
    /// Address of the HTTP API.
    #[arg(long, env = "RAPPORT_LISTEN", default_value = "127.0.0.1:7070")]
    pub listen: String,
    /// A run with no job completing for this many seconds fails.
    #[arg(long, env = "RAPPORT_STALL_SECONDS", default_value_t = 900)]
    pub stall_seconds: u64,
    /// Pause before the outputs are committed, in milliseconds (failure
    /// drills only: aims a fault at the write phase).
    #[arg(long, env = "RAPPORT_WRITE_DELAY_MS", default_value_t = 0, hide = true)]
    pub write_delay_ms: u64,
    /// Records of ended runs are kept this many days.
    #[arg(long, env = "RAPPORT_RETENTION_DAYS", default_value_t = 30)]
    pub retention_days: u64,
    /// At most this many ended runs' records are kept.
    #[arg(long, env = "RAPPORT_RETENTION_RUNS", default_value_t = 1000)]
    pub retention_runs: usize,
}

/// `rapport worker`.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Servers.
    #[command(flatten)]
    pub servers: ServerArgs,
    /// Jobs run at once.
    #[arg(long, env = "RAPPORT_CONCURRENCY", default_value_t = 1)]
    pub concurrency: usize,
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

/// Where the coordinator's API is.
#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// The coordinator's URL.
    #[arg(
        long,
        env = "RAPPORT_COORDINATOR",
        default_value = "http://127.0.0.1:7070"
    )]
    pub coordinator: String,
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
