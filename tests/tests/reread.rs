//! Every line of `rejects.jsonl` names the record it rejects: reading the
//! record at its offset again, alone, gives the same reason and field. The
//! record is a line (jsonl, Graph lines), an mbox message, a whole `.eml`,
//! a Graph resource of a list response, or an iCalendar `VEVENT` (read with
//! the file's `VTIMEZONE`s) or content line.

use std::path::Path;

use rapport_common::ingest::ShardBytes;
use rapport_common::plan::{InputFile, Split};
use rapport_common::tenant::Format;
use rapport_coordinator::{load_tenant, plan_run, PlanOptions};
use rapport_formats::{ingest_shard, FormatContext};

/// Reads each reject of the run of `config` written to `out` again and
/// asserts its reason and field; returns how many there were.
pub fn assert_rejects_read_again(config: &Path, out: &Path) -> usize {
    let tenant = load_tenant(config).expect("tenant");
    let ctx = plan_run("reread", &tenant, PlanOptions::default());
    let format_ctx = FormatContext::of(&ctx);
    let text = std::fs::read_to_string(out.join("rejects.jsonl")).expect("rejects");
    let mut count = 0;
    for line in text.lines() {
        let reject: serde_json::Value = serde_json::from_str(line).expect("json line");
        let name = reject["file"].as_str().expect("file");
        let offset = reject["offset"].as_u64().expect("offset") as usize;
        let file = tenant
            .files
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("{line}: no such input"));
        let bytes = std::fs::read(&file.location).expect("input");
        let again = read_again(file, &bytes, offset, &format_ctx);
        assert_eq!(
            again,
            vec![(
                reject["reason"].as_str().expect("reason").to_owned(),
                reject["field"].as_str().expect("field").to_owned()
            )],
            "{line}: read again alone"
        );
        count += 1;
    }
    count
}

/// The (reason, field) of every reject of the record at `offset`, alone.
fn read_again(
    file: &InputFile,
    bytes: &[u8],
    offset: usize,
    ctx: &FormatContext,
) -> Vec<(String, String)> {
    let (record, at, split) = match (file.format, file.split) {
        (Format::Ics, _) => (ics_record(bytes, offset), 0, Split::Whole),
        (Format::Graph, Split::Whole) => {
            // From the start of its line, what precedes it blanked, so a
            // syntax error's column counts as in the file.
            let line_start = bytes[..offset]
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |i| i + 1);
            let mut record = vec![b' '; offset - line_start];
            record.extend(json_value(bytes, offset));
            (record, line_start, Split::Whole)
        }
        (_, Split::Whole) => (bytes.to_vec(), 0, Split::Whole),
        (_, split) => {
            // The record starting at `offset`: a shard of one byte there.
            let from = offset.saturating_sub(1);
            let shard = ShardBytes {
                file: &file.name,
                shard: Default::default(),
                offset: from as u64,
                skip_first_line: offset > 0,
                bytes: &bytes[from..],
                end: offset as u64 + 1,
                split,
            };
            return reasons(&ingest_shard(&shard, file.format, ctx));
        }
    };
    // The record alone, at its place in the file.
    let shard = ShardBytes {
        offset: at as u64,
        end: (at + record.len()) as u64,
        ..ShardBytes::whole_file(&file.name, &record, split)
    };
    reasons(&ingest_shard(&shard, file.format, ctx))
}

fn reasons(out: &rapport_common::ingest::IngestOutput) -> Vec<(String, String)> {
    out.rejects
        .iter()
        .map(|r| (r.reason.name().to_owned(), r.field.clone()))
        .collect()
}

/// One JSON value of a list response, from its first byte.
fn json_value(bytes: &[u8], offset: usize) -> Vec<u8> {
    let mut stream = serde_json::Deserializer::from_slice(&bytes[offset..])
        .into_iter::<&serde_json::value::RawValue>();
    match stream.next() {
        Some(Ok(_)) => bytes[offset..offset + stream.byte_offset()].to_vec(),
        // A value that is not JSON runs to the next line opening an object.
        _ => {
            let rest = &bytes[offset..];
            let end = rest
                .windows(2)
                .position(|w| w == b"\n{")
                .map_or(rest.len(), |i| i + 1);
            rest[..end].to_vec()
        }
    }
}

/// A calendar holding the file's time zones and the event (or the content
/// line) at `offset`.
fn ics_record(bytes: &[u8], offset: usize) -> Vec<u8> {
    let text = String::from_utf8_lossy(bytes);
    let rest = &text[offset..];
    let record = if rest.starts_with("BEGIN:VEVENT") {
        let end = rest
            .find("END:VEVENT")
            .map_or(rest.len(), |i| i + "END:VEVENT".len());
        &rest[..end]
    } else {
        rest.lines().next().unwrap_or_default()
    };
    let mut zones = String::new();
    let mut from = 0;
    while let Some(start) = text[from..].find("BEGIN:VTIMEZONE") {
        let start = from + start;
        let end = text[start..]
            .find("END:VTIMEZONE")
            .map_or(text.len(), |i| start + i + "END:VTIMEZONE".len());
        zones.push_str(&text[start..end]);
        zones.push_str("\r\n");
        from = end;
    }
    format!("BEGIN:VCALENDAR\r\n{zones}{record}\r\nEND:VCALENDAR\r\n").into_bytes()
}
