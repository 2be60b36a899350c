//! EngagementScore (ENGAGEMENT.md §5): each row against all rows of its
//! (level, period), by weighted mid-rank percentile over five features. A
//! group's distribution is a histogram (value → count) per feature, merged
//! across account partitions, so scoring needs no global sort.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::period::Level;
use crate::row::EngagementRow;
use crate::time::Day;

/// Number of features.
pub const NUM_FEATURES: usize = 5;

/// Feature names, in weight order.
pub const FEATURES: [&str; NUM_FEATURES] =
    ["emails", "meetings", "people", "recency", "reciprocity"];

/// Default weights: emails, meetings, people, recency, reciprocity.
pub const DEFAULT_WEIGHTS: [u32; NUM_FEATURES] = [25, 25, 20, 20, 10];

/// The five feature values of a row; higher is better.
pub fn features(row: &EngagementRow) -> [i64; NUM_FEATURES] {
    let counts = [
        row.emails_to,
        row.emails_from,
        row.meetings_from,
        row.meetings_to,
        row.org_meetings,
        row.org_emails,
        row.account_meetings,
        row.account_emails,
    ];
    features_of(counts, row.days_since_email, row.days_since_meeting)
}

/// The five feature values from a row's eight counts (in the CSV's column
/// order, NoOfEmails_ToAccount first) and its days since the last email
/// and meeting: the one formula for rows being scored and rows written.
pub fn features_of(
    counts: [u32; 8],
    days_since_email: Option<i32>,
    days_since_meeting: Option<i32>,
) -> [i64; NUM_FEATURES] {
    let c = counts.map(i64::from);
    let recency = match (days_since_email, days_since_meeting) {
        (Some(e), Some(m)) => -i64::from(e.min(m)),
        (Some(d), None) | (None, Some(d)) => -i64::from(d),
        // Cannot happen for a real row (its own interaction is on the timeline).
        (None, None) => i64::MIN,
    };
    [
        c[0] + c[1],
        c[2] + c[3],
        c[4] + c[5] + c[6] + c[7],
        recency,
        c[1] + c[2],
    ]
}

/// A scoring group: rows with the same level and period.
pub type Group = (Level, Day);

/// Per group, per feature, value → number of rows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Histograms {
    /// The distributions.
    pub groups: BTreeMap<Group, [BTreeMap<i64, u64>; NUM_FEATURES]>,
}

impl Histograms {
    /// Counts one row.
    pub fn add(&mut self, row: &EngagementRow) {
        let hist = self.groups.entry((row.level, row.start)).or_default();
        for (h, v) in hist.iter_mut().zip(features(row)) {
            *h.entry(v).or_default() += 1;
        }
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &Histograms) {
        for (group, hist) in &other.groups {
            let mine = self.groups.entry(*group).or_default();
            for (m, o) in mine.iter_mut().zip(hist) {
                for (v, n) in o {
                    *m.entry(*v).or_default() += n;
                }
            }
        }
    }

    /// Prepares rank look-ups.
    pub fn into_table(self, weights: [u32; NUM_FEATURES]) -> ScoreTable {
        let groups = self
            .groups
            .into_iter()
            .map(|(group, hist)| {
                let n: u64 = hist[0].values().sum();
                let ranks = hist.map(|h| {
                    let mut less = 0;
                    h.into_iter()
                        .map(|(v, count)| {
                            let entry = (v, less, count);
                            less += count;
                            entry
                        })
                        .collect::<Vec<_>>()
                });
                (group, (n, ranks))
            })
            .collect();
        ScoreTable { weights, groups }
    }
}

type Ranks = Vec<(i64, u64, u64)>;

/// Cumulative distributions per group, ready to score rows.
#[derive(Debug, Clone)]
pub struct ScoreTable {
    weights: [u32; NUM_FEATURES],
    groups: BTreeMap<Group, (u64, [Ranks; NUM_FEATURES])>,
}

impl ScoreTable {
    /// The row's score, 0-100: `(Σ w·(2·less + eq) + N) div (2·N)`.
    /// `None` when the row's group or value was never counted (a bug upstream).
    pub fn score(&self, row: &EngagementRow) -> Option<u32> {
        let (n, ranks) = self.groups.get(&(row.level, row.start))?;
        let mut num: u64 = 0;
        for ((r, v), w) in ranks.iter().zip(features(row)).zip(self.weights) {
            let i = r.binary_search_by_key(&v, |e| e.0).ok()?;
            let (_, less, eq) = r[i];
            num += u64::from(w) * (2 * less + eq);
        }
        Some(((num + n) / (2 * n)) as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn row(emails: u32, meetings: u32, days: i32) -> EngagementRow {
        EngagementRow {
            account: 0,
            level: Level::Year,
            start: 0,
            emails_to: emails,
            emails_from: 0,
            meetings_from: 0,
            meetings_to: meetings,
            org_meetings: 0,
            org_emails: 1,
            account_meetings: 0,
            account_emails: 1,
            org_people: 1,
            engagement_start: 0,
            days_since_email: Some(days),
            days_since_meeting: None,
            avg_meeting: None,
            avg_reply: None,
        }
    }

    fn table(rows: &[EngagementRow]) -> ScoreTable {
        let mut h = Histograms::default();
        rows.iter().for_each(|r| h.add(r));
        h.into_table(DEFAULT_WEIGHTS)
    }

    #[test]
    fn an_account_alone_in_its_period_scores_50() {
        let r = row(3, 1, 5);
        assert_eq!(table(std::slice::from_ref(&r)).score(&r), Some(50));
    }

    #[test]
    fn score_is_the_weighted_mid_rank_percentile() {
        let (a, b) = (row(1, 0, 10), row(5, 2, 1));
        let t = table(&[a.clone(), b.clone()]);
        // b: emails less=1 eq=1 → 3; meetings 3; people eq → 2; recency 3; reciprocity eq → 2
        // num = 25·3 + 25·3 + 20·2 + 20·3 + 10·2 = 270; (270 + 2) div 4 = 68
        assert_eq!(t.score(&b), Some(68));
        // a: 25·1 + 25·1 + 20·2 + 20·1 + 10·2 = 130; (130 + 2) div 4 = 33
        assert_eq!(t.score(&a), Some(33));
    }

    #[test]
    fn recency_ignores_an_empty_days_since() {
        let mut r = row(1, 1, 9);
        r.days_since_meeting = Some(2);
        assert_eq!(features(&r)[3], -2);
        r.days_since_email = None;
        assert_eq!(features(&r)[3], -2);
    }

    /// Any row: every column that feeds a feature varies, and one of the
    /// two days-since may be empty (never both: a row has an interaction).
    fn any_row() -> impl Strategy<Value = EngagementRow> {
        (
            (0u32..3, 0u32..4, 0u32..3),
            proptest::collection::vec(0u32..4, 6),
            (proptest::option::of(0i32..5), 0i32..5, any::<bool>()),
        )
            .prop_map(
                |((level, start, emails_to), counts, (email_days, meeting_days, has_meeting))| {
                    let days_since_meeting =
                        (has_meeting || email_days.is_none()).then_some(meeting_days);
                    EngagementRow {
                        account: 0,
                        level: Level::ALL[level as usize],
                        start: start as Day,
                        emails_to,
                        emails_from: counts[0],
                        meetings_from: counts[1],
                        meetings_to: counts[2],
                        org_meetings: counts[3],
                        org_emails: counts[4],
                        account_meetings: counts[5],
                        account_emails: (counts[3] + counts[4]) % 3,
                        org_people: counts[3].max(counts[4]),
                        engagement_start: 0,
                        days_since_email: email_days,
                        days_since_meeting,
                        avg_meeting: None,
                        avg_reply: None,
                    }
                },
            )
    }

    /// Whole weights adding up to 100, from four cuts of 0..=100.
    fn any_weights() -> impl Strategy<Value = [u32; NUM_FEATURES]> {
        proptest::collection::vec(0u32..=100, 4).prop_map(|mut cuts| {
            cuts.sort_unstable();
            [
                cuts[0],
                cuts[1] - cuts[0],
                cuts[2] - cuts[1],
                cuts[3] - cuts[2],
                100 - cuts[3],
            ]
        })
    }

    /// §5 as written, by brute force: the feature values spelled out from
    /// the columns, `less` and `eq` counted over the row's group.
    fn brute_force(row: &EngagementRow, all: &[EngagementRow], weights: [u32; 5]) -> u64 {
        let value = |r: &EngagementRow| -> [i64; 5] {
            let recency = [r.days_since_email, r.days_since_meeting]
                .into_iter()
                .flatten()
                .min()
                .map(|d| -i64::from(d))
                .expect("a row has a last email or meeting");
            [
                i64::from(r.emails_to) + i64::from(r.emails_from),
                i64::from(r.meetings_to) + i64::from(r.meetings_from),
                i64::from(r.org_meetings)
                    + i64::from(r.org_emails)
                    + i64::from(r.account_meetings)
                    + i64::from(r.account_emails),
                recency,
                i64::from(r.emails_from) + i64::from(r.meetings_from),
            ]
        };
        let group: Vec<&EngagementRow> = all
            .iter()
            .filter(|r| (r.level, r.start) == (row.level, row.start))
            .collect();
        let n = group.len() as u64;
        let mine = value(row);
        let mut num = 0u64;
        for f in 0..5 {
            let less = group.iter().filter(|r| value(r)[f] < mine[f]).count() as u64;
            let eq = group.iter().filter(|r| value(r)[f] == mine[f]).count() as u64;
            num += u64::from(weights[f]) * (2 * less + eq);
        }
        (num + n) / (2 * n)
    }

    proptest! {
        /// The histograms, merged from any split in either order, score
        /// every row as the brute force does, under any weights.
        #[test]
        fn scores_are_section_5_under_any_weights_and_any_merge(
            rows in proptest::collection::vec(any_row(), 1..40),
            weights in any_weights(),
            split in 0usize..40,
        ) {
            prop_assert_eq!(weights.iter().sum::<u32>(), 100);
            let split = split.min(rows.len());
            let (mut left, mut right) = (Histograms::default(), Histograms::default());
            rows[..split].iter().for_each(|r| left.add(r));
            rows[split..].iter().for_each(|r| right.add(r));
            let mut lr = left.clone();
            lr.merge(&right);
            let mut rl = right;
            rl.merge(&left);
            prop_assert_eq!(&lr, &rl);
            let t = lr.into_table(weights);
            for r in &rows {
                let s = t.score(r).expect("scored");
                prop_assert_eq!(u64::from(s), brute_force(r, &rows, weights));
                prop_assert!(s <= 100);
            }
        }
    }

    #[test]
    fn each_weight_goes_to_its_own_feature() {
        // b beats a on one feature only; its score is 50 plus half that
        // feature's weight share: a swapped weight would move it.
        let a = row(1, 1, 5);
        for (f, feature) in FEATURES.iter().enumerate() {
            let mut b = a.clone();
            match f {
                0 => b.emails_to += 1,
                1 => b.meetings_to += 1,
                2 => b.org_meetings += 1,
                3 => b.days_since_email = Some(4),
                _ => {
                    b.emails_from += 1;
                    b.emails_to -= 1;
                }
            }
            let mut weights = [0; NUM_FEATURES];
            weights[f] = 100;
            let mut h = Histograms::default();
            h.add(&a);
            h.add(&b);
            let t = h.into_table(weights);
            assert_eq!(t.score(&b), Some(75), "{feature}");
            assert_eq!(t.score(&a), Some(25), "{feature}");
        }
    }
}
