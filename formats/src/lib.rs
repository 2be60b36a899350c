//! Rapport's input formats (INPUTS.md): the canonical `jsonl`, Microsoft
//! Graph resources, mbox and `.eml` mail, and iCalendar. Each parser reads
//! its fields and makes staged records by the rules they all share
//! ([`rapport_common::builders`]), or rejects; none keeps a subject, body,
//! description or location.
//!
//! # Layout
//! - [`jsonl`] — the canonical format, one JSON object a line.
//! - [`graph`] — Graph `message` and `event` resources, one a line or as
//!   list responses.
//! - [`mail`] — one RFC 5322 message's headers; [`mbox`] for the files;
//!   [`address_list`] for its address headers.
//! - [`ics`] — iCalendar events and their recurrences.
//! - [`zones`] — time zone names (IANA, Windows) and local times.
//! - `skim`, `jsonl_skim`, `graph_skim` — the JSON formats' fast path: a
//!   skimmer that reads the kept fields of most records and leaves the
//!   rest to serde_json.
//!
//! [`ingest_shard`] runs the right parser over a shard, [`capture_shard`]
//! reads copies of some records again with their text, and [`split_of`]
//! says where a file may be cut into shards.

pub mod address_list;
#[doc(hidden)]
pub mod fuzzing;
pub mod graph;
mod graph_skim;
pub mod ics;
pub mod jsonl;
mod jsonl_skim;
pub mod mail;
pub mod mbox;
mod skim;
#[cfg(test)]
mod test_directory;
pub mod zones;

use chrono_tz::Tz;
use rapport_common::directory::Directory;
use rapport_common::ingest::{records, IngestOutput, IngestSink, RawRecord, ShardBytes};
use rapport_common::plan::{RunContext, Split};
use rapport_common::record::{CopyKey, StagedRecord, TieStrings};
use rapport_common::tenant::Format;
use rapport_common::time::days_from_civil;
use rustc_hash::FxHashSet;

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

/// A UTF-8 byte order mark, as Windows tools write at the start of a file.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A record without a leading byte order mark, its offset moved past it.
fn without_bom(record: RawRecord) -> RawRecord {
    match record.bytes.strip_prefix(BOM) {
        Some(rest) => RawRecord {
            offset: record.offset + BOM.len() as u64,
            bytes: rest,
        },
        None => record,
    }
}

/// Parses the records of a shard in its format.
pub fn ingest_shard(shard: &ShardBytes, format: Format, ctx: &FormatContext) -> IngestOutput {
    let mut sink = IngestSink::new(shard, ctx.key_partitions);
    read_shard(shard, format, ctx, &mut sink);
    sink.finish()
}

/// Parses the records of a shard again and returns the copies with a key
/// in `wanted`, with the text ties are broken on ([`rapport_common::merge`]).
pub fn capture_shard(
    shard: &ShardBytes,
    format: Format,
    ctx: &FormatContext,
    wanted: &FxHashSet<CopyKey>,
) -> Vec<(StagedRecord, TieStrings)> {
    let mut sink = IngestSink::capturing(shard, wanted);
    read_shard(shard, format, ctx, &mut sink);
    sink.finish_capture()
}

fn read_shard(shard: &ShardBytes, format: Format, ctx: &FormatContext, sink: &mut IngestSink) {
    if format == Format::Jsonl {
        return jsonl::ingest(shard, ctx.directory, sink);
    }
    for raw in records(shard) {
        sink.begin_record(raw.offset);
        let record = without_bom(raw);
        match format {
            Format::Jsonl => unreachable!("handled above"),
            Format::Graph => graph::parse(record, ctx.directory, sink),
            Format::Mbox => sink.take(record.offset, mbox::parse_message(record.bytes, ctx)),
            Format::Ics => ics::parse(record, ctx, sink),
        }
    }
}

/// Where a file of `format` named `name` may be cut: jsonl by lines; Graph
/// by lines when its first line is a whole resource (Data Connect), else
/// whole (list responses may span lines); mbox by messages, `.eml` and
/// iCalendar whole (an override may sit anywhere in the file). `head` reads
/// the file's first bytes; only Graph needs them.
pub fn split_of<E>(
    format: Format,
    name: &str,
    head: impl FnOnce() -> Result<Vec<u8>, E>,
) -> Result<Split, E> {
    Ok(match format {
        Format::Jsonl => Split::Lines,
        Format::Graph => {
            let head = head()?;
            if graph::is_line_delimited(head.strip_prefix(BOM).unwrap_or(&head)) {
                Split::Lines
            } else {
                Split::Whole
            }
        }
        Format::Ics => Split::Whole,
        Format::Mbox if name.to_ascii_lowercase().ends_with(".eml") => Split::Whole,
        Format::Mbox => Split::Messages,
    })
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use super::*;

    fn read(format: Format, name: &str, text: &[u8]) -> IngestOutput {
        let directory = Directory::default();
        let ctx = FormatContext::unbounded(&directory, Tz::UTC);
        let Ok(split) = split_of(format, name, || Ok::<_, Infallible>(text.to_vec()));
        ingest_shard(&ShardBytes::whole_file(name, text, split), format, &ctx)
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        let ics = b"\xEF\xBB\xBFBEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART:20260303T100000Z\r\nDURATION:PT1H\r\nORGANIZER:mailto:a@b.c\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let out = read(Format::Ics, "c.ics", ics);
        assert_eq!((out.staged, out.rejects.len()), (1, 0));
        let graph = b"\xEF\xBB\xBF{\"internetMessageId\":\"<a>\",\"sentDateTime\":\"2026-03-02T08:15:00Z\",\"from\":{\"emailAddress\":{\"address\":\"a@b.c\"}}}\n";
        let out = read(Format::Graph, "g.json", graph);
        assert_eq!((out.staged, out.rejects.len()), (1, 0));
        let eml = b"\xEF\xBB\xBFMessage-ID: <a>\r\nDate: Mon, 2 Mar 2026 09:15:00 +0000\r\nFrom: a@b.c\r\n\r\nbody\r\n";
        let out = read(Format::Mbox, "m.eml", eml);
        assert_eq!((out.staged, out.rejects.len()), (1, 0));
    }
}
