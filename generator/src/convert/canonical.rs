//! The records of a `jsonl` activity file, as the converter needs them:
//! every field kept as written, and whether Rapport's own reader accepts
//! the line.

use rapport_common::directory::Directory;
use rapport_formats::jsonl::parse_line;
use serde::Deserialize;

/// A canonical email.
#[derive(Debug, Clone, Deserialize)]
pub struct Email {
    /// `message_id`.
    pub message_id: String,
    /// `sent_at`, as written.
    pub sent_at: String,
    /// `from`.
    pub from: String,
    /// `to`.
    #[serde(default)]
    pub to: Option<Vec<String>>,
    /// `cc`.
    #[serde(default)]
    pub cc: Option<Vec<String>>,
    /// `bcc`.
    #[serde(default)]
    pub bcc: Option<Vec<String>>,
    /// `in_reply_to`.
    #[serde(default)]
    pub in_reply_to: Option<String>,
    /// `subject` (written out as content, never read back).
    #[serde(default)]
    pub subject: Option<String>,
    /// `mailbox`: whose mailbox this copy came from.
    #[serde(default)]
    pub mailbox: Option<String>,
}

/// A canonical attendee.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Attendee {
    /// `email`.
    #[serde(default)]
    pub email: Option<String>,
    /// `status`.
    #[serde(default)]
    pub status: Option<String>,
    /// `type`.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
}

/// A canonical meeting occurrence.
#[derive(Debug, Clone, Deserialize)]
pub struct Meeting {
    /// `uid`.
    pub uid: String,
    /// `start`, as written.
    pub start: String,
    /// `end`, as written.
    pub end: String,
    /// `organizer`.
    pub organizer: String,
    /// `attendees`.
    #[serde(default)]
    pub attendees: Option<Vec<Attendee>>,
    /// `cancelled`.
    #[serde(default)]
    pub cancelled: Option<bool>,
    /// `all_day`.
    #[serde(default)]
    pub all_day: Option<bool>,
    /// `series_id`.
    #[serde(default)]
    pub series_id: Option<String>,
    /// `subject`.
    #[serde(default)]
    pub subject: Option<String>,
    /// `mailbox`: whose mailbox this copy came from.
    #[serde(default)]
    pub mailbox: Option<String>,
}

impl Email {
    /// `to`, `cc` and `bcc`, each possibly absent.
    pub fn lists(&self) -> [&[String]; 3] {
        [&self.to, &self.cc, &self.bcc].map(|l| l.as_deref().unwrap_or_default())
    }
}

impl Meeting {
    /// The attendees, possibly absent.
    pub fn attendees(&self) -> &[Attendee] {
        self.attendees.as_deref().unwrap_or_default()
    }

    /// Start and end as epoch seconds (accepted meetings always have them).
    pub fn span(&self) -> (i64, i64) {
        let read = |t: &str| rapport_common::time::parse_rfc3339(t).unwrap_or_default();
        (read(&self.start), read(&self.end))
    }
}

/// One line of a `jsonl` file.
#[derive(Debug, Clone)]
pub enum Item {
    /// An email Rapport accepts.
    Email(Email),
    /// A meeting Rapport accepts.
    Meeting(Meeting),
    /// A line Rapport rejects, by the `type` it claims.
    Rejected(RejectedKind),
}

/// What a rejected line claims to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectedKind {
    /// `"type":"email"`.
    Email,
    /// `"type":"meeting"`.
    Meeting,
    /// Anything else, or not JSON.
    Other,
}

impl Item {
    /// Whose mailbox the copy came from, if the line says.
    pub fn mailbox(&self) -> Option<&str> {
        match self {
            Item::Email(e) => e.mailbox.as_deref(),
            Item::Meeting(m) => m.mailbox.as_deref(),
            Item::Rejected(_) => None,
        }
    }
}

/// A file's items by the mailbox each copy came from, mailboxes in the
/// order they first appear; items that name none (rejected lines) stay
/// with the mailbox before them, so each file's lines are all kept.
pub fn by_mailbox(items: Vec<Item>) -> Vec<Vec<Item>> {
    let mut groups: Vec<(Option<String>, Vec<Item>)> = Vec::new();
    for item in items {
        let at = match item.mailbox() {
            Some(m) => groups.iter().position(|(k, _)| k.as_deref() == Some(m)),
            None => groups.len().checked_sub(1),
        };
        match at {
            Some(i) => groups[i].1.push(item),
            None => {
                let key = item.mailbox().map(str::to_owned);
                groups.push((key, vec![item]));
            }
        }
    }
    groups.into_iter().map(|(_, items)| items).collect()
}

/// Reads the lines of a file; blank lines are left out.
pub fn read_file(text: &[u8]) -> Vec<Item> {
    let directory = Directory::default();
    text.split(|b| *b == b'\n')
        .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
        .map(|line| read_line(line, &directory))
        .collect()
}

fn read_line(line: &[u8], directory: &Directory) -> Item {
    let claimed = || {
        let value: Option<serde_json::Value> = serde_json::from_slice(line).ok();
        match value
            .as_ref()
            .and_then(|v| v.get("type"))
            .and_then(|t| t.as_str())
        {
            Some("email") => RejectedKind::Email,
            Some("meeting") => RejectedKind::Meeting,
            _ => RejectedKind::Other,
        }
    };
    if parse_line(line, directory).is_err() {
        return Item::Rejected(claimed());
    }
    match claimed() {
        RejectedKind::Email => {
            serde_json::from_slice(line).map_or(Item::Rejected(RejectedKind::Email), Item::Email)
        }
        RejectedKind::Meeting => serde_json::from_slice(line)
            .map_or(Item::Rejected(RejectedKind::Meeting), Item::Meeting),
        RejectedKind::Other => Item::Rejected(RejectedKind::Other),
    }
}
