//! The typed view of a written `account_engagement.csv` (ENGAGEMENT.md §4),
//! read back for segments, the Parquet and JSON Lines outputs, the history
//! of runs and the account pages. A row read and written again has the
//! bytes it was read with.

use std::fmt::Write;

use chrono::NaiveDate;

use crate::period::Level;
use crate::row::{csv_field, HEADER};
use crate::segment::{column_kind, ColumnKind, Value};

/// Number of columns.
pub const NUM_COLUMNS: usize = 17;

/// The count columns, in header order (columns 2 to 9).
pub const COUNT_COLUMNS: [&str; 8] = [
    "NoOfEmails_ToAccount",
    "NoOfEmails_FromAccount",
    "NoOfMeetings_FromAccount",
    "NoOfMeetings_ToAccount",
    "NoOfContactsInvolved_Meetings",
    "NoOfContactsInvolved_Emails",
    "NoOfAccountContactsInvolved_Meetings",
    "NoOfAccountContactsInvolved_Emails",
];

/// The header's column names, in order.
pub fn columns() -> [&'static str; NUM_COLUMNS] {
    let mut out = [""; NUM_COLUMNS];
    for (slot, name) in out.iter_mut().zip(HEADER.split(',')) {
        *slot = name;
    }
    out
}

/// One row of `account_engagement.csv`, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultRow {
    /// AccountId.
    pub account_id: String,
    /// EngagementScore, 0-100.
    pub score: u32,
    /// The eight count columns, in [`COUNT_COLUMNS`] order.
    pub counts: [u32; 8],
    /// EngagementStartDate.
    pub engagement_start: NaiveDate,
    /// DaysSinceLastEmail.
    pub days_since_email: Option<i32>,
    /// DaysSinceLastMeeting.
    pub days_since_meeting: Option<i32>,
    /// AverageDuration_Of_Meetings, hundredths of a minute.
    pub avg_meeting: Option<i64>,
    /// AverageDuration_Of_AccountEmailReplies, hundredths of a minute.
    pub avg_reply: Option<i64>,
    /// AggregationStartDate.
    pub start: NaiveDate,
    /// AggregationLevel.
    pub level: Level,
}

/// A results file that is not what the engine writes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct ResultsError {
    /// The line, from 1 (the header is line 1).
    pub line: u64,
    /// The column name.
    pub column: String,
    /// What is wrong.
    pub message: String,
}

fn parse_hundredths(text: &str) -> Option<i64> {
    let (whole, frac) = text.split_once('.')?;
    if frac.len() != 2 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(whole.parse::<i64>().ok()? * 100 + frac.parse::<i64>().ok()?)
}

fn optional<T>(text: &str, parse: impl Fn(&str) -> Option<T>) -> Result<Option<T>, ()> {
    if text.is_empty() {
        return Ok(None);
    }
    parse(text).map(Some).ok_or(())
}

fn date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

impl ResultRow {
    /// Reads a row from its fields; `line` is for the error.
    pub fn parse(fields: &[&str], line: u64) -> Result<ResultRow, ResultsError> {
        let names = columns();
        let bad = |i: usize| ResultsError {
            line,
            column: names[i].to_owned(),
            message: format!("unreadable value {:?}", fields.get(i).unwrap_or(&"")),
        };
        if fields.len() != NUM_COLUMNS {
            return Err(ResultsError {
                line,
                column: "*".to_owned(),
                message: format!("{} fields, not {NUM_COLUMNS}", fields.len()),
            });
        }
        let mut counts = [0; 8];
        for (i, count) in counts.iter_mut().enumerate() {
            *count = fields[2 + i].parse().map_err(|_| bad(2 + i))?;
        }
        let days = |i: usize| optional(fields[i], |t| t.parse().ok()).map_err(|()| bad(i));
        let avg = |i: usize| optional(fields[i], parse_hundredths).map_err(|()| bad(i));
        Ok(ResultRow {
            account_id: fields[0].to_owned(),
            score: fields[1].parse().map_err(|_| bad(1))?,
            counts,
            engagement_start: date(fields[10]).ok_or_else(|| bad(10))?,
            days_since_email: days(11)?,
            days_since_meeting: days(12)?,
            avg_meeting: avg(13)?,
            avg_reply: avg(14)?,
            start: date(fields[15]).ok_or_else(|| bad(15))?,
            level: Level::parse(fields[16]).ok_or_else(|| bad(16))?,
        })
    }

    /// Emails to and from the account.
    pub fn emails(&self) -> u32 {
        self.counts[0] + self.counts[1]
    }

    /// Meetings started by either side.
    pub fn meetings(&self) -> u32 {
        self.counts[2] + self.counts[3]
    }

    /// The value of column `i` for a segment comparison; `None` when empty
    /// or not comparable.
    pub fn value(&self, i: usize) -> Option<Value> {
        let number = |v: i64| Some(Value::Number(v as f64));
        let hundredths = |v: Option<i64>| v.map(|h| Value::Number(h as f64 / 100.0));
        match i {
            1 => number(i64::from(self.score)),
            2..=9 => number(i64::from(self.counts[i - 2])),
            10 => Some(Value::Date(self.engagement_start)),
            11 => self.days_since_email.and_then(|d| number(i64::from(d))),
            12 => self.days_since_meeting.and_then(|d| number(i64::from(d))),
            13 => hundredths(self.avg_meeting),
            14 => hundredths(self.avg_reply),
            15 => Some(Value::Date(self.start)),
            _ => None,
        }
    }

    /// The row as `account_engagement.csv` holds it, line end included.
    pub fn write_csv(&self, out: &mut String) {
        let _ = write!(out, "{},{}", csv_field(&self.account_id), self.score);
        for c in self.counts {
            let _ = write!(out, ",{c}");
        }
        let _ = write!(out, ",{}", self.engagement_start.format("%Y-%m-%d"));
        for d in [self.days_since_email, self.days_since_meeting] {
            out.push(',');
            if let Some(d) = d {
                let _ = write!(out, "{d}");
            }
        }
        for h in [self.avg_meeting, self.avg_reply] {
            out.push(',');
            if let Some(h) = h {
                let _ = write!(out, "{}", format_hundredths(h));
            }
        }
        let _ = writeln!(
            out,
            ",{},{}",
            self.start.format("%Y-%m-%d"),
            self.level.name()
        );
    }
}

/// Hundredths of a minute as the CSV writes them (`127.50`).
pub fn format_hundredths(h: i64) -> String {
    format!("{}.{:02}", h / 100, h % 100)
}

/// Reads the whole text of an `account_engagement.csv`: its header must be
/// the engine's.
pub fn read_results(text: &[u8]) -> Result<Vec<ResultRow>, ResultsError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text);
    let header_error = |message: String| ResultsError {
        line: 1,
        column: "*".to_owned(),
        message,
    };
    let header = reader
        .headers()
        .map_err(|e| header_error(e.to_string()))?
        .iter()
        .collect::<Vec<_>>()
        .join(",");
    if header != HEADER {
        return Err(header_error(
            "not the header of account_engagement.csv".to_owned(),
        ));
    }
    read_records(&mut reader, 1)
}

/// Reads lines of an `account_engagement.csv` without its header; the
/// first is line `first_line` of the file (for errors).
pub fn read_rows(text: &[u8], first_line: u64) -> Result<Vec<ResultRow>, ResultsError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text);
    read_records(&mut reader, first_line - 1)
}

fn read_records(
    reader: &mut csv::Reader<&[u8]>,
    mut line: u64,
) -> Result<Vec<ResultRow>, ResultsError> {
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        line += 1;
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let fields: Vec<&str> = record.iter().collect();
                rows.push(ResultRow::parse(&fields, line)?);
            }
            Err(e) => {
                return Err(ResultsError {
                    line: 1,
                    column: "*".to_owned(),
                    message: format!("line {line}: {e}"),
                })
            }
        }
    }
    Ok(rows)
}

/// The kind of every column, for checks that a typed view and the text
/// agree.
pub fn column_kinds() -> [ColumnKind; NUM_COLUMNS] {
    columns().map(column_kind)
}

/// The expected output of the shared stockholm example, for the tests.
#[cfg(test)]
pub(crate) fn stockholm_example() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/examples/stockholm/expected/account_engagement.csv");
    std::fs::read_to_string(&path).expect("the shared example is beside the repository")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> String {
        stockholm_example()
    }

    #[test]
    fn every_row_is_written_back_with_its_own_bytes() {
        let example = example();
        let rows = read_results(example.as_bytes()).expect("the example reads");
        assert!(rows.len() > 100);
        let mut out = format!("{HEADER}\n");
        rows.iter().for_each(|r| r.write_csv(&mut out));
        assert_eq!(out, example);
    }

    #[test]
    fn lines_without_the_header_read_as_the_whole_file_does() {
        let example = example();
        let whole = read_results(example.as_bytes()).expect("the example reads");
        let lines: Vec<&str> = example.lines().skip(1).collect();
        let (a, b) = lines.split_at(lines.len() / 2);
        let mut parts = read_rows(format!("{}\n", a.join("\n")).as_bytes(), 2).expect("first");
        let second = read_rows(b.join("\n").as_bytes(), 2 + a.len() as u64).expect("second");
        parts.extend(second);
        assert_eq!(parts, whole);
        let err = read_rows(b"x,1\n", 7).expect_err("bad line");
        assert_eq!(err.line, 7);
    }

    #[test]
    fn typed_values_match_the_text_for_every_segment_comparison() {
        let example = example();
        let rows = read_results(example.as_bytes()).expect("the example reads");
        let text: Vec<&str> = example.lines().skip(1).collect();
        let kinds = column_kinds();
        for (row, line) in rows.iter().zip(text) {
            for (i, field) in line.split(',').enumerate() {
                let expected = match kinds[i] {
                    _ if field.is_empty() => None,
                    ColumnKind::Number => field.parse().ok().map(Value::Number),
                    ColumnKind::Date => date(field).map(Value::Date),
                    ColumnKind::Text => None,
                };
                assert_eq!(row.value(i), expected, "column {i} of {line}");
            }
        }
    }

    #[test]
    fn a_segment_gives_the_same_rows_on_the_typed_view_as_on_the_text() {
        let example = example();
        let rows = read_results(example.as_bytes()).expect("the example reads");
        let text: Vec<&str> = example.lines().skip(1).collect();
        let names = columns();
        for expr in [
            "DaysSinceLastEmail > 60 AND DaysSinceLastMeeting > 60",
            "EngagementScore >= 50 OR AverageDuration_Of_Meetings < 30.5",
            "AverageDuration_Of_AccountEmailReplies >= 917.5",
            "EngagementStartDate < 2025-09-01 AND (NoOfEmails_ToAccount = 7 OR NoOfMeetings_ToAccount != 0)",
            "AggregationStartDate >= 2026-01-01",
        ] {
            let parsed = crate::segment::parse(expr, &names).expect("parses");
            let mut hits = 0;
            for (row, line) in rows.iter().zip(&text) {
                let fields: Vec<&str> = line.split(',').collect();
                let typed = parsed.matches_by(&|i| row.value(i));
                assert_eq!(typed, parsed.matches(&fields), "{expr} on {line}");
                hits += usize::from(typed);
            }
            assert!(hits > 0 && hits < rows.len(), "{expr} splits the rows");
        }
    }

    #[test]
    fn a_bad_field_is_named_by_line_and_column() {
        let bad = example().replacen(",Year", ",Decade", 1);
        let e = read_results(bad.as_bytes()).expect_err("refused");
        assert_eq!(e.column, "AggregationLevel");
        assert!(e.line >= 2);
        let e = read_results(b"a,b\n1,2\n").expect_err("refused");
        assert_eq!(e.line, 1);
        assert_eq!(parse_hundredths("12.5"), None);
        assert_eq!(parse_hundredths("12.03"), Some(1203));
    }
}
