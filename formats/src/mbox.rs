//! mbox files (RFC 4155, mboxrd) and `.eml` files: where a message's header
//! block is. Shards of an mbox are cut at `From ` lines
//! ([`rapport_common::plan::Split::Messages`]); each record here is one
//! message, with or without its `From ` line. Quoted `>From ` lines only
//! occur in bodies, which are never read, so they need no unquoting.

use rapport_common::record::ParsedCopy;
use rapport_common::reject::Rejection;

use crate::mail::parse_headers;
use crate::FormatContext;

/// The header block of a message: after its `From ` line (if any), up to
/// its first empty line (LF or CRLF), or all of it if it has no body.
pub fn header_block(message: &[u8]) -> &[u8] {
    let mut start = 0;
    if message.starts_with(b"From ") {
        start = memchr::memchr(b'\n', message).map_or(message.len(), |i| i + 1);
    }
    let mut pos = start;
    while pos < message.len() {
        let line_end =
            memchr::memchr(b'\n', &message[pos..]).map_or(message.len(), |i| pos + i + 1);
        let line = &message[pos..line_end];
        if line == b"\n" || line == b"\r\n" {
            return &message[start..pos];
        }
        pos = line_end;
    }
    &message[start..]
}

/// Parses one message.
pub fn parse_message<'a>(
    message: &'a [u8],
    ctx: &FormatContext,
) -> Result<ParsedCopy<'a>, Rejection> {
    parse_headers(header_block(message), ctx.directory)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_block_ends_at_the_first_empty_line() {
        let message =
            b"From a@b Mon Jan  1 00:00:00 2026\r\nSubject: x\r\nTo: y\r\n\r\nFrom: body\r\n";
        assert_eq!(header_block(message), b"Subject: x\r\nTo: y\r\n");
        assert_eq!(header_block(b"Subject: x\n"), b"Subject: x\n");
        assert_eq!(header_block(b"Subject: x\n\nbody"), b"Subject: x\n");
    }
}
