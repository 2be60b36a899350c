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
//! Callers must refuse what serde's derive refuses: a value of another
//! type (a known field given twice, [`Skim::fields`] refuses).

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

    /// `null`, or what `read` reads.
    pub fn or_null<T>(
        &mut self,
        read: impl FnOnce(&mut Skim<'a>) -> Option<T>,
    ) -> Option<Option<T>> {
        if self.literal(b"null") {
            return Some(None);
        }
        read(self).map(Some)
    }

    /// `null`, or a string without escapes.
    pub fn opt_str(&mut self) -> Option<Option<Cow<'a, str>>> {
        self.or_null(|s| s.str().map(Cow::Borrowed))
    }

    /// `null`, `true` or `false`.
    pub fn opt_bool(&mut self) -> Option<Option<bool>> {
        self.or_null(|s| {
            if s.literal(b"true") {
                Some(true)
            } else if s.literal(b"false") {
                Some(false)
            } else {
                None
            }
        })
    }

    /// An object of known and other fields: `field` is called with each
    /// key, at its value, and reads a known field's value and says its
    /// number (below 64), or skips another's and says `None` ([`Skim::other`]).
    /// A known field given twice is refused, as serde's derive refuses it.
    pub fn fields(
        &mut self,
        mut field: impl FnMut(&mut Skim<'a>, &'a str) -> Option<Option<u32>>,
    ) -> Option<()> {
        let mut seen = 0u64;
        self.object(|s, key| {
            if let Some(n) = field(s, key)? {
                let bit = 1u64 << n;
                (seen & bit == 0).then(|| seen |= bit)?;
            }
            Some(())
        })
    }

    /// Skips the value of a field that is not read (for [`Skim::fields`]).
    pub fn other(&mut self) -> Option<Option<u32>> {
        self.skip().map(|()| None)
    }

    /// An array: `item` is called at each element and must take it.
    pub fn array(&mut self, item: impl FnMut(&mut Skim<'a>) -> Option<()>) -> Option<()> {
        self.sequence(b'[', b']', item)
    }

    /// An object: `field` is called with each key, at its value, and must
    /// take the value.
    fn object(
        &mut self,
        mut field: impl FnMut(&mut Skim<'a>, &'a str) -> Option<()>,
    ) -> Option<()> {
        self.sequence(b'{', b'}', |s| {
            let key = s.str()?;
            s.expect(b':')?;
            field(s, key)
        })
    }

    /// `open`, items separated by commas, `close`.
    fn sequence(
        &mut self,
        open: u8,
        close: u8,
        mut item: impl FnMut(&mut Skim<'a>) -> Option<()>,
    ) -> Option<()> {
        self.expect(open)?;
        if self.peek()? == close {
            self.pos += 1;
            return Some(());
        }
        loop {
            item(self)?;
            match self.peek()? {
                b',' => self.pos += 1,
                b if b == close => {
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

/// Puts a known field's value, if read, in `slot` and says the field's
/// number (for [`Skim::fields`]).
pub fn known<T>(number: u32, value: Option<T>, slot: &mut T) -> Option<Option<u32>> {
    *slot = value?;
    Some(Some(number))
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
    fn a_known_field_given_twice_is_refused() {
        let known = |text: &str| {
            let (mut a, mut b) = (None, None);
            Skim::new(text).fields(|s, key| match key {
                "a" => known(3, s.opt_str(), &mut a),
                "b" => known(4, s.opt_str(), &mut b),
                _ => s.other(),
            })
        };
        assert!(known(r#"{"a":"x","b":null,"c":1,"c":2}"#).is_some());
        assert!(known(r#"{"a":"x","b":null,"a":null}"#).is_none());
    }
}

/// Records near valid ones, for checking the skimmers against serde_json.
#[cfg(test)]
pub(crate) mod mutations {
    use proptest::prelude::*;

    /// One of `texts` with one byte cut, doubled, replaced or inserted (a
    /// byte JSON is made of, or a control byte).
    pub(crate) fn near(texts: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
        (
            0..texts.len(),
            any::<prop::sample::Index>(),
            0..4u8,
            prop::sample::select(b" \t\"\\,:[]{}0-.eEnulltrufals7@x\x01".to_vec()),
        )
            .prop_map(move |(text, at, edit, byte)| {
                let mut bytes = texts[text].as_bytes().to_vec();
                let i = at.index(bytes.len());
                match edit {
                    0 => {
                        bytes.remove(i);
                    }
                    1 => bytes.insert(i, bytes[i]),
                    2 => bytes[i] = byte,
                    _ => bytes.insert(i, byte),
                }
                bytes
            })
    }
}
