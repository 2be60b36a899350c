//! Reads one shard of an input file as a stream of pieces, each ending at a
//! record boundary, so memory stays flat however large the file: a piece is
//! about [`PIECE_BYTES`] (more only when one record is larger).
//!
//! The first piece starts at the byte before the shard (so the ingest step
//! can tell whether its first record began in the previous shard); the last
//! ends after the last record starting before the shard's end: the end of
//! that line, or for mbox the start of the next `From ` line. A file that is
//! not cut ([`Split::Whole`]) is one piece.

use rapport_backend::DataRoots;
use rapport_common::ingest::ShardBytes;
use rapport_common::plan::{Shard, Split};
use rapport_common::record::ShardId;

use crate::input_source::InputSource;

/// Bytes read at a time.
pub const PIECE_BYTES: usize = 8 * 1024 * 1024;

/// Reads the shard (blocking), which is `id` in the plan, and hands each
/// piece to `each`. The input must be a regular file, or an object, below
/// `roots`.
pub fn for_each_piece(
    roots: &DataRoots,
    shard: &Shard,
    id: ShardId,
    piece_bytes: usize,
    each: impl FnMut(&ShardBytes),
) -> std::io::Result<()> {
    let file = InputSource::open(roots, &shard.location)?;
    for_each_piece_of(file, shard, id, piece_bytes, each)
}

/// [`for_each_piece`] over an open input.
pub fn for_each_piece_of(
    mut file: InputSource,
    shard: &Shard,
    id: ShardId,
    piece_bytes: usize,
    mut each: impl FnMut(&ShardBytes),
) -> std::io::Result<()> {
    let mut offset = shard.start.saturating_sub(1);
    file.seek(offset)?;
    if shard.split == Split::Whole {
        let mut bytes = Vec::new();
        file.read_more(&mut bytes, (shard.end - offset) as usize)?;
        check_length(bytes.len() as u64, shard.end - offset)?;
        each(&piece(shard, id, offset, shard.start > 0, &bytes));
        return Ok(());
    }
    let mut skip_first_line = shard.start > 0;
    let piece_bytes = piece_bytes.max(1);
    let mut buffer: Vec<u8> = Vec::with_capacity(piece_bytes + 1024);
    let mut at_eof = false;
    loop {
        // Fill the buffer to at least a piece, or to the end of the file.
        if buffer.len() < piece_bytes && !at_eof {
            let want = piece_bytes - buffer.len();
            at_eof = file.read_more(&mut buffer, want)?;
        }
        if at_eof {
            check_length(offset + buffer.len() as u64, shard.end)?;
        }
        // Cut after the last record start in the buffer; with none (one
        // record larger than a piece), read on.
        let from = usize::from(skip_first_line);
        let cut = match last_record_start(&buffer, from, shard.split) {
            Some(cut) => cut,
            None if at_eof => buffer.len(),
            None => {
                at_eof = file.read_more(&mut buffer, piece_bytes)?;
                continue;
            }
        };
        let cut_offset = offset + cut as u64;
        let last = cut_offset >= shard.end || (at_eof && cut == buffer.len());
        let view = ShardBytes {
            end: shard.end.min(cut_offset),
            ..piece(shard, id, offset, skip_first_line, &buffer[..cut])
        };
        each(&view);
        if last {
            return Ok(());
        }
        buffer.drain(..cut);
        offset = cut_offset;
        skip_first_line = false;
    }
}

fn piece<'a>(
    shard: &'a Shard,
    id: ShardId,
    offset: u64,
    skip_first_line: bool,
    bytes: &'a [u8],
) -> ShardBytes<'a> {
    ShardBytes {
        file: &shard.file,
        shard: id,
        offset,
        skip_first_line,
        bytes,
        end: shard.end,
        split: shard.split,
    }
}

fn check_length(read: u64, expected: u64) -> std::io::Result<()> {
    if read < expected {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "input file shrank while being read",
        ));
    }
    Ok(())
}

/// The index of the last record start in `bytes` after index `from` (a line
/// start; for mbox, one beginning `From `), if any.
fn last_record_start(bytes: &[u8], from: usize, split: Split) -> Option<usize> {
    let mut end = bytes.len();
    while let Some(i) = memchr::memrchr(b'\n', &bytes[..end]) {
        let start = i + 1;
        if start <= from {
            return None;
        }
        let is_start = match split {
            Split::Messages => bytes[start..].starts_with(b"From "),
            _ => true,
        };
        // A line start at the very end may begin a record not yet read.
        let complete = split != Split::Messages || bytes.len() - start >= 5;
        if is_start && complete && start < bytes.len() {
            return Some(start);
        }
        end = i;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::Arc;

    use object_store::memory::InMemory;
    use object_store::path::Path as ObjectPath;
    use object_store::{ObjectStore, ObjectStoreExt};
    use rapport_common::directory::Directory;
    use rapport_common::tenant::Format;

    #[test]
    fn the_last_record_start_is_found() {
        assert_eq!(last_record_start(b"ab\ncd\nef", 0, Split::Lines), Some(6));
        assert_eq!(last_record_start(b"ab\ncd\n", 0, Split::Lines), Some(3));
        assert_eq!(last_record_start(b"abcd", 0, Split::Lines), None);
        let text = b"From a\nx\n>From b\nFrom c\nbody\n";
        assert_eq!(last_record_start(text, 0, Split::Messages), Some(17));
        assert_eq!(
            last_record_start(b"From a\nx\nFro", 0, Split::Messages),
            None
        );
    }

    /// Every record read once, whatever the shard cuts and piece sizes,
    /// from a file and from an object.
    fn check_every_record_read_once(text: &str, format: Format, split: Split, expected: u64) {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("f");
        std::fs::write(&path, text).expect("written");
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let object = ObjectPath::from("f");
        runtime
            .block_on(store.put(&object, text.as_bytes().to_vec().into()))
            .expect("put");
        let open = |from_object: bool| {
            if from_object {
                InputSource::object(
                    store.clone(),
                    object.clone(),
                    "mem://f",
                    runtime.handle().clone(),
                )
            } else {
                InputSource::open(&DataRoots::unrestricted(), &path.display().to_string())
            }
            .expect("opened")
        };
        let size = text.len() as u64;
        let directory = Directory::default();
        let ctx = rapport_formats::FormatContext::unbounded(&directory, chrono_tz::UTC);
        for (shard_bytes, from_object) in [50, 97, 300, size]
            .into_iter()
            .flat_map(|s| [(s, false), (s, true)])
        {
            for piece_bytes in [16, 100, 1000] {
                let mut records = 0;
                let mut start = 0;
                while start < size {
                    let shard = Shard {
                        file: "f".to_owned(),
                        location: path.display().to_string(),
                        format,
                        split,
                        start,
                        end: (start + shard_bytes).min(size),
                    };
                    let input = open(from_object);
                    for_each_piece_of(input, &shard, ShardId::default(), piece_bytes, |p| {
                        records += rapport_formats::ingest_shard(p, format, &ctx)
                            .counters
                            .records;
                    })
                    .expect("read");
                    start = shard.end;
                }
                assert_eq!(
                    records, expected,
                    "shards of {shard_bytes}, pieces of {piece_bytes}, object {from_object}"
                );
            }
        }
    }

    #[test]
    fn pieces_of_jsonl_shards_read_every_line_once() {
        let line = "{\"type\":\"email\",\"message_id\":\"<a>\",\"sent_at\":\"2026-01-01T00:00:00Z\",\"from\":\"a@b.c\"}\n";
        let text: String = (0..40)
            .map(|i| if i % 7 == 3 { "\n" } else { line })
            .collect();
        let expected = text.lines().filter(|l| !l.is_empty()).count() as u64;
        check_every_record_read_once(&text, Format::Jsonl, Split::Lines, expected);
    }

    #[test]
    fn pieces_of_mbox_shards_read_every_message_once() {
        let message = "From a@b.c Mon Jan  1 00:00:00 2026\nMessage-ID: <a>\nDate: Mon, 2 Mar 2026 09:15:00 +0000\nFrom: a@b.c\n\nbody\n>From quoted\nFrom-less\n\n";
        let text = message.repeat(30);
        check_every_record_read_once(&text, Format::Mbox, Split::Messages, 30);
    }
}
