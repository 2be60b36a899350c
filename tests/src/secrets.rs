//! What must never leave the engine but in `office_users.csv`: every
//! address, message id and uid a tenant's inputs hold, found without the
//! engine's parsers (an address is any token with an `@`; ids are read from
//! the fields and header lines that carry them), and searched for in any
//! case, in text or in binary blobs.

use std::collections::BTreeSet;
use std::path::Path;

/// Shortest id searched for: shorter ones (`ev7`, `1`) would match by chance.
const MIN_ID_LEN: usize = 6;

/// The secrets of every file under `dir` (inputs, tables), lower-cased.
pub fn secrets_of(dir: &Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                collect(&String::from_utf8_lossy(&bytes), &mut found);
            }
        }
    }
    found
}

/// Separators of the tokens an address or id may be.
fn is_separator(c: char) -> bool {
    c.is_whitespace() || "\"'<>,;:()[]{}\\=".contains(c)
}

fn collect(text: &str, found: &mut BTreeSet<String>) {
    for token in text.split(is_separator) {
        let token = token.trim_matches('.');
        if token.contains('@') && token.len() >= 5 && !token.starts_with('@') {
            found.insert(token.to_lowercase());
        }
    }
    // Ids: JSON fields, iCalendar and mail header lines.
    for field in [
        "\"message_id\":\"",
        "\"in_reply_to\":\"",
        "\"uid\":\"",
        "\"internetMessageId\":\"",
        "\"iCalUId\":\"",
    ] {
        for (at, _) in text.match_indices(field) {
            let value = &text[at + field.len()..];
            let value = &value[..value.find('"').unwrap_or(value.len())];
            insert_id(value, found);
        }
    }
    for line in text.lines() {
        for prefix in ["UID:", "Message-ID:", "In-Reply-To:"] {
            if let Some(value) = line.strip_prefix(prefix) {
                insert_id(value, found);
            }
        }
    }
}

fn insert_id(value: &str, found: &mut BTreeSet<String>) {
    let id = value.trim().trim_start_matches('<').trim_end_matches('>');
    if id.len() >= MIN_ID_LEN {
        found.insert(id.to_lowercase());
    }
}

/// The first secret that `text` holds, in any case.
pub fn find_in<'s>(text: &str, secrets: &'s BTreeSet<String>) -> Option<&'s str> {
    let text = text.to_lowercase();
    secrets
        .iter()
        .find(|s| text.contains(s.as_str()))
        .map(String::as_str)
}

/// The first secret that `bytes` holds, read as text, in any case.
pub fn find_in_bytes<'s>(bytes: &[u8], secrets: &'s BTreeSet<String>) -> Option<&'s str> {
    find_in(&String::from_utf8_lossy(bytes), secrets)
}

/// Asserts that `text` (logs, say) holds no subject marker (`CANARY`) and
/// no secret of the inputs under `tenant_dir`, in any case.
pub fn assert_no_secret_of(text: &str, tenant_dir: &Path) {
    let secrets = secrets_of(tenant_dir);
    assert!(!secrets.is_empty(), "{tenant_dir:?} holds no input");
    assert!(
        !text.contains("CANARY"),
        "a subject of {tenant_dir:?} got out"
    );
    if let Some(secret) = find_in(text, &secrets) {
        panic!("{secret:?} of {tenant_dir:?} got out");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_ids_of_every_format_are_found() {
        let mut found = BTreeSet::new();
        collect(
            "{\"message_id\":\"<m1@mail.example>\",\"from\":\"Anna@Contoso.COM\",\"uid\":\"ev-101-7\"}\n\
             ORGANIZER;CN=x:mailto:bo@fabrikam.com\nUID:series-42\nTo: \"Doe, J\" <j.doe@acct8.net>\n\
             Message-ID: <plain-id-77>",
            &mut found,
        );
        for s in [
            "m1@mail.example",
            "anna@contoso.com",
            "ev-101-7",
            "bo@fabrikam.com",
            "series-42",
            "j.doe@acct8.net",
            "plain-id-77",
        ] {
            assert!(found.contains(s), "{s} in {found:?}");
        }
        assert_eq!(
            find_in("x BO@FABRIKAM.COM y", &found),
            Some("bo@fabrikam.com")
        );
        assert_eq!(find_in("nothing here", &found), None);
    }
}
