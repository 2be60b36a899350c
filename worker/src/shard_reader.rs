//! Reads one shard of an input file: from the byte before its start (so the
//! ingest step can tell whether its first record began in the previous
//! shard) through the end of the last record starting before its end: the
//! end of that line, or for mbox the start of the next `From ` line.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use rapport_common::plan::{Shard, Split};

/// Bytes read past the end at a time while looking for the record's end.
const OVERRUN_CHUNK: usize = 64 * 1024;

/// The bytes of a shard and the file offset of the first one.
pub struct ShardData {
    /// File offset of `bytes[0]`.
    pub offset: u64,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// Reads the shard (blocking).
pub fn read_shard(shard: &Shard) -> std::io::Result<ShardData> {
    let mut file = File::open(&shard.location)?;
    let offset = shard.start.saturating_sub(1);
    file.seek(SeekFrom::Start(offset))?;
    let len = shard.end - offset;
    let mut bytes = Vec::with_capacity(len as usize + OVERRUN_CHUNK);
    (&mut file).take(len).read_to_end(&mut bytes)?;
    if (bytes.len() as u64) < len {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "input file shrank while being read",
        ));
    }
    if shard.split == Split::Whole || bytes.is_empty() {
        return Ok(ShardData { offset, bytes });
    }
    // Search from the last byte of the shard: a record starting at or
    // after `end` begins right after a newline at or after `end - 1`.
    let mut search_from = bytes.len() - 1;
    let mut chunk = vec![0; OVERRUN_CHUNK];
    loop {
        if let Some(cut) = record_end(&bytes, search_from, shard.split) {
            bytes.truncate(cut);
            break;
        }
        let n = file.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        // Keep enough of the old bytes to see a `\nFrom ` across the seam.
        search_from = bytes.len().saturating_sub(5).max(search_from);
        bytes.extend_from_slice(&chunk[..n]);
    }
    Ok(ShardData { offset, bytes })
}

/// Where the record holding `bytes[from]` ends, if `bytes` shows it: just
/// past the newline ending its line (`Lines`), or at the next line starting
/// `From ` (`Messages`).
fn record_end(bytes: &[u8], from: usize, split: Split) -> Option<usize> {
    let mut pos = from;
    while let Some(i) = bytes[pos..].iter().position(|b| *b == b'\n') {
        let next = pos + i + 1;
        match split {
            Split::Messages => {
                let rest = &bytes[next..];
                if rest.starts_with(b"From ") {
                    return Some(next);
                }
                if rest.len() < 5 && b"From ".starts_with(rest) {
                    return None; // cannot tell yet
                }
            }
            _ => return Some(next),
        }
        pos = next;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_ends_after_its_newline() {
        assert_eq!(record_end(b"ab\ncd", 0, Split::Lines), Some(3));
        assert_eq!(record_end(b"abcd", 0, Split::Lines), None);
    }

    #[test]
    fn a_message_ends_where_the_next_from_line_starts() {
        let text = b"From a\nx\n>From b\nFrom c\n";
        assert_eq!(record_end(text, 0, Split::Messages), Some(17));
        assert_eq!(record_end(b"From a\nx\nFro", 0, Split::Messages), None);
        assert_eq!(record_end(b"From a\nx\n", 0, Split::Messages), None);
    }
}
