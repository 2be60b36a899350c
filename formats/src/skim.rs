//! A JSON skimmer: the fast path of the JSON formats (`jsonl`, Graph). It
//! reads a strict subset of JSON straight into borrowed fields and says
//! `None` ("not for me") on anything else; the caller then parses the text
//! with serde_json, which decides, so a line's outcome never depends on
//! which path read it.
//!
//! The subset: objects, arrays, `true`, `false`, `null`, numbers, and
//! strings without control characters. A string read as a field must have
//! no escape at all (it is borrowed, as serde_json would borrow it); a
//! skipped string may hold escapes other than `\u`. Nesting deeper than
//! [`MAX_DEPTH`] is not for the skimmer either. Inputs are `&str`, so every
//! slice cut at an ASCII quote is valid UTF-8.
//!
//! Callers must refuse what serde's derive refuses: a known field given
//! twice ([`Seen`]), a value of another type.

use std::borrow::Cow;

/// Nesting the skimmer follows in a skipped value.
pub const MAX_DEPTH: u32 = 32;

/// A position in a JSON text.
pub struct Skim<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Skim<'a> {
    /// A skimmer at the start of `text`.
    pub fn new(text: &'a str) -> Skim<'a> {
        Skim { text, pos: 0 }
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes().get(self.pos) {
            self.pos += 1;
        }
    }

    /// The next byte after whitespace, not taken.
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.bytes().get(self.pos).copied()
    }

    /// Takes `byte` (after whitespace) or says `None`.
    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.pos += 1)
    }

    /// Takes the literal `word` if it is next.
    fn literal(&mut self, word: &[u8]) -> bool {
        self.ws();
        let found = self.bytes()[self.pos..].starts_with(word);
        if found {
            self.pos += word.len();
        }
        found
    }

    /// Only whitespace is left.
    pub fn end(mut self) -> Option<()> {
        (self.peek().is_none()).then_some(())
    }

    /// A string without escapes, borrowed.
    pub fn str(&mut self) -> Option<&'a str> {
        self.expect(b'"')?;
        let start = self.pos;
        let end = start + plain_len(&self.bytes()[start..]);
        (*self.bytes().get(end)? == b'"').then_some(())?;
        self.pos = end + 1;
        Some(&self.text[start..end])
    }

    /// `null`, or a string without escapes.
    pub fn opt_str(&mut self) -> Option<Option<Cow<'a, str>>> {
        if self.literal(b"null") {
            return Some(None);
        }
        self.str().map(|s| Some(Cow::Borrowed(s)))
    }

    /// `null`, `true` or `false`.
    pub fn opt_bool(&mut self) -> Option<Option<bool>> {
        if self.literal(b"null") {
            Some(None)
        } else if self.literal(b"true") {
            Some(Some(true))
        } else if self.literal(b"false") {
            Some(Some(false))
        } else {
            None
        }
    }

    /// Takes `null` if it is next.
    pub fn null(&mut self) -> bool {
        self.literal(b"null")
    }

    /// An object: `field` is called with each key, at its value, and must
    /// take the value.
    pub fn object(
        &mut self,
        mut field: impl FnMut(&mut Skim<'a>, &'a str) -> Option<()>,
    ) -> Option<()> {
        self.expect(b'{')?;
        if self.peek()? == b'}' {
            self.pos += 1;
            return Some(());
        }
        loop {
            let key = self.str()?;
            self.expect(b':')?;
            field(self, key)?;
            match self.peek()? {
                b',' => self.pos += 1,
                b'}' => {
                    self.pos += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// An array: `item` is called at each element and must take it.
    pub fn array(&mut self, mut item: impl FnMut(&mut Skim<'a>) -> Option<()>) -> Option<()> {
        self.expect(b'[')?;
        if self.peek()? == b']' {
            self.pos += 1;
            return Some(());
        }
        loop {
            item(self)?;
            match self.peek()? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// The text of the next value (from its first byte, as serde_json's
    /// `RawValue` has it), skipped.
    pub fn raw(&mut self) -> Option<&'a str> {
        self.ws();
        let start = self.pos;
        self.skip()?;
        Some(&self.text[start..self.pos])
    }

    /// Skips any value of the subset.
    pub fn skip(&mut self) -> Option<()> {
        self.skip_at(0)
    }

    fn skip_at(&mut self, depth: u32) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.peek()? {
            b'"' => self.skip_string(),
            b'{' => self.object(|s, _| s.skip_at(depth + 1)),
            b'[' => self.array(|s| s.skip_at(depth + 1)),
            b't' => self.literal(b"true").then_some(()),
            b'f' => self.literal(b"false").then_some(()),
            b'n' => self.literal(b"null").then_some(()),
            _ => self.skip_number(),
        }
    }

    /// A string that may hold escapes other than `\u`.
    fn skip_string(&mut self) -> Option<()> {
        self.expect(b'"')?;
        loop {
            let rest = &self.bytes()[self.pos..];
            let len = plain_len(rest);
            self.pos += len + 1;
            match *rest.get(len)? {
                b'"' => return Some(()),
                b'\\' => {
                    let escaped = *self.bytes().get(self.pos)?;
                    matches!(
                        escaped,
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't'
                    )
                    .then(|| self.pos += 1)?;
                }
                _ => return None,
            }
        }
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    fn skip_number(&mut self) -> Option<()> {
        let b = self.bytes();
        let digits = |from: usize| b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
        let mut pos = self.pos;
        if b.get(pos) == Some(&b'-') {
            pos += 1;
        }
        match digits(pos) {
            0 => return None,
            n if n > 1 && b[pos] == b'0' => return None,
            n => pos += n,
        }
        if b.get(pos) == Some(&b'.') {
            match digits(pos + 1) {
                0 => return None,
                n => pos += 1 + n,
            }
        }
        if let Some(b'e' | b'E') = b.get(pos) {
            pos += 1;
            if let Some(b'+' | b'-') = b.get(pos) {
                pos += 1;
            }
            match digits(pos) {
                0 => return None,
                n => pos += n,
            }
        }
        self.pos = pos;
        Some(())
    }
}

/// How many bytes at the start of `bytes` a string holds as they are: up
/// to the first `"`, `\\` or control byte (all of `bytes` if none). Eight
/// bytes at a time: a byte's flag is exact up to the first byte flagged, so
/// the lowest flag is the answer.
fn plain_len(bytes: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v;
    let mut i = 0;
    while let Some(chunk) = bytes[i..].first_chunk::<8>() {
        let v = u64::from_le_bytes(*chunk);
        let flags = (zero_byte(v ^ (ONES * u64::from(b'"')))
            | zero_byte(v ^ (ONES * u64::from(b'\\')))
            | (v.wrapping_sub(ONES * 0x20) & !v))
            & HIGHS;
        if flags != 0 {
            return i + (flags.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i + bytes[i..]
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .unwrap_or(bytes.len() - i)
}

/// The known fields an object has given, to refuse one given twice as
/// serde's derive does.
#[derive(Default)]
pub struct Seen(u64);

impl Seen {
    /// Marks field `index` (below 64); `None` if it was given before.
    pub fn first(&mut self, index: u32) -> Option<()> {
        let bit = 1u64 << index;
        (self.0 & bit == 0).then(|| self.0 |= bit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skips(text: &str) -> bool {
        let mut s = Skim::new(text);
        s.skip().is_some() && s.end().is_some()
    }

    #[test]
    fn skips_exactly_what_serde_json_accepts_within_the_subset() {
        for ok in [
            r#"{"a":[1,-0.5,2e10,1E-3,true,false,null,"x\"y\\z\n"],"b":{}}"#,
            " [ ] ",
            r#"{"a" : { "b" : [ { } ] } }"#,
            "0",
            "-12.25e+3",
        ] {
            assert!(skips(ok), "{ok}");
            assert!(
                serde_json::from_str::<serde_json::Value>(ok).is_ok(),
                "{ok}"
            );
        }
        for bad in [
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":.5}"#,
            r#"{"a":1e}"#,
            r#"{"a":-}"#,
            r#"{"a":tru}"#,
            r#"{"a":[1,]}"#,
            r#"{"a":1,}"#,
            r#"{"a" 1}"#,
            r#"{"a":"x\qy"}"#,
            "{\"a\":\"tab\there\"}",
            r#"{"a":1} x"#,
            r#"{"a":1"#,
            r#"{1:2}"#,
        ] {
            assert!(!skips(bad), "{bad}");
            assert!(
                serde_json::from_str::<serde_json::Value>(bad).is_err(),
                "{bad}"
            );
        }
        // Valid JSON outside the subset: left to serde_json.
        for outside in [
            r#"{"a":"\u00e9"}"#,
            &format!("{}{}", "[".repeat(40), "]".repeat(40)),
        ] {
            assert!(!skips(outside), "{outside}");
            assert!(serde_json::from_str::<serde_json::Value>(outside).is_ok());
        }
    }

    #[test]
    fn a_field_string_is_borrowed_only_without_escapes() {
        assert_eq!(Skim::new(r#""a@b.se""#).str(), Some("a@b.se"));
        assert_eq!(Skim::new(r#""a\"b""#).str(), None);
        assert_eq!(Skim::new(r#"null"#).opt_str(), Some(None));
        assert_eq!(Skim::new(r#"7"#).opt_str(), None);
        assert_eq!(Skim::new(r#" true"#).opt_bool(), Some(Some(true)));
        assert_eq!(Skim::new(r#""true""#).opt_bool(), None);
    }

    proptest::proptest! {
        #[test]
        fn plain_len_stops_at_the_first_quote_backslash_or_control_byte(
            bytes in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::prelude::any::<u8>(),
                    proptest::sample::select(b"\"\\\x1f\x20\x7f\x80a".to_vec()),
                ],
                0..40,
            )
        ) {
            let naive = bytes
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
                .unwrap_or(bytes.len());
            proptest::prop_assert_eq!(plain_len(&bytes), naive);
        }
    }

    #[test]
    fn a_field_given_twice_is_seen() {
        let mut seen = Seen::default();
        assert!(seen.first(3).is_some());
        assert!(seen.first(4).is_some());
        assert!(seen.first(3).is_none());
    }
}
