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
mod segment;
mod settings;

use std::io::IsTerminal;

use clap::Parser;

use crate::args::{Cli, Command};
use crate::settings::Settings;

/// Logs on standard error, filtered by `RAPPORT_LOG` (default `warn`):
/// JSON lines with the span's run and job ids, or text, coloured only on
/// a terminal.
fn init_tracing(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RAPPORT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    if format == "json" {
        logs.json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init();
    } else {
        logs.with_ansi(std::io::stderr().is_terminal()).init();
    }
}

fn main() {
    let cli = Cli::parse();
    alloc::tune_for(cli.command.name());
    let settings = match Settings::layered(cli.settings.as_deref(), cli.given()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rapport: {e}");
            std::process::exit(2);
        }
    };
    init_tracing(&settings.log_format);
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
            Command::Coordinator(a) => cluster::coordinator_command(a, &settings).await,
            Command::Worker(a) => cluster::worker_command(a, &settings).await,
            Command::Submit(a) => client::submit_command(a, &settings).await,
            Command::Status(a) => client::status_command(a, &settings).await,
            Command::Rerun(a) => client::rerun_command(a, &settings).await,
            Command::Cancel(a) => client::cancel_command(a, &settings).await,
            Command::Runs(_) => client::runs_command(&settings).await,
            Command::Schedule(a) => client::schedule_command(a, &settings).await,
            Command::Segment(a) => segment::segment_command(a),
        }
    });
    if let Err(e) = result {
        eprintln!("rapport: {e}");
        std::process::exit(e.exit_code());
    }
}
