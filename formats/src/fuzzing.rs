//! The body of every fuzz target (`fuzz/`): a format's parser over arbitrary
//! bytes, read whole and read again in another shape that must give the
//! same copies and rejects. Kept here so the regression tests
//! (`formats/tests/fuzz_cases.rs`) run the same code on the inputs the
//! fuzzers and reviews found.
//!
//! - Every format: each record read is staged or rejected, and every
//!   reject's offset lies in the file.
//! - Files cut into shards (jsonl, Graph lines, mbox): two shards cut at
//!   the middle read the same copies and rejects as the whole.
//! - jsonl and Graph: wherever the JSON skimmer reads a line (or the
//!   whole data), serde_json reads the same.
//! - Whole files: a Graph list file cut after its first value into two
//!   files; an iCalendar file with every content line folded again; a
//!   message as an `.eml` file and as an mbox of one message.

use std::convert::Infallible;

use rapport_common::directory::Directory;
use rapport_common::ingest::{IngestOutput, ShardBytes};
use rapport_common::plan::Split;
use rapport_common::record::{decode_staged, StagedRecord};
use rapport_common::tenant::Format;
use rapport_common::time::days_from_civil;

use crate::{ingest_shard, split_of, FormatContext};

/// What a read gave, without positions: the staged records and the
/// rejects' reasons and fields (a JSON syntax error's `column N` without its
/// number, which counts from where the read began), each sorted.
#[derive(Debug, PartialEq, Eq)]
struct Read {
    records: Vec<StagedRecord>,
    rejects: Vec<(String, String)>,
}

impl Read {
    fn of(outs: &[IngestOutput]) -> Read {
        let mut records = Vec::new();
        let mut rejects = Vec::new();
        for out in outs {
            for blob in &out.partitions {
                let mut copies = Vec::new();
                decode_staged(blob, &mut copies).expect("a staged blob decodes");
                records.extend(copies.into_iter().map(|c| c.record));
            }
            rejects.extend(out.rejects.iter().map(|r| {
                let field = match r.field.strip_prefix("column ") {
                    Some(_) => "column".to_owned(),
                    None => r.field.clone(),
                };
                (r.reason.name().to_owned(), field)
            }));
        }
        records.sort_unstable();
        rejects.sort_unstable();
        Read { records, rejects }
    }
}

/// Parses `data` as a file of `format` and checks the properties above.
pub fn run(format: Format, data: &[u8]) {
    let mut directory = Directory {
        accounts: vec!["ACME".to_owned()],
        ..Directory::default()
    };
    directory.domains.insert("example.com".to_owned(), 0);
    // A run's range: a window of about two years around 2026.
    let ctx = FormatContext {
        key_partitions: 2,
        expand_from: days_from_civil(2025, 1, 1) * 86_400,
        expand_until: days_from_civil(2027, 1, 1) * 86_400,
        ..FormatContext::unbounded(&directory, chrono_tz::Europe::Stockholm)
    };
    let name = match format {
        Format::Mbox => "fuzz.mbox",
        _ => "fuzz",
    };
    let Ok(split) = split_of(format, name, || Ok::<_, Infallible>(data.to_vec()));
    let whole = ShardBytes::whole_file(name, data, split);
    let all = ingest_shard(&whole, format, &ctx);
    assert_eq!(
        all.counters.records,
        all.staged + all.rejects.len() as u64,
        "a record neither staged nor rejected"
    );
    for r in &all.rejects {
        assert!(
            r.offset <= data.len() as u64,
            "reject offset out of the file"
        );
    }
    let expected = Read::of(std::slice::from_ref(&all));
    match (format, split) {
        (_, Split::Lines | Split::Messages) => check_cut_in_two(&whole, format, &ctx, &all),
        (Format::Graph, _) => check_graph_list_cut(data, &ctx, &expected),
        (Format::Ics, _) => check_refolded(data, &ctx, &expected),
        _ => {}
    }
    if format == Format::Mbox {
        check_eml_as_mbox(data, &ctx);
    }
    check_skimmer_agrees(format, data);
}

/// Wherever the JSON skimmer reads a line, or the whole data, serde_json
/// reads the same.
fn check_skimmer_agrees(format: Format, data: &[u8]) {
    let texts = data
        .split(|&b| b == b'\n')
        .chain([data])
        .filter_map(|t| std::str::from_utf8(t).ok());
    for text in texts {
        match format {
            Format::Jsonl => agrees(crate::jsonl_skim::skim_record(text), text),
            Format::Graph => agrees(crate::graph_skim::skim_resource(text), text),
            _ => return,
        }
    }
}

/// What the skimmer read of `text`, if anything, is what serde_json reads.
fn agrees<'a, T>(skimmed: Option<T>, text: &'a str)
where
    T: serde::Deserialize<'a> + PartialEq + std::fmt::Debug,
{
    if let Some(skimmed) = skimmed {
        assert_eq!(
            Some(skimmed),
            serde_json::from_str(text).ok(),
            "skimmed {text:?}"
        );
    }
}

/// Two shards cut at the middle read what the whole does.
fn check_cut_in_two(whole: &ShardBytes, format: Format, ctx: &FormatContext, all: &IngestOutput) {
    let data = whole.bytes;
    if data.len() < 2 {
        return;
    }
    let cut = data.len() / 2;
    let first = ShardBytes {
        end: cut as u64,
        ..*whole
    };
    let second = ShardBytes {
        offset: cut as u64 - 1,
        skip_first_line: true,
        bytes: &data[cut - 1..],
        ..*whole
    };
    let parts = [
        ingest_shard(&first, format, ctx),
        ingest_shard(&second, format, ctx),
    ];
    assert_eq!(
        Read::of(&parts),
        Read::of(std::slice::from_ref(all)),
        "records lost, changed or read twice at a shard cut"
    );
}

/// A list file cut after its first value into two files reads the same.
fn check_graph_list_cut(data: &[u8], ctx: &FormatContext, expected: &Read) {
    let mut stream =
        serde_json::Deserializer::from_slice(data).into_iter::<&serde_json::value::RawValue>();
    if !matches!(stream.next(), Some(Ok(_))) {
        return;
    }
    let cut = stream.byte_offset();
    // A byte order mark is skipped at the start of a file only: one right
    // after the cut would be read differently, rightly.
    if cut >= data.len()
        || data[cut..].iter().all(u8::is_ascii_whitespace)
        || data[cut..].starts_with(b"\xEF\xBB\xBF")
    {
        return;
    }
    let (a, b) = (&data[..cut], &data[cut..]);
    let parts = [
        ingest_shard(
            &ShardBytes::whole_file("a", a, Split::Whole),
            Format::Graph,
            ctx,
        ),
        ingest_shard(
            &ShardBytes::whole_file("b", b, Split::Whole),
            Format::Graph,
            ctx,
        ),
    ];
    assert_eq!(
        &Read::of(&parts),
        expected,
        "a list file read differently cut after its first value"
    );
}

/// Every content line folded again, every 13 characters: unfolding gives
/// the same lines, so the same events. Lines holding a carriage return
/// (which unfolding trims at a fold) are left as they are.
fn check_refolded(data: &[u8], ctx: &FormatContext, expected: &Read) {
    let text = String::from_utf8_lossy(data);
    let mut folded = String::with_capacity(text.len() * 2);
    for line in text.split_inclusive('\n') {
        let (body, end) = match line.strip_suffix("\r\n") {
            Some(b) => (b, "\r\n"),
            None => match line.strip_suffix('\n') {
                Some(b) => (b, "\n"),
                None => (line, ""),
            },
        };
        if body.contains('\r') || end.is_empty() {
            folded.push_str(line);
            continue;
        }
        for (i, c) in body.chars().enumerate() {
            if i > 0 && i % 13 == 0 {
                folded.push_str("\r\n ");
            }
            folded.push(c);
        }
        folded.push_str(end);
    }
    let out = ingest_shard(
        &ShardBytes::whole_file("refolded", folded.as_bytes(), Split::Whole),
        Format::Ics,
        ctx,
    );
    assert_eq!(
        &Read::of(std::slice::from_ref(&out)),
        expected,
        "folding the content lines again changed what was read"
    );
}

/// A message read as an `.eml` file reads as an mbox holding only it, when
/// no line of it would start another message there.
fn check_eml_as_mbox(data: &[u8], ctx: &FormatContext) {
    let starts_another =
        data.starts_with(b"From ") || memchr::memmem::find(data, b"\nFrom ").is_some();
    // A byte order mark is skipped at the start of a file, not of a line.
    if starts_another
        || data.starts_with(b"\xEF\xBB\xBF")
        || data.iter().all(u8::is_ascii_whitespace)
    {
        return;
    }
    let eml = ingest_shard(
        &ShardBytes::whole_file("m.eml", data, Split::Whole),
        Format::Mbox,
        ctx,
    );
    let mut mbox = b"From MAILER-DAEMON Thu Jan  1 00:00:00 1970\n".to_vec();
    mbox.extend_from_slice(data);
    let one = ingest_shard(
        &ShardBytes::whole_file("m.mbox", &mbox, Split::Messages),
        Format::Mbox,
        ctx,
    );
    assert_eq!(
        Read::of(&[eml]),
        Read::of(&[one]),
        "an .eml file and an mbox of the same message read differently"
    );
}
