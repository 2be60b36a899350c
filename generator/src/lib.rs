//! Synthetic, realistic tenants for Rapport (`rapport generate`, `rapport
//! demo`, tests and benchmarks): skewed account sizes, threads with replies,
//! recurring meetings, duplicates across mailboxes and the spec's edge
//! cases. The same options give the same bytes.
//!
//! # Layout
//! - [`rng`] — the deterministic generator.
//! - [`directory`] — org users, accounts, domains and contacts.
//! - [`activity`] — emails and meetings as `jsonl` lines.
//! - [`convert`] — a `jsonl` tenant written as Graph or mail exports.

pub mod activity;
pub mod convert;
pub mod directory;
pub mod rng;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use activity::{email_thread, meeting_series, stray_email, Record, TimeRange, EDGE_CASES};
use rng::Rng;

/// Tenant `as_of` (fixed, so a seed gives the same bytes on any day).
pub const AS_OF: &str = "2026-06-30";
/// Tenant time zone.
pub const TIMEZONE: &str = "Europe/Stockholm";
/// Most activity files written.
const MAX_FILES: usize = 64;

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Seed.
    pub seed: u64,
    /// Org users.
    pub users: u32,
    /// Accounts.
    pub accounts: u32,
    /// Distinct emails (each written once per org mailbox holding it).
    pub emails: u64,
    /// Distinct meeting occurrences.
    pub meetings: u64,
}

/// What was written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenerateSummary {
    /// Lines written to activity files (copies, edge cases and blanks included).
    pub lines: u64,
    /// Distinct emails.
    pub emails: u64,
    /// Distinct meeting occurrences.
    pub meetings: u64,
    /// Bytes of activity.
    pub bytes: u64,
}

/// A generation that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {source}")]
pub struct GenerateError {
    /// The file.
    pub path: String,
    /// The cause.
    pub source: std::io::Error,
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> GenerateError + '_ {
    move |source| GenerateError {
        path: path.display().to_string(),
        source,
    }
}

/// Writes a tenant into `out`: tenant.toml, the three CSVs and activity/*.jsonl.
pub fn generate(options: &GenerateOptions, out: &Path) -> Result<GenerateSummary, GenerateError> {
    let mut rng = Rng::new(options.seed);
    let people = directory::build(&mut rng, options.users.max(2), options.accounts.max(1));
    let activity_dir = out.join("activity");
    std::fs::create_dir_all(&activity_dir).map_err(io_err(&activity_dir))?;
    write_tables(out, options, &people)?;

    let as_of = chrono::NaiveDate::parse_from_str(AS_OF, "%Y-%m-%d").expect("AS_OF is a date");
    let end = as_of
        .and_hms_opt(23, 0, 0)
        .expect("valid time")
        .and_utc()
        .timestamp()
        + 5 * 86_400;
    let range = TimeRange {
        start: end - 385 * 86_400,
        end,
    };

    let num_files = (options.users as usize).clamp(1, MAX_FILES);
    let mut files = Vec::with_capacity(num_files);
    for i in 0..num_files {
        let path = activity_dir.join(format!("mailbox-{i:04}.jsonl"));
        files.push((
            BufWriter::with_capacity(1 << 16, File::create(&path).map_err(io_err(&path))?),
            path,
        ));
    }
    let mut summary = GenerateSummary::default();
    let mut records: Vec<Record> = Vec::new();
    let mut next_id = 0;
    let mut series = 0;
    let mut write_batch =
        |records: &mut Vec<Record>, summary: &mut GenerateSummary| -> Result<(), GenerateError> {
            for r in records.drain(..) {
                for (m, own) in &r.copies {
                    let m = *m;
                    let mailbox = people.users[m].address.trim().to_lowercase();
                    let line = format!("{}{own},\"mailbox\":\"{mailbox}\"}}\n", r.body);
                    let (file, path) = &mut files[m % num_files];
                    file.write_all(line.as_bytes()).map_err(io_err(path))?;
                    summary.lines += 1;
                    summary.bytes += line.len() as u64;
                }
            }
            Ok(())
        };
    while summary.emails < options.emails || summary.meetings < options.meetings {
        if summary.emails < options.emails {
            let before = records.len();
            if rng.chance(8) {
                stray_email(
                    &mut rng,
                    &people,
                    range,
                    options.seed,
                    &mut next_id,
                    &mut records,
                );
            } else {
                email_thread(
                    &mut rng,
                    &people,
                    range,
                    options.seed,
                    &mut next_id,
                    &mut records,
                );
            }
            summary.emails += (records.len() - before) as u64;
        }
        if summary.meetings < options.meetings && rng.chance(40) {
            series += 1;
            summary.meetings +=
                meeting_series(&mut rng, &people, range, options.seed, series, &mut records);
        }
        if records.len() > 4096 {
            write_batch(&mut records, &mut summary)?;
        }
    }
    write_batch(&mut records, &mut summary)?;
    for (i, line) in EDGE_CASES.iter().enumerate() {
        let (file, path) = &mut files[i % num_files];
        writeln!(file, "{line}").map_err(io_err(path))?;
        summary.lines += 1;
        summary.bytes += line.len() as u64 + 1;
    }
    for (mut file, path) in files {
        file.flush().map_err(io_err(&path))?;
    }
    Ok(summary)
}

fn write_tables(
    out: &Path,
    options: &GenerateOptions,
    people: &directory::People,
) -> Result<(), GenerateError> {
    let write = |name: &str, text: String| {
        let path = out.join(name);
        std::fs::write(&path, text).map_err(io_err(&path))
    };
    write(
        "tenant.toml",
        format!(
            "[tenant]\nid = \"generated-{}\"\ntimezone = \"{TIMEZONE}\"\nas_of = \"{AS_OF}\"\nwindow_days = 365\n\n\
[inputs]\norg_users = \"org_users.csv\"\ncontacts = \"contacts.csv\"\naccount_domains = \"account_domains.csv\"\n\n\
[[inputs.activity]]\nformat = \"jsonl\"\npath = \"activity/*.jsonl\"\n",
            options.seed
        ),
    )?;
    let mut org = String::from("email,aad_object_id\n");
    for (i, u) in people.users.iter().enumerate() {
        // A few addresses as a directory export might hold them.
        let address = match i % 17 {
            3 => u.address.to_uppercase(),
            5 => format!(" {}", u.address),
            _ => u.address.clone(),
        };
        org.push_str(&format!("{address},{}\n", u.aad));
    }
    write("org_users.csv", org)?;
    let mut contacts = String::from("email,account_id\n");
    let mut domains = String::from("domain,account_id\n");
    for a in &people.accounts {
        for c in &a.listed {
            contacts.push_str(&format!("{c},{}\n", a.id));
        }
        for d in &a.domains {
            domains.push_str(&format!("{d},{}\n", a.id));
        }
    }
    write("contacts.csv", contacts)?;
    write("account_domains.csv", domains)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde_json::Value;

    use super::*;

    /// Every copy the generator wrote, by record id.
    fn copies(dir: &Path) -> HashMap<String, Vec<Value>> {
        let mut by_id: HashMap<String, Vec<Value>> = HashMap::new();
        for entry in std::fs::read_dir(dir.join("activity"))
            .expect("activity")
            .flatten()
        {
            let text = std::fs::read_to_string(entry.path()).expect("text");
            for line in text.lines() {
                let Ok(v) = serde_json::from_str::<Value>(line) else {
                    continue;
                };
                if let Some(id) = v.get("message_id").or(v.get("uid")).and_then(Value::as_str) {
                    by_id.entry(id.to_owned()).or_default().push(v);
                }
            }
        }
        by_id
    }

    fn text(v: &Value, field: &str) -> String {
        v[field].as_str().unwrap_or_default().trim().to_lowercase()
    }

    #[test]
    fn copies_differ_as_real_mailboxes_do() {
        let dir = tempfile::tempdir().expect("dir");
        let options = GenerateOptions {
            seed: 4,
            users: 8,
            accounts: 10,
            emails: 3000,
            meetings: 600,
        };
        generate(&options, dir.path()).expect("generated");
        let (mut bcc, mut other_responses) = (0, 0);
        for (id, copies) in copies(dir.path()) {
            for copy in &copies {
                let mailbox = text(copy, "mailbox");
                if copy["type"] == "email" && copy.get("bcc").is_some() {
                    assert_eq!(
                        mailbox,
                        text(copy, "from"),
                        "{id}: bcc outside the sender's copy"
                    );
                    bcc += 1;
                }
                if copy["type"] == "meeting" && mailbox != text(copy, "organizer") {
                    for a in copy["attendees"].as_array().expect("attendees") {
                        if text(a, "email") != mailbox && a["status"] != "none" {
                            panic!("{id}: {mailbox}'s copy knows another's response");
                        }
                    }
                }
            }
            // The organizer's copy, when an org mailbox holds one, knows them.
            let statuses = |c: &Value| {
                c["attendees"]
                    .as_array()
                    .map_or(0, |a| a.iter().filter(|a| a["status"] != "none").count())
            };
            if copies.len() > 1 && copies[0]["type"] == "meeting" {
                let most = copies.iter().map(statuses).max().unwrap_or(0);
                let least = copies.iter().map(statuses).min().unwrap_or(0);
                other_responses += usize::from(most > least);
            }
        }
        assert!(bcc > 0, "some emails have a bcc");
        assert!(
            other_responses > 0,
            "some meetings' copies differ in responses"
        );
    }
}
