//! The reduce and score steps of one account partition: merge every job's
//! partial into rows and score histograms, then score rows against the
//! histograms merged over all partitions and write them as CSV.

use crate::directory::{AccountIdx, Directory};
use crate::partial::{PartialAggregate, Timeline};
use crate::period::Window;
use crate::row::{build_row, EngagementRow};
use crate::score::{Histograms, ScoreTable};

/// Merges the partials of one account partition into its rows (sorted by
/// account, level, period) and their histograms.
pub fn reduce<'a>(
    partials: impl IntoIterator<Item = &'a PartialAggregate>,
    window: &Window,
) -> (Vec<EngagementRow>, Histograms) {
    let merged = PartialAggregate::merge_all(partials);
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

/// Scores rows (sorted by account) and writes their CSV lines, one entry per
/// account, so the writer can put accounts of every partition in order.
pub fn score_rows(
    rows: &[EngagementRow],
    table: &ScoreTable,
    directory: &Directory,
) -> Result<Vec<AccountLines>, MissingGroup> {
    let mut out: Vec<AccountLines> = Vec::new();
    for row in rows {
        let account = directory.account_id(row.account);
        let score = table.score(row).ok_or_else(|| MissingGroup {
            account: account.to_owned(),
        })?;
        if out.last().is_none_or(|(a, _)| *a != row.account) {
            out.push((row.account, String::new()));
        }
        if let Some((_, lines)) = out.last_mut() {
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
}
