//! Progress on a terminal (indicatif): phase, jobs done of total, rate.
//! Quiet when standard error is not a terminal.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rapport_common::plan::Phase;
use rapport_coordinator::ProgressSink;

/// A bar on standard error, hidden when it is not a terminal.
pub struct TerminalProgress {
    bar: ProgressBar,
}

impl TerminalProgress {
    /// A bar, visible only on a terminal.
    pub fn new() -> TerminalProgress {
        let target = if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(0), target);
        let style = ProgressStyle::with_template(
            "{prefix:>9} [{bar:30}] {pos}/{len} jobs  {per_sec}  {elapsed}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        TerminalProgress { bar }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl ProgressSink for TerminalProgress {
    fn phase_started(&self, phase: Phase, total: u64) {
        self.bar.set_prefix(phase.name());
        self.bar.set_length(total);
        self.bar.set_position(0);
        self.bar.reset_eta();
    }

    fn jobs_done(&self, done: u64) {
        self.bar.set_position(done);
    }
}
