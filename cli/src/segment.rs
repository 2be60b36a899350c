//! `rapport segment`: the AccountIds of a results folder's rows that match
//! a segment expression (`rapport_common::segment`), at one level and
//! period: Year and the latest period of that level by default. One id a
//! line, in AccountId order.

use std::path::Path;

use rapport_common::period::Level;
use rapport_common::results::read_results;
use rapport_common::run_results::{parse_segment, RunResults};

use crate::args::SegmentArgs;
use crate::exit::CliError;

/// The results file read.
const RESULTS: &str = "account_engagement.csv";

/// `rapport segment`.
pub fn segment_command(args: SegmentArgs) -> Result<(), CliError> {
    let ids = matching(
        &args.results,
        &args.level,
        args.period.as_deref(),
        &args.expr,
    )?;
    let mut out = String::new();
    for id in ids {
        out.push_str(&id);
        out.push('\n');
    }
    print!("{out}");
    Ok(())
}

/// The matching AccountIds, sorted: the rows of `level` and `period`
/// (default: the level's latest) that `expr` matches, as the API's
/// `GET /runs/{id}/accounts` gives them (both ask `RunResults`).
pub fn matching(
    results: &Path,
    level: &str,
    period: Option<&str>,
    expr: &str,
) -> Result<Vec<String>, CliError> {
    let path = results.join(RESULTS);
    let usage = |e: &dyn std::fmt::Display| CliError::Usage(format!("{}: {e}", path.display()));
    let parsed = parse_segment(expr).map_err(|e| CliError::Usage(e.to_string()))?;
    let level = Level::parse(level).ok_or_else(|| usage(&"level: Year, Month or Week"))?;
    let bytes = std::fs::read(&path).map_err(|e| usage(&e))?;
    let run = RunResults {
        rows: read_results(&bytes).map_err(|e| usage(&e))?,
        // Segments do not depend on the run's as_of.
        as_of: chrono::NaiveDate::default(),
    };
    let found = run
        .segment(level, period, Some(&parsed))
        .map_err(|e| usage(&e))?;
    Ok(found.rows.iter().map(|r| r.account_id.clone()).collect())
}
