//! The reduce and score steps of one account partition: merge every job's
//! partial into rows and score histograms, then score rows against the
//! histograms merged over all partitions and write them as CSV.

use crate::directory::{AccountIdx, Directory};
use crate::partial::{PartialAggregate, Timeline};
use crate::period::Window;
use crate::row::{build_row, EngagementRow};
use crate::score::{Histograms, ScoreTable};
use crate::sorted_merge::chunks_of;

/// Merges the partials of one account partition into its rows (sorted by
/// account, level, period) and their histograms.
pub fn reduce<'a>(
    partials: impl IntoIterator<Item = &'a PartialAggregate>,
    window: &Window,
) -> (Vec<EngagementRow>, Histograms) {
    reduce_merged(&PartialAggregate::merge_all(partials), window)
}

/// The rows and histograms of partials already merged into one (a job that
/// merges its inputs a batch at a time, to bound its memory).
pub fn reduce_merged(
    merged: &PartialAggregate,
    window: &Window,
) -> (Vec<EngagementRow>, Histograms) {
    let empty = Timeline::default();
    let mut histograms = Histograms::default();
    let rows: Vec<EngagementRow> = merged
        .periods
        .iter()
        .map(|(key, p)| {
            let timeline = merged.timelines.get(&key.account).unwrap_or(&empty);
            build_row(key, p, timeline, window)
        })
        .collect();
    rows.iter().for_each(|r| histograms.add(r));
    (rows, histograms)
}

/// A row that the merged histograms do not cover: a partial went missing.
#[derive(Debug, thiserror::Error)]
#[error("row of account {account} has no score group: histograms are incomplete")]
pub struct MissingGroup {
    /// The account id.
    pub account: String,
}

/// The CSV lines of one account (no header), in output order.
pub type AccountLines = (AccountIdx, String);

/// What a score job hands the writer: its accounts' lines, and how many
/// rows the privacy floor left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ScoredPartition {
    /// One entry per account with a row left, in account order.
    pub accounts: Vec<AccountLines>,
    /// Rows left out by the privacy floor (ENGAGEMENT.md §9).
    pub suppressed: u64,
}

impl ScoredPartition {
    /// Cuts the partition into chunks of about `max_bytes` of lines, in
    /// account order, so the writer holds one chunk per partition; the
    /// first chunk carries the suppressed count.
    pub fn into_chunks(self, max_bytes: usize) -> Vec<ScoredPartition> {
        let mut suppressed = self.suppressed;
        chunks_of(self.accounts, max_bytes, |(_, lines)| lines.len())
            .into_iter()
            .map(|accounts| ScoredPartition {
                accounts,
                suppressed: std::mem::take(&mut suppressed),
            })
            .collect()
    }
}

/// Scores rows (sorted by account) and writes their CSV lines, one entry per
/// account, so the writer can put accounts of every partition in order.
/// Every row is scored; then a row with fewer than `min_org_people`
/// distinct org people is left out, so the others keep their bytes.
pub fn score_rows(
    rows: &[EngagementRow],
    table: &ScoreTable,
    directory: &Directory,
    min_org_people: u32,
) -> Result<ScoredPartition, MissingGroup> {
    let mut out = ScoredPartition::default();
    for row in rows {
        let account = directory.account_id(row.account);
        let score = table.score(row).ok_or_else(|| MissingGroup {
            account: account.to_owned(),
        })?;
        if row.org_people < min_org_people {
            out.suppressed += 1;
            continue;
        }
        if out.accounts.last().is_none_or(|(a, _)| *a != row.account) {
            out.accounts.push((row.account, String::new()));
        }
        if let Some((_, lines)) = out.accounts.last_mut() {
            row.write_csv(account, score, lines);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::partial::{PeriodKey, PeriodPartial};
    use crate::period::Level;

    #[test]
    fn rows_are_sorted_by_account_then_year_month_week_then_start() {
        let mut parts = Vec::new();
        for (account, level, start) in [
            (1, Level::Week, 7),
            (0, Level::Week, 14),
            (0, Level::Year, 0),
            (0, Level::Month, 3),
            (0, Level::Week, 7),
        ] {
            let mut p = PartialAggregate::default();
            p.periods.insert(
                PeriodKey {
                    account,
                    level,
                    start,
                },
                PeriodPartial {
                    emails_to: 1,
                    ..Default::default()
                },
            );
            p.timelines.insert(
                account,
                Timeline {
                    email_days: vec![start],
                    meeting_days: vec![],
                },
            );
            parts.push(p);
        }
        let (rows, histograms) = reduce(&parts, &Window::new(100, 365));
        let order: Vec<_> = rows.iter().map(|r| (r.account, r.level, r.start)).collect();
        assert_eq!(
            order,
            [
                (0, Level::Year, 0),
                (0, Level::Month, 3),
                (0, Level::Week, 7),
                (0, Level::Week, 14),
                (1, Level::Week, 7)
            ]
        );
        // Week 7 holds two accounts: one group of two rows.
        assert_eq!(
            histograms.groups[&(Level::Week, 7)][0]
                .values()
                .sum::<u64>(),
            2
        );
    }

    #[test]
    fn the_privacy_floor_leaves_rows_out_after_scoring_them_all() {
        let mut p = PartialAggregate::default();
        // Account 0 with one org person, account 1 with two (one in email,
        // one in meetings: the union counts).
        for (account, org_emails, org_meetings) in [(0, vec![7], vec![7]), (1, vec![7], vec![8])] {
            p.periods.insert(
                PeriodKey {
                    account,
                    level: Level::Year,
                    start: 0,
                },
                PeriodPartial {
                    emails_to: 1 + account,
                    org_emails,
                    org_meetings,
                    ..Default::default()
                },
            );
            p.timelines.insert(
                account,
                Timeline {
                    email_days: vec![10],
                    meeting_days: vec![],
                },
            );
        }
        let (rows, histograms) = reduce([&p], &Window::new(100, 365));
        assert_eq!(
            rows.iter().map(|r| r.org_people).collect::<Vec<_>>(),
            [1, 2]
        );
        let table = histograms.into_table(crate::score::DEFAULT_WEIGHTS);
        let directory = Directory {
            accounts: vec!["A".to_owned(), "B".to_owned()],
            ..Directory::default()
        };
        let all = score_rows(&rows, &table, &directory, 0).expect("scored");
        let floored = score_rows(&rows, &table, &directory, 2).expect("scored");
        assert_eq!((all.suppressed, floored.suppressed), (0, 1));
        assert_eq!(all.accounts.len(), 2);
        // B keeps its bytes, score included (computed with A counted).
        assert_eq!(floored.accounts, all.accounts[1..]);
    }

    #[test]
    fn chunks_keep_account_order_and_count_the_suppressed_once() {
        let scored = ScoredPartition {
            accounts: (0..5).map(|a| (a, "x".repeat(40))).collect(),
            suppressed: 3,
        };
        let chunks = scored.clone().into_chunks(100);
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks.iter().map(|c| c.suppressed).sum::<u64>(), 3);
        let accounts: Vec<_> = chunks.into_iter().flat_map(|c| c.accounts).collect();
        assert_eq!(accounts, scored.accounts);
        let empty = ScoredPartition {
            accounts: Vec::new(),
            suppressed: 2,
        };
        assert_eq!(empty.clone().into_chunks(100), [empty]);
    }
}
