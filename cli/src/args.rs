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
    /// Activity format: jsonl (graph and mail are not written yet).
    #[arg(long, default_value = "jsonl")]
    pub format: String,
}

/// `rapport demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Output folder.
    #[arg(long, default_value = "rapport-demo")]
    pub out: PathBuf,
}
