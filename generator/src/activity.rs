//! Emails and meetings of a synthetic tenant, written as canonical `jsonl`:
//! threads with replies, meetings in recurring series, one copy per org
//! mailbox that holds it (duplicates across mailboxes), content fields that
//! must never be kept (subjects with a marker), and the spec's edge cases.
//!
//! Copies differ as real mailboxes' do (ENGAGEMENT.md §2): only the
//! sender's copy of an email lists its `bcc`, and only the organizer's copy
//! of a meeting knows every attendee's response; an attendee's own copy
//! knows its own, and shows the others as `none`.

use std::fmt::Write as _;

use chrono::{DateTime, FixedOffset};

use crate::directory::People;
use crate::rng::Rng;

/// Seconds in a day.
const DAY: i64 = 86_400;
/// Offsets timestamps are written in, minutes east of UTC (0 is written `Z`).
const OFFSETS: [i32; 6] = [0, 60, 120, -240, -300, 540];
/// Meeting lengths, minutes.
const DURATIONS: [i64; 6] = [15, 30, 45, 60, 90, 120];

/// Where activity lands in time.
#[derive(Debug, Clone, Copy)]
pub struct TimeRange {
    /// First instant (a little before the window, so some records fall outside).
    pub start: i64,
    /// Last instant (a little after `as_of`).
    pub end: i64,
}

/// One line waiting for its mailbox copies: the JSON object without its
/// closing brace, and the org users whose mailboxes hold a copy, each with
/// what its copy alone says.
pub struct Record {
    /// `{"type":...` without the final `}`: what every copy says.
    pub body: String,
    /// (org user, JSON fields only that user's copy holds, each led by a
    /// comma), sorted by user, one per user.
    pub copies: Vec<(usize, String)>,
}

/// The same copy for each of `users` (sorted and deduplicated).
fn same_copies(mut users: Vec<usize>) -> Vec<(usize, String)> {
    users.sort_unstable();
    users.dedup();
    users.into_iter().map(|u| (u, String::new())).collect()
}

/// Writes `epoch` as RFC 3339 in one of [`OFFSETS`], sometimes with a fraction.
pub fn timestamp(rng: &mut Rng, epoch: i64) -> String {
    let minutes = *rng.pick(&OFFSETS);
    let fraction = if rng.chance(5) { ".250" } else { "" };
    let offset = FixedOffset::east_opt(minutes * 60)
        .unwrap_or(FixedOffset::east_opt(0).expect("zero offset"));
    let t = DateTime::from_timestamp(epoch, 0)
        .unwrap_or_default()
        .with_timezone(&offset);
    if minutes == 0 {
        format!("{}{fraction}Z", t.format("%Y-%m-%dT%H:%M:%S"))
    } else {
        format!(
            "{}{fraction}{}",
            t.format("%Y-%m-%dT%H:%M:%S"),
            t.format("%:z")
        )
    }
}

/// An address as a messy export might write it: mostly clean, sometimes in
/// upper case or padded.
fn messy(rng: &mut Rng, address: &str) -> String {
    match rng.below(100) {
        0..=2 => address.to_uppercase(),
        3..=4 => format!("  {address} "),
        _ => address.to_owned(),
    }
}

fn list(rng: &mut Rng, addresses: &[&str]) -> String {
    let items: Vec<String> = addresses
        .iter()
        .map(|a| format!("\"{}\"", messy(rng, a)))
        .collect();
    format!("[{}]", items.join(","))
}

/// Who takes part on each side of one account's conversation.
struct Cast<'a> {
    owners: Vec<usize>,
    people: &'a [String],
}

fn cast<'a>(rng: &mut Rng, people: &'a People, account: usize) -> Cast<'a> {
    let n = people.users.len();
    let owners = (0..1 + rng.below(3) as usize)
        .map(|k| (account * 7 + k * 13) % n)
        .collect();
    Cast {
        owners,
        people: &people.accounts[account].people,
    }
}

/// Emits one email thread (1-6 messages) with one account into `out`.
pub fn email_thread(
    rng: &mut Rng,
    people: &People,
    range: TimeRange,
    seed: u64,
    next_id: &mut u64,
    out: &mut Vec<Record>,
) {
    let account = people.activity.sample(rng);
    let cast = cast(rng, people, account);
    let conversation = *next_id;
    let mut t = range.start + rng.below((range.end - range.start) as u64) as i64;
    let mut org_sends = rng.chance(55);
    let mut previous: Option<String> = None;
    let length = 1 + rng.below(3) + rng.below(4);
    let user = *rng.pick(&cast.owners);
    let contact = rng.pick(cast.people).clone();
    for _ in 0..length {
        *next_id += 1;
        let id = format!("<m{seed}.{}@mail.example>", *next_id);
        let user_addr = people.users[user].address.trim().to_lowercase();
        let mut mailboxes = vec![user];
        let mut cc: Vec<String> = Vec::new();
        if rng.chance(30) {
            let colleague = *rng.pick(&cast.owners);
            if colleague != user {
                cc.push(people.users[colleague].address.trim().to_lowercase());
                mailboxes.push(colleague);
            }
        }
        if rng.chance(20) {
            cc.push(rng.pick(cast.people).clone());
        }
        if rng.chance(3) {
            cc.push(rng.pick(&people.outsiders).clone());
        }
        let (from, to) = if org_sends {
            (user_addr, contact.clone())
        } else {
            (contact.clone(), user_addr)
        };
        let cc_refs: Vec<&str> = cc.iter().map(String::as_str).collect();
        let mut body = format!(
            "{{\"type\":\"email\",\"message_id\":\"{id}\",\"sent_at\":\"{}\",\"from\":\"{}\",\"to\":{},\"cc\":{}",
            timestamp(rng, t),
            messy(rng, &from),
            list(rng, &[to.as_str()]),
            list(rng, &cc_refs),
        );
        // Only the sender's copy lists the bcc: an org user's, or none of
        // the org's mailboxes when the account writes.
        let bcc = rng
            .chance(2)
            .then(|| format!(",\"bcc\":[\"{}\"]", rng.pick(cast.people)));
        let _ = write!(body, ",\"subject\":\"CANARY-SUBJECT-{}\"", *next_id);
        if let Some(p) = &previous {
            let _ = write!(body, ",\"in_reply_to\":\"{p}\"");
        }
        let _ = write!(body, ",\"conversation_id\":\"conv-{seed}-{conversation}\"");
        let mut copies = same_copies(mailboxes);
        if let (true, Some(bcc)) = (org_sends, bcc) {
            for (mailbox, own) in &mut copies {
                if *mailbox == user {
                    own.push_str(&bcc);
                }
            }
        }
        out.push(Record { body, copies });
        previous = Some(id);
        org_sends = !org_sends;
        t += 300 + rng.below(3 * DAY as u64) as i64;
    }
}

/// Emits one email that reaches no account: internal, or from an outsider.
pub fn stray_email(
    rng: &mut Rng,
    people: &People,
    range: TimeRange,
    seed: u64,
    next_id: &mut u64,
    out: &mut Vec<Record>,
) {
    *next_id += 1;
    let n = people.users.len();
    let (a, b) = (rng.below(n as u64) as usize, rng.below(n as u64) as usize);
    let t = range.start + rng.below((range.end - range.start) as u64) as i64;
    let from = if rng.chance(50) {
        people.users[a].address.trim().to_lowercase()
    } else {
        rng.pick(&people.outsiders).clone()
    };
    let to = people.users[b].address.trim().to_lowercase();
    let body = format!(
        "{{\"type\":\"email\",\"message_id\":\"<m{seed}.{}@mail.example>\",\"sent_at\":\"{}\",\"from\":\"{from}\",\"to\":[\"{to}\"],\"cc\":[],\"subject\":\"CANARY-SUBJECT-{}\"",
        *next_id,
        timestamp(rng, t),
        *next_id
    );
    out.push(Record {
        body,
        copies: same_copies(vec![a, b]),
    });
}

/// A meeting's attendee: its address as written, and its real response.
struct Invitee {
    address: String,
    status: &'static str,
    kind: &'static str,
}

impl Invitee {
    /// The attendee as `mailbox`'s copy shows it: the real response in the
    /// organizer's copy and in the attendee's own, `none` elsewhere.
    fn json(&self, real_response: bool) -> String {
        let status = if real_response { self.status } else { "none" };
        format!(
            "{{\"email\":\"{}\",\"status\":\"{status}\",\"type\":\"{}\"}}",
            self.address, self.kind
        )
    }
}

fn attendee(rng: &mut Rng, address: &str, resource: bool) -> Invitee {
    let status = match rng.below(100) {
        0..=59 => "accepted",
        60..=74 => "tentative",
        75..=89 => "none",
        _ => "declined",
    };
    let kind = if resource {
        "resource"
    } else if rng.chance(70) {
        "required"
    } else {
        "optional"
    };
    Invitee {
        address: messy(rng, address),
        status,
        kind,
    }
}

/// Emits one meeting series (1-8 weekly occurrences) with one account;
/// returns the number of occurrences.
pub fn meeting_series(
    rng: &mut Rng,
    people: &People,
    range: TimeRange,
    seed: u64,
    series: u64,
    out: &mut Vec<Record>,
) -> u64 {
    let account = people.activity.sample(rng);
    let cast = cast(rng, people, account);
    let organizer_is_org = rng.chance(70);
    let users: Vec<usize> = cast.owners.clone();
    let contacts: Vec<&String> = (0..1 + rng.below(3))
        .map(|_| rng.pick(cast.people))
        .collect();
    let organizer = if organizer_is_org {
        people.users[users[0]].address.trim().to_lowercase()
    } else {
        contacts[0].clone()
    };
    let mut attendees: Vec<Invitee> = Vec::new();
    for u in users.iter().skip(usize::from(organizer_is_org)) {
        attendees.push(attendee(
            rng,
            &people.users[*u].address.trim().to_lowercase(),
            false,
        ));
    }
    for c in contacts.iter().skip(usize::from(!organizer_is_org)) {
        attendees.push(attendee(rng, c, false));
    }
    if rng.chance(20) {
        let room = format!("room-{}@contoso.com", rng.below(9));
        attendees.push(attendee(rng, &room, true));
    }
    attendees.dedup_by(|a, b| a.address == b.address);
    let all_day = rng.chance(2);
    let minutes = *rng.pick(&DURATIONS);
    let occurrences = if rng.chance(60) { 1 } else { 2 + rng.below(7) };
    let mut start = range.start + rng.below((range.end - range.start) as u64) as i64;
    start -= start % 60;
    if all_day {
        start -= start.rem_euclid(DAY);
    }
    for k in 0..occurrences {
        let t = start + k as i64 * 7 * DAY;
        let end = if all_day { t + DAY } else { t + minutes * 60 };
        let (s, e) = if all_day {
            (timestamp_utc(t), timestamp_utc(end))
        } else {
            let s = timestamp(rng, t);
            // The end in the same offset as the start, as calendars write it.
            let offset = &s[19..];
            (s.clone(), retime(end, offset))
        };
        let mut body = format!(
            "{{\"type\":\"meeting\",\"uid\":\"ev-{seed}-{series}-{k}\",\"start\":\"{s}\",\"end\":\"{e}\",\"organizer\":\"{}\",\"subject\":\"CANARY-MEETING-{series}\"",
            messy(rng, &organizer),
        );
        if all_day {
            body.push_str(",\"all_day\":true");
        }
        if rng.chance(3) {
            body.push_str(",\"cancelled\":true");
        }
        if occurrences > 1 {
            let _ = write!(body, ",\"series_id\":\"series-{seed}-{series}\"");
        }
        let mut copies = same_copies(users.clone());
        for (mailbox, own) in &mut copies {
            let me = people.users[*mailbox].address.trim().to_lowercase();
            let organizes = organizer_is_org && me == organizer;
            let list: Vec<String> = attendees
                .iter()
                .map(|a| a.json(organizes || a.address.trim().eq_ignore_ascii_case(&me)))
                .collect();
            let _ = write!(own, ",\"attendees\":[{}]", list.join(","));
        }
        out.push(Record { body, copies });
    }
    occurrences
}

fn timestamp_utc(epoch: i64) -> String {
    format!(
        "{}Z",
        DateTime::from_timestamp(epoch, 0)
            .unwrap_or_default()
            .format("%Y-%m-%dT%H:%M:%S")
    )
}

/// Writes `epoch` with the offset suffix of another timestamp (`Z`,
/// `.250Z`, `+01:00`, ...).
fn retime(epoch: i64, suffix: &str) -> String {
    let (fraction, zone) = match suffix.strip_prefix(".250") {
        Some(z) => (".250", z),
        None => ("", suffix),
    };
    if zone == "Z" {
        return format!(
            "{}{fraction}Z",
            DateTime::from_timestamp(epoch, 0)
                .unwrap_or_default()
                .format("%Y-%m-%dT%H:%M:%S")
        );
    }
    let sign = if zone.starts_with('-') { -1 } else { 1 };
    let hours: i32 = zone.get(1..3).and_then(|h| h.parse().ok()).unwrap_or(0);
    let minutes: i32 = zone.get(4..6).and_then(|m| m.parse().ok()).unwrap_or(0);
    let offset = FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
        .unwrap_or(FixedOffset::east_opt(0).expect("zero"));
    let t = DateTime::from_timestamp(epoch, 0)
        .unwrap_or_default()
        .with_timezone(&offset);
    format!("{}{fraction}{zone}", t.format("%Y-%m-%dT%H:%M:%S"))
}

/// Lines the spec says must be rejected or skipped, one set per tenant.
pub const EDGE_CASES: [&str; 9] = [
    "",
    "this is not json",
    "{\"type\":\"email\", \"message_id\": \"<bad6@x>\", \"sent_at\": ",
    "{\"type\":\"fax\",\"id\":1}",
    "{\"type\":\"email\",\"sent_at\":\"2026-01-01T00:00:00Z\",\"from\":\"a@b.com\",\"to\":[\"c@d.com\"]}",
    "{\"type\":\"email\",\"message_id\":\"<bad1@x>\",\"sent_at\":\"not-a-time\",\"from\":\"a@b.com\",\"to\":[]}",
    "{\"type\":\"email\",\"message_id\":\"<bad8@x>\",\"sent_at\":\"2026-01-01T00:00:00Z\",\"from\":\"no-at-sign\",\"to\":[\"c@d.com\"]}",
    "{\"type\":\"meeting\",\"uid\":\"bad4\",\"start\":\"2026-01-02T10:00:00Z\",\"end\":\"2026-01-02T09:00:00Z\",\"organizer\":\"a@contoso.com\",\"attendees\":[]}",
    "{\"type\":\"email\",\"message_id\":\"<bad9@x>\",\"sent_at\":\"2026-01-01T00:00:00Z\",\"from\":\"a@b.com\",\"to\":\"c@d.com\"}",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_keep_their_instant_in_any_offset() {
        let mut rng = Rng::new(3);
        for epoch in [0, 1_780_000_000, 1_790_000_123] {
            let text = timestamp(&mut rng, epoch);
            let parsed = chrono::DateTime::parse_from_rfc3339(&text)
                .expect("rfc3339")
                .timestamp();
            assert_eq!(parsed, epoch, "{text}");
            let again = retime(epoch + 60, &text[19..]);
            assert_eq!(
                chrono::DateTime::parse_from_rfc3339(&again)
                    .expect("rfc3339")
                    .timestamp(),
                epoch + 60
            );
        }
    }
}
