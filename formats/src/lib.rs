//! Rapport's input formats (INPUTS.md) beyond the canonical `jsonl`:
//! Microsoft Graph resources, mbox and `.eml` mail, and iCalendar. Each
//! parser turns the records of a shard into staged records or rejects, and
//! never keeps a subject, body, description or location.
//!
//! # Layout
//! - [`graph`] — Graph `message` and `event` resources, one a line or as
//!   list responses.
//! - [`mail`] — one RFC 5322 message's headers; [`mbox`] for the files.
//! - [`ics`] — iCalendar events and their recurrences.
//! - [`zones`] — time zone names (IANA, Windows) and local times.
//!
//! [`ingest_shard`] runs the right parser over a shard; [`split_of`] says
//! where a file may be cut into shards.

#[doc(hidden)]
pub mod fuzzing;
pub mod graph;
pub mod ics;
pub mod mail;
pub mod mbox;
pub mod zones;

use chrono_tz::Tz;
use rapport_common::directory::Directory;
use rapport_common::ingest::{ingest_jsonl, records, IngestOutput, IngestSink, ShardBytes};
use rapport_common::plan::{RunContext, Split};
use rapport_common::tenant::Format;
use rapport_common::time::days_from_civil;

/// What parsers need to know of the run.
pub struct FormatContext<'a> {
    /// Address resolution.
    pub directory: &'a Directory,
    /// Key partitions to route staged records to.
    pub key_partitions: u32,
    /// The tenant's zone: iCalendar floating times are read in it.
    pub timezone: Tz,
    /// Recurrences are expanded for starts in `[expand_from, expand_until)`
    /// (epoch seconds): the window with a day's margin on each side.
    pub expand_from: i64,
    /// See `expand_from`.
    pub expand_until: i64,
}

const DAY: i64 = 86_400;

impl<'a> FormatContext<'a> {
    /// The context of a run's ingest jobs.
    pub fn of(ctx: &'a RunContext) -> FormatContext<'a> {
        let window = ctx.window();
        let timezone = ctx.settings.timezone.parse().unwrap_or(Tz::UTC);
        FormatContext {
            directory: &ctx.directory,
            key_partitions: ctx.key_partitions,
            timezone,
            expand_from: (window.first as i64 - 1) * DAY,
            expand_until: (window.as_of as i64 + 2) * DAY,
        }
    }

    /// A context for tests and tools: the whole of 1970-2200 expanded.
    pub fn unbounded(directory: &'a Directory, timezone: Tz) -> FormatContext<'a> {
        FormatContext {
            directory,
            key_partitions: 1,
            timezone,
            expand_from: 0,
            expand_until: days_from_civil(2200, 1, 1) * DAY,
        }
    }
}

/// Parses the records of a shard in its format.
pub fn ingest_shard(shard: &ShardBytes, format: Format, ctx: &FormatContext) -> IngestOutput {
    if format == Format::Jsonl {
        return ingest_jsonl(shard, ctx.directory, ctx.key_partitions);
    }
    let mut sink = IngestSink::new(shard.file, ctx.key_partitions);
    for record in records(shard) {
        match format {
            Format::Jsonl => unreachable!("handled above"),
            Format::Graph => graph::parse(record, ctx.directory, &mut sink),
            Format::Mbox => sink.take(record.offset, mbox::parse_message(record.bytes, ctx)),
            Format::Ics => ics::parse(record, ctx, &mut sink),
        }
    }
    sink.finish()
}

/// Where a file of `format` named `name`, starting with `head`, may be cut:
/// jsonl by lines; Graph by lines when its first line is a whole resource
/// (Data Connect), else whole (list responses may span lines); mbox by
/// messages, `.eml` and iCalendar whole (an override may sit anywhere in
/// the file).
pub fn split_of(format: Format, name: &str, head: &[u8]) -> Split {
    match format {
        Format::Jsonl => Split::Lines,
        Format::Graph if graph::is_line_delimited(head) => Split::Lines,
        Format::Graph | Format::Ics => Split::Whole,
        Format::Mbox if name.to_ascii_lowercase().ends_with(".eml") => Split::Whole,
        Format::Mbox => Split::Messages,
    }
}
