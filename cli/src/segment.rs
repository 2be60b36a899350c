//! `rapport segment`: the AccountIds of a results folder's rows that match
//! a segment expression (`rapport_common::segment`), at one level and
//! period: Year and the latest period of that level by default. One id a
//! line, in AccountId order.

use std::path::Path;

use rapport_common::segment::parse;

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

/// The matching AccountIds, sorted.
pub fn matching(
    results: &Path,
    level: &str,
    period: Option<&str>,
    expr: &str,
) -> Result<Vec<String>, CliError> {
    let path = results.join(RESULTS);
    let usage = |e: &dyn std::fmt::Display| CliError::Usage(format!("{}: {e}", path.display()));
    let mut reader = csv::Reader::from_path(&path).map_err(|e| usage(&e))?;
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| usage(&e))?
        .iter()
        .map(str::to_owned)
        .collect();
    let columns: Vec<&str> = header.iter().map(String::as_str).collect();
    let column = |name: &str| {
        columns
            .iter()
            .position(|c| *c == name)
            .ok_or_else(|| usage(&format!("no {name} column")))
    };
    let (id_at, level_at, start_at) = (
        column("AccountId")?,
        column("AggregationLevel")?,
        column("AggregationStartDate")?,
    );
    let parsed = parse(expr, &columns).map_err(|e| CliError::Usage(e.to_string()))?;
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| usage(&e))?;
        if record.get(level_at) == Some(level) {
            rows.push(record);
        }
    }
    let latest = rows.iter().filter_map(|r| r.get(start_at)).max();
    let period = match (period, latest) {
        (Some(p), _) => p.to_owned(),
        (None, Some(latest)) => latest.to_owned(),
        (None, None) => return Err(usage(&format!("no {level} rows"))),
    };
    if !rows
        .iter()
        .any(|r| r.get(start_at) == Some(period.as_str()))
    {
        return Err(usage(&format!(
            "no {level} period starting {period} (an AggregationStartDate of that level)"
        )));
    }
    let mut ids: Vec<String> = rows
        .iter()
        .filter(|r| r.get(start_at) == Some(period.as_str()))
        .filter(|r| parsed.matches(&r.iter().collect::<Vec<_>>()))
        .filter_map(|r| r.get(id_at).map(str::to_owned))
        .collect();
    ids.sort();
    Ok(ids)
}
