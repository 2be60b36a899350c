//! `PartialAggregate`: what a job contributes to accounts, and its merge.
//!
//! Counts add, people sets unite, day sets unite: merge is associative,
//! commutative, and the store applies each job's partial once, so the result
//! is independent of how the work was partitioned and in which order it ran.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::directory::AccountIdx;
use crate::period::Level;
use crate::time::Day;

/// One row's identity: (account, level, first day of the period).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PeriodKey {
    /// The account.
    pub account: AccountIdx,
    /// The level.
    pub level: Level,
    /// First day of the period.
    pub start: Day,
}

/// Additive figures of one (account, level, period).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodPartial {
    /// Emails to the account.
    pub emails_to: u32,
    /// Emails from the account.
    pub emails_from: u32,
    /// Meetings started by the account.
    pub meetings_from: u32,
    /// Meetings started by the organization.
    pub meetings_to: u32,
    /// Org people in those meetings (sorted, distinct person ids).
    pub org_meetings: Vec<u64>,
    /// Org people in those emails.
    pub org_emails: Vec<u64>,
    /// Account people in those meetings.
    pub account_meetings: Vec<u64>,
    /// Account people in those emails.
    pub account_emails: Vec<u64>,
    /// Sum of meeting durations, whole seconds.
    pub meeting_seconds: i64,
    /// Sum of reply times, whole seconds.
    pub reply_seconds: i64,
    /// Number of replies.
    pub replies: u32,
}

/// Local dates of an account's counted emails and meetings in the window.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeline {
    /// Days with a counted email (sorted, distinct).
    pub email_days: Vec<Day>,
    /// Days with a counted meeting (sorted, distinct).
    pub meeting_days: Vec<Day>,
}

/// A job's contribution: period figures and timelines, by account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartialAggregate {
    /// Figures per row.
    pub periods: BTreeMap<PeriodKey, PeriodPartial>,
    /// Timelines per account.
    pub timelines: BTreeMap<AccountIdx, Timeline>,
}

/// Sorted union of two sorted, distinct lists.
pub fn union_sorted<T: Ord + Copy>(a: &[T], b: &[T]) -> Vec<T> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => {
                out.push(a[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(b[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

fn unite<T: Ord + Copy>(into: &mut Vec<T>, other: &[T]) {
    if !other.is_empty() {
        *into = union_sorted(into, other);
    }
}

impl PeriodPartial {
    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &PeriodPartial) {
        self.emails_to += other.emails_to;
        self.emails_from += other.emails_from;
        self.meetings_from += other.meetings_from;
        self.meetings_to += other.meetings_to;
        unite(&mut self.org_meetings, &other.org_meetings);
        unite(&mut self.org_emails, &other.org_emails);
        unite(&mut self.account_meetings, &other.account_meetings);
        unite(&mut self.account_emails, &other.account_emails);
        self.meeting_seconds += other.meeting_seconds;
        self.reply_seconds += other.reply_seconds;
        self.replies += other.replies;
    }

    /// Adds `other`'s counts and appends its lists unsorted; call
    /// [`tidy`](Self::tidy) afterwards.
    pub fn append(&mut self, other: &PeriodPartial) {
        self.emails_to += other.emails_to;
        self.emails_from += other.emails_from;
        self.meetings_from += other.meetings_from;
        self.meetings_to += other.meetings_to;
        self.org_meetings.extend_from_slice(&other.org_meetings);
        self.org_emails.extend_from_slice(&other.org_emails);
        self.account_meetings
            .extend_from_slice(&other.account_meetings);
        self.account_emails.extend_from_slice(&other.account_emails);
        self.meeting_seconds += other.meeting_seconds;
        self.reply_seconds += other.reply_seconds;
        self.replies += other.replies;
    }

    /// Sorts and dedupes the people lists (after unsorted pushes).
    pub fn tidy(&mut self) {
        for list in [
            &mut self.org_meetings,
            &mut self.org_emails,
            &mut self.account_meetings,
            &mut self.account_emails,
        ] {
            list.sort_unstable();
            list.dedup();
        }
    }
}

impl Timeline {
    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &Timeline) {
        unite(&mut self.email_days, &other.email_days);
        unite(&mut self.meeting_days, &other.meeting_days);
    }

    /// Sorts and dedupes (after unsorted pushes).
    pub fn tidy(&mut self) {
        self.email_days.sort_unstable();
        self.email_days.dedup();
        self.meeting_days.sort_unstable();
        self.meeting_days.dedup();
    }
}

impl PartialAggregate {
    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &PartialAggregate) {
        for (key, p) in &other.periods {
            self.periods.entry(*key).or_default().merge(p);
        }
        for (account, t) in &other.timelines {
            self.timelines.entry(*account).or_default().merge(t);
        }
    }

    /// Merges many partials at once: lists are concatenated and sorted once
    /// at the end, which gives the same result as pairwise [`merge`](Self::merge)
    /// at a fraction of the copying.
    pub fn merge_all<'a>(
        parts: impl IntoIterator<Item = &'a PartialAggregate>,
    ) -> PartialAggregate {
        let mut out = PartialAggregate::default();
        out.absorb_all(parts);
        out
    }

    /// Merges many partials into `self` in place, as [`merge_all`](Self::merge_all)
    /// does: a job that merges its inputs a batch at a time holds the merged
    /// partial once, not twice.
    pub fn absorb_all<'a>(&mut self, parts: impl IntoIterator<Item = &'a PartialAggregate>) {
        for part in parts {
            for (key, p) in &part.periods {
                self.periods.entry(*key).or_default().append(p);
            }
            for (account, t) in &part.timelines {
                let mine = self.timelines.entry(*account).or_default();
                mine.email_days.extend_from_slice(&t.email_days);
                mine.meeting_days.extend_from_slice(&t.meeting_days);
            }
        }
        self.tidy();
    }

    /// Sorts and dedupes every list (after unsorted pushes).
    pub fn tidy(&mut self) {
        self.periods.values_mut().for_each(PeriodPartial::tidy);
        self.timelines.values_mut().for_each(Timeline::tidy);
    }

    /// Splits by account partition (`partition_of(account)`), keeping order.
    pub fn split(
        self,
        num_parts: u32,
        partition_of: impl Fn(AccountIdx) -> u32,
    ) -> Vec<PartialAggregate> {
        let mut periods = vec![Vec::new(); num_parts as usize];
        for (key, p) in self.periods {
            periods[partition_of(key.account) as usize].push((key, p));
        }
        let mut timelines = vec![Vec::new(); num_parts as usize];
        for (account, t) in self.timelines {
            timelines[partition_of(account) as usize].push((account, t));
        }
        PartialAggregate::from_sorted_parts(periods, timelines)
    }

    /// One partial per part, from each part's entries already in key order:
    /// its maps are built in one pass rather than by insertion.
    pub(crate) fn from_sorted_parts(
        periods: Vec<Vec<(PeriodKey, PeriodPartial)>>,
        timelines: Vec<Vec<(AccountIdx, Timeline)>>,
    ) -> Vec<PartialAggregate> {
        periods
            .into_iter()
            .zip(timelines)
            .map(|(periods, timelines)| PartialAggregate {
                periods: periods.into_iter().collect(),
                timelines: timelines.into_iter().collect(),
            })
            .collect()
    }

    /// True when it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.periods.is_empty() && self.timelines.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_list() -> impl Strategy<Value = Vec<u64>> {
        proptest::collection::btree_set(0u64..20, 0..6).prop_map(|s| s.into_iter().collect())
    }

    fn arb_period() -> impl Strategy<Value = PeriodPartial> {
        (
            0u32..5,
            0u32..5,
            0u32..5,
            0u32..5,
            arb_list(),
            arb_list(),
            arb_list(),
            arb_list(),
            0i64..5000,
            0u32..4,
        )
            .prop_map(
                |(et, ef, mf, mt, om, oe, am, ae, secs, replies)| PeriodPartial {
                    emails_to: et,
                    emails_from: ef,
                    meetings_from: mf,
                    meetings_to: mt,
                    org_meetings: om,
                    org_emails: oe,
                    account_meetings: am,
                    account_emails: ae,
                    meeting_seconds: secs,
                    reply_seconds: secs / 2,
                    replies,
                },
            )
    }

    fn arb_aggregate() -> impl Strategy<Value = PartialAggregate> {
        let key = (0u32..3, 0usize..3, 0i32..3).prop_map(|(account, l, start)| PeriodKey {
            account,
            level: Level::ALL[l],
            start,
        });
        let timeline = (arb_list(), arb_list()).prop_map(|(e, m)| Timeline {
            email_days: e.into_iter().map(|d| d as Day).collect(),
            meeting_days: m.into_iter().map(|d| d as Day).collect(),
        });
        (
            proptest::collection::btree_map(key, arb_period(), 0..5),
            proptest::collection::btree_map(0u32..3, timeline, 0..3),
        )
            .prop_map(|(periods, timelines)| PartialAggregate { periods, timelines })
    }

    use crate::directory::Party;
    use crate::record::{
        email_key, meeting_key, Attendee, StagedCopy, StagedEmail, StagedMeeting, StagedRecord,
    };

    /// A party of the model: org users 1-3, people 10-13 of accounts 0-1.
    fn arb_party() -> impl Strategy<Value = Party> {
        prop_oneof![
            (1u64..4).prop_map(Party::Org),
            (0u32..2, 10u64..14).prop_map(|(a, id)| Party::Account(a, id)),
        ]
    }

    /// A record with a key of its own (each aggregated once, as merged).
    fn arb_record() -> impl Strategy<Value = StagedRecord> {
        // 2026-01-01 .. 2026-06-29, UTC.
        let t = 1_767_225_600i64..1_782_691_200;
        let email = (
            any::<u64>(),
            t.clone(),
            arb_party(),
            proptest::collection::vec(arb_party(), 0..4),
        )
            .prop_map(|(id, sent_at, sender, mut recipients)| {
                crate::record::tidy_parties(&mut recipients);
                StagedRecord::Email(StagedEmail {
                    key: email_key(&id.to_string()),
                    sent_at,
                    sender,
                    recipients,
                    in_reply_to: None,
                })
            });
        let meeting = (
            any::<u64>(),
            t,
            60i64..7200,
            arb_party(),
            proptest::collection::vec((arb_party(), any::<bool>()), 0..4),
        )
            .prop_map(|(id, start, length, organizer, people)| {
                let mut attendees: Vec<Attendee> = people
                    .into_iter()
                    .map(|(party, excluded)| Attendee { party, excluded })
                    .collect();
                crate::record::tidy_attendees(&mut attendees);
                StagedRecord::Meeting(StagedMeeting {
                    key: meeting_key(&id.to_string()),
                    start,
                    end: start + length,
                    organizer,
                    attendees,
                    cancelled: false,
                    all_day: false,
                })
            });
        prop_oneof![email, meeting]
    }

    fn context() -> crate::plan::RunContext {
        crate::plan::RunContext {
            run_id: "t".to_owned(),
            settings: crate::tenant::TenantSettings {
                id: "t".to_owned(),
                timezone: "Europe/Stockholm".to_owned(),
                as_of: chrono::NaiveDate::from_ymd_opt(2026, 6, 30).expect("date"),
                window_days: 365,
                weights: crate::score::DEFAULT_WEIGHTS,
                min_org_people: 0,
            },
            directory: crate::directory::Directory {
                accounts: vec!["A".to_owned(), "B".to_owned()],
                ..Default::default()
            },
            shard_groups: vec![],
            key_partitions: 1,
            account_partitions: 1,
            staged_batch_bytes: 1 << 20,
        }
    }

    /// The aggregate step's partial of some records.
    fn aggregate_records(
        records: Vec<StagedRecord>,
        ctx: &crate::plan::RunContext,
    ) -> PartialAggregate {
        let mut copies: Vec<StagedCopy> = records
            .into_iter()
            .map(|record| StagedCopy {
                source: Default::default(),
                record,
            })
            .collect();
        crate::merge::sort_copies(&mut copies);
        let out =
            crate::aggregate::aggregate(copies, &Default::default(), ctx).expect("aggregates");
        out.partials.into_iter().next().unwrap_or_default()
    }

    fn merged(a: &PartialAggregate, b: &PartialAggregate) -> PartialAggregate {
        let mut out = a.clone();
        out.merge(b);
        out
    }

    proptest! {
        #[test]
        fn merge_is_commutative(a in arb_aggregate(), b in arb_aggregate()) {
            prop_assert_eq!(merged(&a, &b), merged(&b, &a));
        }

        #[test]
        fn merge_is_associative(a in arb_aggregate(), b in arb_aggregate(), c in arb_aggregate()) {
            prop_assert_eq!(merged(&merged(&a, &b), &c), merged(&a, &merged(&b, &c)));
        }

        #[test]
        fn merge_all_equals_pairwise_merge(a in arb_aggregate(), b in arb_aggregate(), c in arb_aggregate()) {
            prop_assert_eq!(PartialAggregate::merge_all([&a, &b, &c]), merged(&merged(&a, &b), &c));
            // Absorbed in batches, as a reduce job does: the same.
            let mut batched = PartialAggregate::merge_all([&a]);
            batched.absorb_all([&b]);
            batched.absorb_all([&c]);
            prop_assert_eq!(batched, merged(&merged(&a, &b), &c));
        }

        #[test]
        fn empty_is_the_identity(a in arb_aggregate()) {
            prop_assert_eq!(merged(&a, &PartialAggregate::default()), a.clone());
        }

        /// A merge that kept the larger count, or one side's people, would
        /// pass the laws above; it would not pass this: the partials of
        /// any split of the records, merged, are the partial of all of them.
        #[test]
        fn merging_the_partials_of_any_split_equals_aggregating_everything_at_once(
            records in proptest::collection::vec(arb_record(), 1..40),
            parts in proptest::collection::vec(0usize..3, 40),
        ) {
            let ctx = context();
            let whole = aggregate_records(records.clone(), &ctx);
            let mut split: [Vec<crate::record::StagedRecord>; 3] = Default::default();
            for (i, r) in records.into_iter().enumerate() {
                split[parts[i]].push(r);
            }
            let partials: Vec<PartialAggregate> =
                split.into_iter().map(|part| aggregate_records(part, &ctx)).collect();
            let pairwise = partials.iter().fold(PartialAggregate::default(), |acc, p| merged(&acc, p));
            prop_assert_eq!(&pairwise, &whole);
            prop_assert_eq!(PartialAggregate::merge_all(&partials), whole);
        }

        #[test]
        fn sets_are_idempotent_under_union(a in arb_list(), b in arb_list()) {
            let ab = union_sorted(&a, &b);
            prop_assert_eq!(union_sorted(&ab, &b), ab.clone());
        }
    }
}
