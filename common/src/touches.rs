//! Touches: what one counted record brings to one account on one day, kept
//! in a flat list while a key partition is read, then sorted by account and
//! day and folded into period figures and timelines in one pass.
//!
//! Sorted, an account's touches are adjacent and each period of each level
//! is a run of them, so the partials come out in key order with no hash map
//! and no sort of the (large) figures: the aggregate step's records arrive
//! in message-key order, which scatters accounts, and a map of period
//! figures updated in that order spends most of its time on cache misses.

use crate::directory::AccountIdx;
use crate::partial::{PartialAggregate, PeriodKey, PeriodPartial, Timeline};
use crate::period::Level;
use crate::rules::Interaction;
use crate::time::Day;

/// One interaction on one day, its people in [`Touches::people`].
#[derive(Debug, Clone, Copy)]
struct Touch {
    account: AccountIdx,
    day: Day,
    /// `None` for an email; the meeting's length in seconds otherwise.
    meeting_seconds: Option<i64>,
    to_account: bool,
    from_account: bool,
    /// Where its org people start in `people`; its account people follow.
    people_at: usize,
    org_len: usize,
    account_len: usize,
}

impl Touch {
    fn org<'a>(&self, people: &'a [u64]) -> &'a [u64] {
        let at = self.people_at;
        &people[at..at + self.org_len]
    }

    fn account<'a>(&self, people: &'a [u64]) -> &'a [u64] {
        let at = self.people_at + self.org_len;
        &people[at..at + self.account_len]
    }
}

/// The touches of one key partition, in the order they were found.
#[derive(Debug, Default)]
pub struct Touches {
    touches: Vec<Touch>,
    people: Vec<u64>,
}

impl Touches {
    /// Room for about `records` records' touches.
    pub fn with_capacity(records: usize) -> Touches {
        Touches {
            touches: Vec::with_capacity(records + records / 4),
            people: Vec::with_capacity(records * 3),
        }
    }

    /// Adds an email's (`meeting_seconds: None`) or a meeting's interaction
    /// on `day`.
    pub fn add(&mut self, i: &Interaction, day: Day, meeting_seconds: Option<i64>) {
        let people_at = self.people.len();
        self.people.extend_from_slice(&i.org_people);
        self.people.extend_from_slice(&i.account_people);
        self.touches.push(Touch {
            account: i.account,
            day,
            meeting_seconds,
            to_account: i.to_account,
            from_account: i.from_account,
            people_at,
            org_len: i.org_people.len(),
            account_len: i.account_people.len(),
        });
    }

    /// Folds the touches into partials, one per account partition
    /// (`partition_of(account)`, below `parts`).
    pub fn into_partials(
        mut self,
        parts: u32,
        partition_of: impl Fn(AccountIdx) -> u32,
    ) -> Vec<PartialAggregate> {
        self.touches.sort_unstable_by_key(|t| (t.account, t.day));
        let mut periods = vec![Vec::new(); parts as usize];
        let mut timelines = vec![Vec::new(); parts as usize];
        for touches in self.touches.chunk_by(|a, b| a.account == b.account) {
            let account = touches[0].account;
            let part = partition_of(account) as usize;
            // Levels in key order, then periods in day order: the entries
            // come out sorted by (account, level, start).
            for level in Level::ALL {
                let mut rest = touches;
                while let Some(first) = rest.first() {
                    let start = level.start(first.day);
                    let end = level.end(start);
                    let (run, after) = rest.split_at(rest.partition_point(|t| t.day <= end));
                    let key = PeriodKey {
                        account,
                        level,
                        start,
                    };
                    periods[part].push((key, fold(run, &self.people)));
                    rest = after;
                }
            }
            timelines[part].push((account, timeline(touches)));
        }
        PartialAggregate::from_sorted_parts(periods, timelines)
    }
}

/// The figures of one period: the touches that fall in it.
fn fold(run: &[Touch], people: &[u64]) -> PeriodPartial {
    let mut p = PeriodPartial::default();
    for t in run {
        let (org, acc) = match t.meeting_seconds {
            None => {
                p.emails_to += u32::from(t.to_account);
                p.emails_from += u32::from(t.from_account);
                (&mut p.org_emails, &mut p.account_emails)
            }
            Some(seconds) => {
                p.meetings_to += u32::from(t.to_account);
                p.meetings_from += u32::from(t.from_account);
                p.meeting_seconds += seconds;
                (&mut p.org_meetings, &mut p.account_meetings)
            }
        };
        org.extend_from_slice(t.org(people));
        acc.extend_from_slice(t.account(people));
    }
    p.tidy();
    p
}

/// An account's email and meeting days, from its touches in day order.
fn timeline(touches: &[Touch]) -> Timeline {
    let mut t = Timeline::default();
    for touch in touches {
        let days = match touch.meeting_seconds {
            None => &mut t.email_days,
            Some(_) => &mut t.meeting_days,
        };
        if days.last() != Some(&touch.day) {
            days.push(touch.day);
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interaction(account: AccountIdx, org: &[u64], acc: &[u64]) -> Interaction {
        Interaction {
            account,
            to_account: true,
            from_account: false,
            org_people: org.to_vec(),
            account_people: acc.to_vec(),
        }
    }

    fn day(text: &str) -> Day {
        crate::time::day_of(text.parse().expect("date"))
    }

    #[test]
    fn touches_fold_into_every_level_of_their_day_sorted_by_key() {
        let mut t = Touches::default();
        // Found out of order, and across two weeks of one month.
        t.add(&interaction(1, &[2], &[20]), day("2026-03-10"), None);
        t.add(&interaction(0, &[1], &[10]), day("2026-03-03"), Some(600));
        t.add(&interaction(1, &[1], &[21, 20]), day("2026-03-02"), None);
        let parts = t.into_partials(1, |_| 0);
        let keys: Vec<(AccountIdx, Level, String)> = parts[0]
            .periods
            .keys()
            .map(|k| (k.account, k.level, crate::time::format_day(k.start)))
            .collect();
        let key = |a, l, d: &str| (a, l, d.to_owned());
        assert_eq!(
            keys,
            vec![
                key(0, Level::Year, "2026-01-01"),
                key(0, Level::Month, "2026-03-01"),
                key(0, Level::Week, "2026-03-02"),
                key(1, Level::Year, "2026-01-01"),
                key(1, Level::Month, "2026-03-01"),
                key(1, Level::Week, "2026-03-02"),
                key(1, Level::Week, "2026-03-09"),
            ]
        );
        let month = &parts[0].periods[&PeriodKey {
            account: 1,
            level: Level::Month,
            start: day("2026-03-01"),
        }];
        assert_eq!(month.emails_to, 2);
        assert_eq!(month.org_emails, vec![1, 2]);
        assert_eq!(month.account_emails, vec![20, 21]);
        let meeting = &parts[0].periods[&PeriodKey {
            account: 0,
            level: Level::Week,
            start: day("2026-03-02"),
        }];
        assert_eq!((meeting.meetings_to, meeting.meeting_seconds), (1, 600));
        assert_eq!(meeting.account_meetings, vec![10]);
        assert_eq!(parts[0].timelines[&1].email_days.len(), 2);
        assert_eq!(parts[0].timelines[&0].meeting_days, vec![day("2026-03-03")]);
    }

    #[test]
    fn each_account_goes_to_its_partition() {
        let mut t = Touches::default();
        for account in 0..5 {
            t.add(&interaction(account, &[1], &[9]), day("2026-01-05"), None);
        }
        let parts = t.into_partials(2, |a| a % 2);
        assert_eq!(
            parts[0].timelines.keys().copied().collect::<Vec<_>>(),
            vec![0, 2, 4]
        );
        assert_eq!(
            parts[1].timelines.keys().copied().collect::<Vec<_>>(),
            vec![1, 3]
        );
        assert!(parts[1].periods.keys().all(|k| k.account % 2 == 1));
    }
}
