//! The global allocator, and its tuning per role. Jobs allocate many small
//! vectors (people lists, staged records); mimalloc halves the time glibc's
//! malloc spends on them (BENCHMARKS.md). How it returns freed memory to the
//! system is set per role, through its environment variables, which it reads
//! when the process starts: so `main` re-executes itself once with them set.
//! - `run`, `demo`: never return it: a run reuses its memory instead of having
//!   the kernel zero fresh pages (about 10 % of a run's time otherwise).
//! - `worker`: return it at once: a long-running worker's resident memory then
//!   follows the job in hand (issue 3's memory goal), not its largest job.
//! - `run`, `demo`, `worker`, `coordinator`: no transparent huge pages.
//!   mimalloc asks for them by default; a 2 MiB page then stays resident
//!   while any of it is used, so memory returned at once is not returned at
//!   all: a worker's peak was about twice its live memory (docs/scaling.md).
//!   A run with them spent twice the system time zeroing them and was a few
//!   per cent slower (BENCHMARKS.md, three alternated sample sets).

use std::os::unix::process::CommandExt;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Set in the re-executed process, so it does not re-execute again.
const TUNED: &str = "RAPPORT_ALLOCATOR_TUNED";

/// The mimalloc options for a subcommand, if it wants any.
fn options_for(subcommand: &str) -> &'static [(&'static str, &'static str)] {
    match subcommand {
        "run" | "demo" => &[("MIMALLOC_PURGE_DELAY", "-1"), ("MIMALLOC_ALLOW_THP", "0")],
        "worker" => &[
            ("MIMALLOC_PURGE_DECOMMITS", "1"),
            ("MIMALLOC_PURGE_DELAY", "0"),
            ("MIMALLOC_ALLOW_THP", "0"),
        ],
        "coordinator" => &[("MIMALLOC_ALLOW_THP", "0")],
        _ => &[],
    }
}

/// Re-executes this process with the allocator options of `subcommand`
/// (once; options already set in the environment win). Returns only when
/// no re-execution is needed or it failed, in which case the process simply
/// runs with the defaults.
pub fn tune_for(subcommand: &str) {
    let options = options_for(subcommand);
    if options.is_empty() || std::env::var_os(TUNED).is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut command = std::process::Command::new(exe);
    command.args(std::env::args_os().skip(1)).env(TUNED, "1");
    for (name, value) in options {
        if std::env::var_os(name).is_none() {
            command.env(name, value);
        }
    }
    // exec only returns on failure.
    let error = command.exec();
    tracing::debug!(%error, "cannot re-execute with allocator options; running with defaults");
}
