//! The aggregate step of one key partition: merge copies ([`crate::merge`]),
//! keep the window, apply the rules, and emit partials by account
//! partition, reply probes by key partition of the original, and the
//! originals this partition holds.

use rustc_hash::FxHashMap;

use serde::{Deserialize, Serialize};

use crate::counters::RunCounters;
use crate::directory::{AccountIdx, Party};
use crate::merge::{merge, MergeError, Winners};
use crate::partial::{PartialAggregate, PeriodKey, PeriodPartial, Timeline};
use crate::period::Level;
use crate::plan::RunContext;
use crate::record::{
    partition_bits, RecordKey, StagedCopy, StagedEmail, StagedMeeting, StagedRecord,
};
use crate::rules::interactions;
use crate::time::{Day, LocalDays};
use crate::touches::Touches;

/// An email whose sender is an org user: a reply may point at it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Original {
    /// Its message id, hashed.
    pub key: RecordKey,
    /// When it was sent.
    pub sent_at: i64,
}

/// An email counting from an account, with an `in_reply_to`, looking for its original.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ReplyProbe {
    /// The `in_reply_to` it points at, hashed.
    pub target: RecordKey,
    /// When the reply was sent.
    pub sent_at: i64,
    /// The account it counts from.
    pub account: AccountIdx,
    /// Its local date.
    pub day: Day,
}

/// What one key partition produced.
#[derive(Debug, Default)]
pub struct AggregateOutput {
    /// Partials by account partition.
    pub partials: Vec<PartialAggregate>,
    /// Reply probes by reply partition of their target ([`RunContext::reply_partition`]).
    pub probes: Vec<Vec<ReplyProbe>>,
    /// Originals held by this partition, sorted by key.
    pub originals: Vec<Original>,
    /// Duplicates, window, counted.
    pub counters: RunCounters,
}

/// A partial under construction: hash maps, lists unsorted.
#[derive(Default)]
struct Builder {
    periods: FxHashMap<PeriodKey, PeriodPartial>,
    timelines: FxHashMap<AccountIdx, Timeline>,
}

impl Builder {
    fn finish(self) -> PartialAggregate {
        let mut agg = PartialAggregate {
            periods: self.periods.into_iter().collect(),
            timelines: self.timelines.into_iter().collect(),
        };
        agg.tidy();
        agg
    }
}

/// Runs the aggregate step over every staged copy of one key partition,
/// sorted by [`crate::merge::sort_copies`]; `winners` decides the
/// partition's conflicts.
pub fn aggregate(
    copies: Vec<StagedCopy>,
    winners: &Winners,
    ctx: &RunContext,
) -> Result<AggregateOutput, MergeError> {
    let window = ctx.window();
    let mut local_days = LocalDays::new(ctx.settings.tz());
    let merged = merge(copies, winners)?;
    let records = merged.records;
    let mut counters = RunCounters {
        duplicates: merged.duplicates,
        ..RunCounters::default()
    };
    let mut all = Touches::with_capacity(records.len());
    let mut probes = vec![Vec::new(); ctx.reply_partitions() as usize];
    let mut originals = Vec::new();
    for record in &records {
        match record {
            StagedRecord::Email(e) => {
                if matches!(e.sender, Party::Org(_)) {
                    originals.push(Original {
                        key: e.key,
                        sent_at: e.sent_at,
                    });
                }
                let day = local_days.day(e.sent_at);
                if !window.contains(day) {
                    counters.out_of_window += 1;
                    continue;
                }
                email(e, day, ctx, &mut all, &mut probes, &mut counters);
            }
            StagedRecord::Meeting(m) => {
                // Cancelled and all-day meetings are ignored wherever they fall.
                if m.is_ignored() {
                    counters.ignored_meetings += 1;
                    continue;
                }
                let day = local_days.day(m.start);
                if !window.contains(day) {
                    counters.out_of_window += 1;
                    continue;
                }
                meeting(m, day, &mut all, &mut counters);
            }
        }
    }
    drop(records);
    originals.sort_unstable();
    probes.iter_mut().for_each(|p| p.sort_unstable());
    let partials = all.into_partials(ctx.account_partitions, |a| ctx.account_partition(a));
    Ok(AggregateOutput {
        partials,
        probes,
        originals,
        counters,
    })
}

fn email(
    e: &StagedEmail,
    day: Day,
    ctx: &RunContext,
    all: &mut Touches,
    probes: &mut [Vec<ReplyProbe>],
    counters: &mut RunCounters,
) {
    let found = interactions(e.sender, &e.recipients);
    if found.is_empty() {
        counters.emails_without_account += 1;
        return;
    }
    counters.emails_counted += 1;
    for i in &found {
        all.add(i, day, None);
        if let (true, Some(target)) = (i.from_account, &e.in_reply_to) {
            let p = ctx.reply_partition(ctx.key_partition(partition_bits(*target))) as usize;
            probes[p].push(ReplyProbe {
                target: *target,
                sent_at: e.sent_at,
                account: i.account,
                day,
            });
        }
    }
}

fn meeting(m: &StagedMeeting, day: Day, all: &mut Touches, counters: &mut RunCounters) {
    let found = interactions(m.organizer, &m.participants());
    if found.is_empty() {
        counters.meetings_without_account += 1;
        return;
    }
    counters.meetings_counted += 1;
    for i in &found {
        all.add(i, day, Some(m.end - m.start));
    }
}

/// Joins the reply probes aimed at one reply partition with its originals:
/// a reply counts when its original's sender is an org user and it was sent
/// later; its reply time goes to the reply's account and periods.
pub fn replies(originals: &[Original], probes: &[ReplyProbe]) -> (PartialAggregate, u64) {
    let by_key: FxHashMap<RecordKey, i64> = originals.iter().map(|o| (o.key, o.sent_at)).collect();
    let mut all = Builder::default();
    let mut matched = 0;
    for probe in probes {
        let Some(&original_sent) = by_key.get(&probe.target) else {
            continue;
        };
        if probe.sent_at <= original_sent {
            continue;
        }
        matched += 1;
        for (level, start) in Level::ALL.into_iter().zip(period_starts(probe.day)) {
            let key = PeriodKey {
                account: probe.account,
                level,
                start,
            };
            let p = all.periods.entry(key).or_default();
            p.reply_seconds += probe.sent_at - original_sent;
            p.replies += 1;
        }
    }
    (all.finish(), matched)
}

/// First days of the year, month and week holding `day`.
fn period_starts(day: Day) -> [Day; 3] {
    Level::ALL.map(|level| level.start(day))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the aggregate step over records (each its own copy, no conflicts).
    fn run(records: Vec<StagedRecord>, ctx: &RunContext) -> AggregateOutput {
        let mut copies: Vec<StagedCopy> = records
            .into_iter()
            .map(|record| StagedCopy {
                source: crate::record::SourceRef::default(),
                record,
            })
            .collect();
        crate::merge::sort_copies(&mut copies);
        aggregate(copies, &Winners::default(), ctx).expect("merges")
    }

    fn ctx(timezone: &str) -> RunContext {
        RunContext {
            run_id: "t".to_owned(),
            settings: crate::tenant::TenantSettings {
                id: "t".to_owned(),
                timezone: timezone.to_owned(),
                as_of: chrono::NaiveDate::from_ymd_opt(2026, 6, 30).expect("date"),
                window_days: 365,
                weights: crate::score::DEFAULT_WEIGHTS,
                min_org_people: 0,
            },
            directory: crate::directory::Directory {
                accounts: vec!["A".to_owned()],
                ..Default::default()
            },
            shard_groups: vec![],
            key_partitions: 1,
            account_partitions: 1,
            staged_batch_bytes: 1 << 20,
        }
    }

    fn at(text: &str) -> i64 {
        crate::time::parse_rfc3339(text).expect("timestamp")
    }

    fn meeting(uid: &str, start: &str, end: &str, cancelled: bool) -> StagedRecord {
        StagedRecord::Meeting(StagedMeeting {
            key: crate::record::meeting_key(uid),
            start: at(start),
            end: at(end),
            organizer: Party::Org(1),
            attendees: vec![crate::record::Attendee {
                party: Party::Account(0, 7),
                excluded: false,
            }],
            cancelled,
            all_day: false,
        })
    }

    fn only_row(out: &AggregateOutput, level: Level) -> PeriodPartial {
        let rows: Vec<_> = out.partials[0]
            .periods
            .iter()
            .filter(|(k, _)| k.level == level)
            .collect();
        assert_eq!(rows.len(), 1, "{rows:?}");
        rows[0].1.clone()
    }

    #[test]
    fn cancelled_and_all_day_meetings_are_ignored() {
        let out = run(
            vec![
                meeting("a", "2026-03-03T10:00:00Z", "2026-03-03T10:30:00Z", true),
                meeting("b", "2026-03-04T10:00:00Z", "2026-03-04T10:30:00Z", false),
            ],
            &ctx("UTC"),
        );
        assert_eq!(
            (out.counters.ignored_meetings, out.counters.meetings_counted),
            (1, 1)
        );
        assert_eq!(only_row(&out, Level::Year).meetings_to, 1);
    }

    #[test]
    fn meeting_duration_is_elapsed_time_across_a_daylight_saving_change() {
        // Stockholm springs forward at 02:00 on 2026-03-29: 01:30 to 03:30
        // local is one real hour.
        let out = run(
            vec![meeting(
                "dst",
                "2026-03-29T01:30:00+01:00",
                "2026-03-29T03:30:00+02:00",
                false,
            )],
            &ctx("Europe/Stockholm"),
        );
        assert_eq!(only_row(&out, Level::Week).meeting_seconds, 3600);
    }

    #[test]
    fn records_outside_the_window_do_not_count_but_rows_start_at_their_period() {
        let out = run(
            vec![
                meeting("old", "2025-06-30T12:00:00Z", "2025-06-30T13:00:00Z", false),
                meeting(
                    "first",
                    "2025-07-01T12:00:00Z",
                    "2025-07-01T13:00:00Z",
                    false,
                ),
            ],
            &ctx("UTC"),
        );
        assert_eq!(out.counters.out_of_window, 1);
        // The window starts 2025-07-01 (a Tuesday); the week row starts on Monday.
        let week = out.partials[0]
            .periods
            .keys()
            .find(|k| k.level == Level::Week)
            .expect("week row");
        assert_eq!(crate::time::format_day(week.start), "2025-06-30");
        let year = out.partials[0]
            .periods
            .keys()
            .find(|k| k.level == Level::Year)
            .expect("year row");
        assert_eq!(crate::time::format_day(year.start), "2025-01-01");
    }

    fn mail(
        id: &str,
        sent: &str,
        sender: Party,
        recipients: Vec<Party>,
        in_reply_to: Option<&str>,
    ) -> StagedRecord {
        StagedRecord::Email(StagedEmail {
            key: crate::record::email_key(id),
            sent_at: at(sent),
            sender,
            recipients,
            in_reply_to: in_reply_to.map(crate::record::email_key),
        })
    }

    fn reply_seconds(records: Vec<StagedRecord>) -> (i64, u32) {
        let c = ctx("UTC");
        let out = run(records, &c);
        let probes: Vec<ReplyProbe> = out.probes.concat();
        let (partial, _) = replies(&out.originals, &probes);
        partial
            .periods
            .iter()
            .find(|(k, _)| k.level == Level::Year)
            .map_or((0, 0), |(_, p)| (p.reply_seconds, p.replies))
    }

    #[test]
    fn reply_from_account_counts_when_the_original_was_sent_earlier_by_an_org_user() {
        let org = Party::Org(1);
        let bo = Party::Account(0, 7);
        // The original lies outside the window and reaches no account: it still counts.
        let original = mail(
            "<m0>",
            "2025-01-01T10:00:00Z",
            org,
            vec![Party::Org(2)],
            None,
        );
        let reply = mail(
            "<m1>",
            "2025-07-02T10:00:00Z",
            bo,
            vec![org],
            Some(" <m0> "),
        );
        let (secs, n) = reply_seconds(vec![original, reply]);
        assert_eq!(n, 1);
        assert_eq!(
            secs,
            at("2025-07-02T10:00:00Z") - at("2025-01-01T10:00:00Z")
        );
    }

    #[test]
    fn reply_does_not_count_when_the_original_is_from_outside_or_later() {
        let org = Party::Org(1);
        let bo = Party::Account(0, 7);
        let from_account = mail("<m0>", "2026-01-01T10:00:00Z", bo, vec![org], None);
        let reply = mail("<m1>", "2026-01-02T10:00:00Z", bo, vec![org], Some("<m0>"));
        assert_eq!(reply_seconds(vec![from_account, reply]).1, 0);
        let later = mail("<m2>", "2026-01-03T10:00:00Z", org, vec![bo], None);
        let early = mail("<m3>", "2026-01-02T10:00:00Z", bo, vec![org], Some("<m2>"));
        assert_eq!(reply_seconds(vec![later, early]).1, 0);
        let missing = mail(
            "<m4>",
            "2026-01-02T10:00:00Z",
            bo,
            vec![org],
            Some("<nowhere>"),
        );
        assert_eq!(reply_seconds(vec![missing]).1, 0);
    }
}
