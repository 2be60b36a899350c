//! The addresses of an RFC 5322 address header (`From`, `To`, `Cc`, `Bcc`),
//! in the obsolete syntax too, which RFC 5322 §4 obliges readers to accept:
//! a source route (`<@relay.tld:mary@example.net>` is `mary@example.net`),
//! white space and comments around the dots and the `@` (`jdoe@test   .
//! example` is `jdoe@test.example`), and empty list elements (`a@b, , c@d`).
//! Display names (plain, quoted with commas, encoded words) and groups
//! (`team: a@b, c@d;`, `undisclosed-recipients:;`) are passed over: only
//! the addr-specs are wanted.
//!
//! Leniency follows Python's `email` package: a local part may run over
//! several words (`Carl Carter/NA/Enron@Enron`, as Lotus Notes wrote
//! them), kept with one space between them; a domain ends at white space
//! that no dot continues, so a list element holding several addresses
//! without commas (`lee@fabrikam.com kim@fabrikam.com`, or words after an
//! `<...>`) gives its first. INPUTS.md asks that of a `From`; a `To` is read
//! the same way.

use std::borrow::Cow;

/// One lexical token of a header value. Comments and white space are
/// [`Tok::Space`]; quoted strings and domain literals are words, quotes and
/// brackets kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    /// An atom, quoted string or domain literal: `value[start..end]`.
    Word(usize, usize),
    /// `.`, `@`, `<`, `>`, `:` at its index.
    Special(u8, usize),
    /// White space or a comment: `value[start..end]`.
    Space(usize, usize),
}

/// Calls `each` with every address of the header value `value` (unfolded
/// or not), in order, as written (not normalised).
pub fn for_each_address<'a>(value: &'a [u8], mut each: impl FnMut(Cow<'a, str>)) {
    let mut element: Vec<Tok> = Vec::new();
    let mut in_angle = false;
    let mut lexer = Lexer { value, pos: 0 };
    while let Some(tok) = lexer.next_token() {
        match tok {
            Tok::Special(b',' | b';', _) if !in_angle => {
                if let Some(a) = address_of(value, &element) {
                    each(a);
                }
                element.clear();
            }
            // A group's name ends at its colon: what follows are members.
            Tok::Special(b':', _) if !in_angle => element.clear(),
            Tok::Special(b'<', _) => {
                in_angle = true;
                element.push(tok);
            }
            Tok::Special(b'>', _) => {
                in_angle = false;
                element.push(tok);
            }
            _ => element.push(tok),
        }
    }
    if let Some(a) = address_of(value, &element) {
        each(a);
    }
}

/// The first address of a header value, if any.
pub fn first_address(value: &[u8]) -> Option<Cow<'_, str>> {
    let mut first = None;
    for_each_address(value, |a| {
        first.get_or_insert(a);
    });
    first
}

struct Lexer<'a> {
    value: &'a [u8],
    pos: usize,
}

impl Lexer<'_> {
    fn next_token(&mut self) -> Option<Tok> {
        let v = self.value;
        let start = self.pos;
        let c = *v.get(start)?;
        self.pos += 1;
        Some(match c {
            b' ' | b'\t' | b'\r' | b'\n' => {
                while v.get(self.pos).is_some_and(|c| c.is_ascii_whitespace()) {
                    self.pos += 1;
                }
                Tok::Space(start, self.pos)
            }
            b'(' => {
                self.skip_comment();
                Tok::Space(start, self.pos)
            }
            b'"' => {
                self.skip_until(b'"');
                Tok::Word(start, self.pos)
            }
            b'[' => {
                self.skip_until(b']');
                Tok::Word(start, self.pos)
            }
            b'.' | b'@' | b'<' | b'>' | b':' | b',' | b';' => Tok::Special(c, start),
            _ => {
                while v.get(self.pos).is_some_and(|c| !is_delimiter(*c)) {
                    self.pos += 1;
                }
                Tok::Word(start, self.pos)
            }
        })
    }

    /// Past the closing `close` (quoted pairs skipped), or to the end.
    fn skip_until(&mut self, close: u8) {
        while let Some(&c) = self.value.get(self.pos) {
            self.pos += 1;
            if c == b'\\' {
                self.pos += 1;
            } else if c == close {
                return;
            }
        }
    }

    /// Past a comment's closing parenthesis; comments nest.
    fn skip_comment(&mut self) {
        let mut depth = 1;
        while let Some(&c) = self.value.get(self.pos) {
            self.pos += 1;
            match c {
                b'\\' => self.pos += 1,
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        return;
                    }
                }
                _ => {}
            }
        }
    }
}

fn is_delimiter(c: u8) -> bool {
    c.is_ascii_whitespace()
        || matches!(
            c,
            b'(' | b')' | b'"' | b'[' | b'.' | b'@' | b'<' | b'>' | b':' | b',' | b';'
        )
}

/// The address of one list element: inside its first `<...>` (past a
/// source route), else its first addr-spec that holds an `@` (or its first
/// at all).
fn address_of<'a>(value: &'a [u8], element: &[Tok]) -> Option<Cow<'a, str>> {
    if let Some(open) = element
        .iter()
        .position(|t| matches!(t, Tok::Special(b'<', _)))
    {
        let inner = &element[open + 1..];
        let close = inner
            .iter()
            .position(|t| matches!(t, Tok::Special(b'>', _)))
            .unwrap_or(inner.len());
        let inner = &inner[..close];
        // `@relay1,@relay2:addr`: the route ends at the last colon (the
        // comma between relays split no element inside `<...>`).
        let route_end = inner
            .iter()
            .rposition(|t| matches!(t, Tok::Special(b':', _)))
            .map_or(0, |i| i + 1);
        return addr_specs(value, &inner[route_end..]).next();
    }
    let mut specs = addr_specs(value, element);
    let first = specs.next()?;
    if first.contains('@') {
        return Some(first);
    }
    Some(specs.find(|s| s.contains('@')).unwrap_or(first))
}

/// The addr-specs of tokens: words joined by dots and `@`, white space
/// around a dot or `@` dropped; white space between two words of the local
/// part kept (as one space), between two words of the domain the end.
fn addr_specs<'a, 't>(value: &'a [u8], tokens: &'t [Tok]) -> impl Iterator<Item = Cow<'a, str>> + 't
where
    'a: 't,
{
    let is_space = |t: &Tok| matches!(t, Tok::Space(..));
    let mut rest = tokens;
    std::iter::from_fn(move || loop {
        let start = rest.iter().position(|t| !is_space(t))?;
        rest = &rest[start..];
        // (token, kept) pairs of this addr-spec.
        let mut spec: Vec<(Tok, bool)> = Vec::new();
        let mut in_domain = false;
        let mut len = 0;
        while len < rest.len() {
            let tok = rest[len];
            match tok {
                Tok::Space(..) => {
                    let before = spec.last().map(|(t, _)| *t);
                    let after = rest[len + 1..].iter().find(|t| !is_space(t));
                    let glue = |t: Option<&Tok>| matches!(t, Some(Tok::Special(b'.' | b'@', _)));
                    let word_follows = matches!(after, Some(Tok::Word(..)));
                    if glue(before.as_ref()) || glue(after) {
                        spec.push((tok, false));
                    } else if !in_domain && word_follows {
                        spec.push((tok, true));
                    } else {
                        break;
                    }
                }
                Tok::Special(b'@', _) => {
                    in_domain = true;
                    spec.push((tok, true));
                }
                Tok::Word(..) | Tok::Special(b'.', _) => spec.push((tok, true)),
                _ => break,
            }
            len += 1;
        }
        rest = &rest[len.max(1)..];
        if let Some(text) = text_of(value, &spec) {
            return Some(text);
        }
    })
}

/// The text of an addr-spec's tokens: dropped ones left out, kept white
/// space as one space. Borrowed when that is the text as written.
fn text_of<'a>(value: &'a [u8], spec: &[(Tok, bool)]) -> Option<Cow<'a, str>> {
    // Trailing white space is never part of it.
    let end = spec
        .iter()
        .rposition(|(t, _)| !matches!(t, Tok::Space(..)))?
        + 1;
    let spec = &spec[..end];
    let span = |t: &Tok| match *t {
        Tok::Word(s, e) | Tok::Space(s, e) => (s, e),
        Tok::Special(_, i) => (i, i + 1),
    };
    let (first, last) = (span(&spec[0].0), span(&spec[end - 1].0));
    let as_written = spec.iter().all(|(t, kept)| match t {
        Tok::Space(s, e) => *kept && &value[*s..*e] == b" ",
        _ => true,
    });
    if as_written {
        return Some(String::from_utf8_lossy(&value[first.0..last.1]));
    }
    let mut bytes = Vec::with_capacity(last.1 - first.0);
    for (tok, kept) in spec {
        match tok {
            Tok::Space(..) if *kept => bytes.push(b' '),
            Tok::Space(..) => {}
            t => {
                let (s, e) = span(t);
                bytes.extend_from_slice(&value[s..e]);
            }
        }
    }
    Some(Cow::Owned(String::from_utf8_lossy(&bytes).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(value: &str) -> Vec<String> {
        let mut out = Vec::new();
        for_each_address(value.as_bytes(), |a| out.push(a.into_owned()));
        out
    }

    #[test]
    fn obsolete_routes_spaces_and_empty_elements_are_read() {
        assert_eq!(
            all(" Mary Smith <@machine.tld:mary@example.net>, , jdoe@test   . example\n"),
            ["mary@example.net", "jdoe@test.example"]
        );
        assert_eq!(all("<@a.tld,@b.tld:joe@c.example>"), ["joe@c.example"]);
        assert_eq!(
            all("\"John Doe\" <john.doe @ example . com>"),
            ["john.doe@example.com"]
        );
        assert_eq!(
            all("Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>"),
            ["pete@silly.test"]
        );
        assert_eq!(
            all("jdoe (comment) @ test . example"),
            ["jdoe@test.example"]
        );
    }

    #[test]
    fn several_addresses_without_commas_give_the_first() {
        assert_eq!(
            all("lee@fabrikam.com kim@fabrikam.com"),
            ["lee@fabrikam.com"]
        );
        assert_eq!(
            all("Lee <lee@fabrikam.com> kim@fabrikam.com"),
            ["lee@fabrikam.com"]
        );
        // A local part over several words, as Lotus Notes wrote them.
        assert_eq!(
            all("\"Carl Carter\" <Carl Carter/NA/Enron@Enron>"),
            ["Carl Carter/NA/Enron@Enron"]
        );
        assert_eq!(
            all("Enron Global   Technology@ENRON"),
            ["Enron Global Technology@ENRON"]
        );
    }

    #[test]
    fn names_quotes_encoded_words_and_groups_are_passed_over() {
        assert_eq!(
            all("=?utf-8?q?Bj=C3=B6rn?= <bo@fabrikam.com>,\n\t\"Doe, Cy\" <cy@fabrikam.com>"),
            ["bo@fabrikam.com", "cy@fabrikam.com"]
        );
        assert_eq!(
            all("team: dee@fabrikam.com, anna@contoso.com;, undisclosed-recipients:;"),
            ["dee@fabrikam.com", "anna@contoso.com"]
        );
        assert_eq!(
            all("A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;"),
            ["c@a.test", "joe@where.test", "jdoe@one.test"]
        );
        assert_eq!(
            all("\"john doe\"@example.com"),
            ["\"john doe\"@example.com"]
        );
        assert_eq!(all("Lokay, Michelle"), ["Lokay", "Michelle"]);
        assert!(all("undisclosed-recipients:;").is_empty());
        assert!(all("").is_empty());
    }

    #[test]
    fn a_plain_address_is_borrowed() {
        let value = b" anna@contoso.com ";
        assert!(matches!(
            first_address(value),
            Some(Cow::Borrowed("anna@contoso.com"))
        ));
    }
}
