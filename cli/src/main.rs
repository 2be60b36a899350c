//! The `rapport` binary: parses the command line, sets up logging, runs the
//! subcommand, and maps its outcome to the exit status of `spec/CLI.md`
//! (0 success, 1 failed run or unreachable service, 2 bad usage or input).

mod alloc;
mod args;
mod client;
mod cluster;
mod demo;
mod embedded;
mod exit;
mod progress;

use clap::Parser;

use crate::args::{Cli, Command};

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RAPPORT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

fn main() {
    let cli = Cli::parse();
    alloc::tune_for(cli.command.name());
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rapport: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run(a) => embedded::run_command(a).await,
            Command::Generate(a) => demo::generate_command(a),
            Command::Demo(a) => demo::demo_command(a).await,
            Command::Coordinator(a) => cluster::coordinator_command(a).await,
            Command::Worker(a) => cluster::worker_command(a).await,
            Command::Submit(a) => client::submit_command(a).await,
            Command::Status(a) => client::status_command(a).await,
            Command::Rerun(a) => client::rerun_command(a).await,
            Command::Cancel(a) => client::cancel_command(a).await,
            Command::Runs(a) => client::runs_command(a).await,
        }
    });
    if let Err(e) = result {
        eprintln!("rapport: {e}");
        std::process::exit(e.exit_code());
    }
}
