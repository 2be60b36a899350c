//! iCalendar content lines (RFC 5545 §3.1): unfolded, split into name,
//! parameters and value, and grouped into the `VEVENT`s of a file, each
//! with the byte offset of its `BEGIN:VEVENT` line. Properties of nested
//! components (`VALARM`) are not the event's and are left out.

use super::values::unescape_text;

/// One property: `NAME;PARAM=VALUE:VALUE`. Names are upper-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    /// The name, upper-case.
    pub name: String,
    /// Parameters, names upper-case, values unquoted (each comma-separated
    /// value of a parameter kept whole).
    pub params: Vec<(String, String)>,
    /// The raw value.
    pub value: String,
}

impl Property {
    /// The value of a parameter, if given.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A `VEVENT` and where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEvent {
    /// Byte offset of its `BEGIN:VEVENT` line, within the text read.
    pub offset: usize,
    /// Its own properties, in order.
    pub properties: Vec<Property>,
}

/// A `VTIMEZONE`: its `TZID` and the properties of each `STANDARD` or
/// `DAYLIGHT` observance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawTimezone {
    /// `TZID`, unescaped (`\,` is a comma).
    pub tzid: String,
    /// Observances.
    pub observances: Vec<Vec<Property>>,
}

/// What a file holds: its events and time zones.
#[derive(Debug, Default)]
pub struct Contents {
    /// Every `VEVENT`, in file order.
    pub events: Vec<RawEvent>,
    /// Every `VTIMEZONE`.
    pub timezones: Vec<RawTimezone>,
    /// Lines that are not content lines (no `:`), by offset.
    pub bad_lines: Vec<usize>,
}

/// Unfolded logical lines with the byte offset of their first physical
/// line. Lines are cut on bytes and each read as UTF-8 (invalid bytes
/// replaced), so offsets count the file's bytes whatever it holds.
fn logical_lines(bytes: &[u8]) -> Vec<(usize, String)> {
    let mut lines: Vec<(usize, String)> = Vec::new();
    let mut pos = 0;
    for physical in bytes.split_inclusive(|b| *b == b'\n') {
        let start = pos;
        pos += physical.len();
        let end = physical.len()
            - physical
                .iter()
                .rev()
                .take_while(|b| matches!(b, b'\r' | b'\n'))
                .count();
        let line = String::from_utf8_lossy(&physical[..end]);
        match (line.as_bytes().first(), lines.last_mut()) {
            (Some(b' ' | b'\t'), Some((_, last))) => last.push_str(&line[1..]),
            (None, _) => {}
            _ => lines.push((start, line.into_owned())),
        }
    }
    lines
}

/// Splits a logical line; `None` when it has no `:` after its name.
pub fn parse_line(line: &str) -> Option<Property> {
    let bytes = line.as_bytes();
    let name_end = bytes.iter().position(|b| *b == b';' || *b == b':')?;
    let name = line[..name_end].trim().to_ascii_uppercase();
    if name.is_empty() {
        return None;
    }
    let mut params = Vec::new();
    let mut pos = name_end;
    while bytes.get(pos) == Some(&b';') {
        let eq = pos + 1 + line[pos + 1..].find('=')?;
        let pname = line[pos + 1..eq].trim().to_ascii_uppercase();
        let mut value = String::new();
        let mut i = eq + 1;
        let mut quoted = false;
        while i < bytes.len() {
            let c = bytes[i];
            if c == b'"' {
                quoted = !quoted;
            } else if !quoted && (c == b';' || c == b':') {
                break;
            } else {
                // copy the whole UTF-8 character
                let ch_len = line[i..].chars().next().map_or(1, char::len_utf8);
                value.push_str(&line[i..i + ch_len]);
                i += ch_len;
                continue;
            }
            i += 1;
        }
        params.push((pname, value));
        pos = i;
    }
    if bytes.get(pos) != Some(&b':') {
        return None;
    }
    Some(Property {
        name,
        params,
        value: line[pos + 1..].to_owned(),
    })
}

/// Reads the events of an iCalendar file's bytes.
pub fn read(text: &[u8]) -> Contents {
    let mut contents = Contents::default();
    // Components open around the current line; the event being read and
    // the depth it was opened at.
    let mut depth = 0usize;
    let mut event: Option<(usize, RawEvent)> = None;
    // The time zone being read, its depth, and whether an observance is open.
    let mut timezone: Option<(usize, RawTimezone, bool)> = None;
    for (offset, line) in logical_lines(text) {
        let Some(property) = parse_line(&line) else {
            contents.bad_lines.push(offset);
            continue;
        };
        let component = property.value.trim().to_ascii_uppercase();
        match property.name.as_str() {
            "BEGIN" => {
                depth += 1;
                if component == "VTIMEZONE" && timezone.is_none() && event.is_none() {
                    timezone = Some((depth, RawTimezone::default(), false));
                }
                if let Some((d, tz, open)) = timezone.as_mut() {
                    if depth == *d + 1 && (component == "STANDARD" || component == "DAYLIGHT") {
                        tz.observances.push(Vec::new());
                        *open = true;
                    }
                }
                if component == "VEVENT" && event.is_none() {
                    event = Some((
                        depth,
                        RawEvent {
                            offset,
                            properties: Vec::new(),
                        },
                    ));
                }
            }
            "END" => {
                if component == "VEVENT" && event.as_ref().is_some_and(|(d, _)| *d == depth) {
                    if let Some((_, e)) = event.take() {
                        contents.events.push(e);
                    }
                }
                if let Some((d, tz, open)) = timezone.as_mut() {
                    if depth == *d + 1 {
                        *open = false;
                    } else if depth == *d {
                        contents.timezones.push(std::mem::take(tz));
                        timezone = None;
                    }
                }
                depth = depth.saturating_sub(1);
            }
            _ => {
                if let Some((d, e)) = event.as_mut() {
                    if *d == depth {
                        e.properties.push(property);
                    }
                } else if let Some((d, tz, open)) = timezone.as_mut() {
                    if depth == *d && property.name == "TZID" {
                        tz.tzid = unescape_text(property.value.trim());
                    } else if depth == *d + 1 && *open {
                        if let Some(observance) = tz.observances.last_mut() {
                            observance.push(property);
                        }
                    }
                }
            }
        }
    }
    // An event left open at the end of the file is read as it stands.
    if let Some((_, e)) = event {
        contents.events.push(e);
    }
    contents
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_unfold_and_quoted_parameters_keep_their_separators() {
        let text = "BEGIN:VEVENT\r\nATTENDEE;CN=\"Doe, J: x\";PARTSTAT=DECLINED:mailto:j@\r\n example.com\r\nBEGIN:VALARM\r\nUID:alarm\r\nEND:VALARM\r\nUID:e1\r\nEND:VEVENT\r\n";
        let contents = read(text.as_bytes());
        assert_eq!(contents.events.len(), 1);
        let props = &contents.events[0].properties;
        assert_eq!(props.len(), 2, "the alarm's UID is not the event's");
        assert_eq!(props[0].param("CN"), Some("Doe, J: x"));
        assert_eq!(props[0].param("PARTSTAT"), Some("DECLINED"));
        assert_eq!(props[0].value, "mailto:j@example.com");
        assert_eq!(props[1].value, "e1");
    }

    #[test]
    fn offsets_count_bytes_even_after_invalid_utf8() {
        // Two bytes that are no UTF-8 read as two replacement characters,
        // six bytes of text: offsets in the text would be four too far.
        let text = b"BEGIN:VCALENDAR\nX-JUNK:\xff\xfe\nBEGIN:VEVENT\nUID:a\nEND:VEVENT\n";
        let contents = read(text);
        let at = contents.events[0].offset;
        assert!(text[at..].starts_with(b"BEGIN:VEVENT"), "offset {at}");
    }

    #[test]
    fn events_carry_their_offsets_and_bad_lines_are_listed() {
        let text =
            "BEGIN:VCALENDAR\nnonsense\nBEGIN:VEVENT\nUID:a\nEND:VEVENT\nBEGIN:VEVENT\nUID:b\n";
        let contents = read(text.as_bytes());
        assert_eq!(contents.bad_lines, [16]);
        let offsets: Vec<usize> = contents.events.iter().map(|e| e.offset).collect();
        assert_eq!(offsets, [25, 55]);
    }
}
