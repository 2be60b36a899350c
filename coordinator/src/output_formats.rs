//! The output formats beside `account_engagement.csv` (`--formats`):
//! `account_engagement.parquet` and `account_engagement.jsonl`, made from
//! the CSV's typed rows, so every format holds the same values.
//!
//! Parquet schema (one row group per 131,072 rows, so the writer holds one
//! group at a time; Snappy):
//!
//! | column | Parquet type |
//! |---|---|
//! | AccountId, AggregationLevel | required BYTE_ARRAY (STRING) |
//! | EngagementScore and the eight counts | required INT32 |
//! | EngagementStartDate, AggregationStartDate | required INT32 (DATE) |
//! | DaysSinceLastEmail, DaysSinceLastMeeting | optional INT32 (null when empty) |
//! | AverageDuration_Of_Meetings, AverageDuration_Of_AccountEmailReplies | optional INT64 (DECIMAL(18,2)) |
//!
//! JSON Lines: one object a row, keys the CSV's column names in its order;
//! counts and days as numbers, averages as numbers with two decimals,
//! dates as `"YYYY-MM-DD"`, empty fields as `null`.

use std::fmt::Write as _;
use std::sync::Arc;

use chrono::NaiveDate;
use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType, Int32Type, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use rapport_common::results::{columns, format_hundredths, ResultRow};
use serde::{Deserialize, Serialize};

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// `account_engagement.csv` (always written).
    Csv,
    /// `account_engagement.parquet`.
    Parquet,
    /// `account_engagement.jsonl`.
    Jsonl,
}

impl OutputFormat {
    /// Every format.
    pub const ALL: [OutputFormat; 3] = [
        OutputFormat::Csv,
        OutputFormat::Parquet,
        OutputFormat::Jsonl,
    ];

    /// The name `--formats` takes.
    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::Csv => "csv",
            OutputFormat::Parquet => "parquet",
            OutputFormat::Jsonl => "jsonl",
        }
    }

    /// The file it writes.
    pub fn file_name(self) -> &'static str {
        match self {
            OutputFormat::Csv => "account_engagement.csv",
            OutputFormat::Parquet => "account_engagement.parquet",
            OutputFormat::Jsonl => "account_engagement.jsonl",
        }
    }
}

/// `formats` sorted, without repeats, CSV always in.
pub fn normalise(mut formats: Vec<OutputFormat>) -> Vec<OutputFormat> {
    formats.push(OutputFormat::Csv);
    formats.sort();
    formats.dedup();
    formats
}

/// Parses `csv,parquet,jsonl` into [`normalise`]d formats.
pub fn parse_formats(text: &str) -> Result<Vec<OutputFormat>, String> {
    let mut out = Vec::new();
    for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let format = OutputFormat::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                format!("unknown output format {name:?} (expected csv, parquet or jsonl)")
            })?;
        out.push(format);
    }
    Ok(normalise(out))
}

/// The Parquet schema, as a message type.
const SCHEMA: &str = "message account_engagement {
  required binary AccountId (STRING);
  required int32 EngagementScore;
  required int32 NoOfEmails_ToAccount;
  required int32 NoOfEmails_FromAccount;
  required int32 NoOfMeetings_FromAccount;
  required int32 NoOfMeetings_ToAccount;
  required int32 NoOfContactsInvolved_Meetings;
  required int32 NoOfContactsInvolved_Emails;
  required int32 NoOfAccountContactsInvolved_Meetings;
  required int32 NoOfAccountContactsInvolved_Emails;
  required int32 EngagementStartDate (DATE);
  optional int32 DaysSinceLastEmail;
  optional int32 DaysSinceLastMeeting;
  optional int64 AverageDuration_Of_Meetings (DECIMAL(18,2));
  optional int64 AverageDuration_Of_AccountEmailReplies (DECIMAL(18,2));
  required int32 AggregationStartDate (DATE);
  required binary AggregationLevel (STRING);
}";

/// Rows per row group: the writer holds this many typed rows at a time.
pub const ROW_GROUP: usize = 131_072;

fn epoch_days(date: NaiveDate) -> i32 {
    (date - NaiveDate::default()).num_days() as i32
}

/// Values and definition levels of one optional column.
fn nullable<T: Copy>(values: impl Iterator<Item = Option<T>>) -> (Vec<T>, Vec<i16>) {
    let (mut out, mut levels) = (Vec::new(), Vec::new());
    for v in values {
        levels.push(i16::from(v.is_some()));
        out.extend(v);
    }
    (out, levels)
}

/// A Parquet file written a row group at a time.
pub struct ParquetSink<W: std::io::Write + Send> {
    writer: SerializedFileWriter<W>,
}

impl<W: std::io::Write + Send> ParquetSink<W> {
    /// Starts a file in `out`.
    pub fn new(out: W) -> Result<ParquetSink<W>, parquet::errors::ParquetError> {
        let schema = Arc::new(parse_message_type(SCHEMA)?);
        let props = Arc::new(
            WriterProperties::builder()
                .set_compression(Compression::SNAPPY)
                .set_created_by("rapport".to_owned())
                .build(),
        );
        Ok(ParquetSink {
            writer: SerializedFileWriter::new(out, schema, props)?,
        })
    }

    /// Writes `group` as one row group.
    pub fn write_group(
        &mut self,
        group: &[ResultRow],
    ) -> Result<(), parquet::errors::ParquetError> {
        let mut rg = self.writer.next_row_group()?;
        let mut index = 0;
        while let Some(mut column) = rg.next_column()? {
            let ints = |f: &dyn Fn(&ResultRow) -> i32| group.iter().map(f).collect::<Vec<i32>>();
            let strings = |f: &dyn Fn(&ResultRow) -> &str| {
                group
                    .iter()
                    .map(|r| ByteArray::from(f(r).as_bytes().to_vec()))
                    .collect::<Vec<_>>()
            };
            match index {
                0 => {
                    column.typed::<ByteArrayType>().write_batch(
                        &strings(&|r| &r.account_id),
                        None,
                        None,
                    )?;
                }
                1 => {
                    column.typed::<Int32Type>().write_batch(
                        &ints(&|r| r.score as i32),
                        None,
                        None,
                    )?;
                }
                2..=9 => {
                    let values = ints(&|r| r.counts[index - 2] as i32);
                    column
                        .typed::<Int32Type>()
                        .write_batch(&values, None, None)?;
                }
                10 | 15 => {
                    let values = if index == 10 {
                        ints(&|r| epoch_days(r.engagement_start))
                    } else {
                        ints(&|r| epoch_days(r.start))
                    };
                    column
                        .typed::<Int32Type>()
                        .write_batch(&values, None, None)?;
                }
                11 | 12 => {
                    let (values, levels) = nullable(group.iter().map(|r| {
                        if index == 11 {
                            r.days_since_email
                        } else {
                            r.days_since_meeting
                        }
                    }));
                    column
                        .typed::<Int32Type>()
                        .write_batch(&values, Some(&levels), None)?;
                }
                13 | 14 => {
                    let (values, levels) = nullable(group.iter().map(|r| {
                        if index == 13 {
                            r.avg_meeting
                        } else {
                            r.avg_reply
                        }
                    }));
                    column
                        .typed::<Int64Type>()
                        .write_batch(&values, Some(&levels), None)?;
                }
                _ => {
                    column.typed::<ByteArrayType>().write_batch(
                        &strings(&|r| r.level.name()),
                        None,
                        None,
                    )?;
                }
            }
            column.close()?;
            index += 1;
        }
        rg.close()?;
        Ok(())
    }

    /// Ends the file; returns where it was written.
    pub fn finish(self) -> Result<W, parquet::errors::ParquetError> {
        self.writer.into_inner()
    }
}

/// `rows` as a Parquet file, in row groups of [`ROW_GROUP`].
pub fn to_parquet(rows: &[ResultRow]) -> Result<Vec<u8>, parquet::errors::ParquetError> {
    let mut sink = ParquetSink::new(Vec::new())?;
    for group in rows.chunks(ROW_GROUP) {
        sink.write_group(group)?;
    }
    sink.finish()
}

/// `rows` as JSON Lines.
pub fn to_jsonl(rows: &[ResultRow]) -> Vec<u8> {
    let names = columns();
    let mut out = String::new();
    for r in rows {
        let id = serde_json::to_string(&r.account_id).expect("a string always serialises");
        let _ = write!(out, "{{\"{}\":{id},\"{}\":{}", names[0], names[1], r.score);
        for (i, c) in r.counts.iter().enumerate() {
            let _ = write!(out, ",\"{}\":{c}", names[2 + i]);
        }
        let _ = write!(out, ",\"{}\":\"{}\"", names[10], r.engagement_start);
        for (name, d) in [
            (names[11], r.days_since_email),
            (names[12], r.days_since_meeting),
        ] {
            match d {
                Some(d) => write!(out, ",\"{name}\":{d}"),
                None => write!(out, ",\"{name}\":null"),
            }
            .expect("writing to a String");
        }
        for (name, h) in [(names[13], r.avg_meeting), (names[14], r.avg_reply)] {
            match h {
                Some(h) => write!(out, ",\"{name}\":{}", format_hundredths(h)),
                None => write!(out, ",\"{name}\":null"),
            }
            .expect("writing to a String");
        }
        let _ = writeln!(
            out,
            ",\"{}\":\"{}\",\"{}\":\"{}\"}}",
            names[15],
            r.start,
            names[16],
            r.level.name()
        );
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rapport_common::period::Level;

    fn row(id: &str, avg: Option<i64>) -> ResultRow {
        ResultRow {
            account_id: id.to_owned(),
            score: 42,
            counts: [1, 2, 3, 4, 5, 6, 7, 8],
            engagement_start: NaiveDate::from_ymd_opt(2025, 7, 12).expect("date"),
            days_since_email: Some(11),
            days_since_meeting: None,
            avg_meeting: avg,
            avg_reply: Some(761200),
            start: NaiveDate::from_ymd_opt(2025, 1, 1).expect("date"),
            level: Level::Year,
        }
    }

    #[test]
    fn formats_parse_with_csv_always_in() {
        use OutputFormat::*;
        assert_eq!(parse_formats(""), Ok(vec![Csv]));
        assert_eq!(
            parse_formats("jsonl, parquet,jsonl"),
            Ok(vec![Csv, Parquet, Jsonl])
        );
        assert!(parse_formats("csv,xlsx")
            .expect_err("refused")
            .contains("xlsx"));
    }

    #[test]
    fn jsonl_rows_are_typed_with_nulls_for_empty_fields() {
        let text = String::from_utf8(to_jsonl(&[row("A\"1", Some(3000))])).expect("utf-8");
        let value: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(value["AccountId"], "A\"1");
        assert_eq!(value["NoOfEmails_ToAccount"], 1);
        assert_eq!(value["DaysSinceLastMeeting"], serde_json::Value::Null);
        assert_eq!(value["AverageDuration_Of_AccountEmailReplies"], 7612.0);
        assert_eq!(value["AggregationStartDate"], "2025-01-01");
        assert!(text.contains("\"AverageDuration_Of_Meetings\":30.00,"));
        let keys: Vec<&str> = text
            .split("\":")
            .map(|k| k.rsplit('"').next().unwrap_or(""))
            .collect();
        assert_eq!(keys[..17], columns()[..]);
    }

    #[test]
    fn parquet_is_written_and_read_back_by_its_reader() {
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let rows = vec![row("A", None), row("B", Some(1203))];
        let bytes = to_parquet(&rows).expect("parquet");
        let reader = SerializedFileReader::new(bytes::Bytes::from(bytes)).expect("reads");
        assert_eq!(reader.metadata().file_metadata().num_rows(), 2);
        let fields: Vec<String> = reader
            .metadata()
            .file_metadata()
            .schema_descr()
            .columns()
            .iter()
            .map(|c| c.name().to_owned())
            .collect();
        assert_eq!(fields, columns());
    }
}
