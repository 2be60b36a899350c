//! Reads one shard of an input file: from the byte before its start (so the
//! ingest step can tell whether its first line began in the previous shard)
//! through the end of the line holding its last byte.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use rapport_common::plan::Shard;

/// Bytes read past the end at a time while looking for the line's end.
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
    let mut chunk = vec![0; OVERRUN_CHUNK];
    while bytes.last().is_some_and(|b| *b != b'\n') {
        let n = file.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        match chunk[..n].iter().position(|b| *b == b'\n') {
            Some(i) => {
                bytes.extend_from_slice(&chunk[..=i]);
                break;
            }
            None => bytes.extend_from_slice(&chunk[..n]),
        }
    }
    Ok(ShardData { offset, bytes })
}
