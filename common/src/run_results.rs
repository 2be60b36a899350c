//! A run's results, typed and held together: the rows of its
//! `account_engagement.csv` (in the file's order: AccountId, level,
//! period) and its `as_of`. What `rapport segment`, the API and the
//! account pages ask of a run: a segment of one level and period, one
//! account's rows, its emails and meetings of the last 12 months.

use chrono::{Datelike, Months, NaiveDate};

use crate::period::Level;
use crate::results::{columns, ResultRow};
use crate::segment::{parse, Expr, SegmentError};

/// A question about a run's results that has no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// The segment expression is bad.
    #[error(transparent)]
    Expression(#[from] SegmentError),
    /// The run has no row of the level.
    #[error("no {0} rows")]
    NoRows(&'static str),
    /// The period is not one of the level's.
    #[error("no {level} period starting {period} (an AggregationStartDate of that level)")]
    NoPeriod {
        /// The level.
        level: &'static str,
        /// The period asked for.
        period: String,
    },
}

/// The rows of one level and period that a segment matched.
#[derive(Debug)]
pub struct Segment<'a> {
    /// The period (its AggregationStartDate).
    pub period: NaiveDate,
    /// The rows, in AccountId order.
    pub rows: Vec<&'a ResultRow>,
}

/// A run's rows and `as_of`.
#[derive(Debug, Clone)]
pub struct RunResults {
    /// Rows in the file's order.
    pub rows: Vec<ResultRow>,
    /// The run's `as_of`.
    pub as_of: NaiveDate,
}

/// Parses a segment expression against the output's columns.
pub fn parse_segment(expr: &str) -> Result<Expr, SegmentError> {
    parse(expr, &columns())
}

impl RunResults {
    /// The level's periods, oldest first.
    pub fn periods(&self, level: Level) -> Vec<NaiveDate> {
        let mut periods: Vec<NaiveDate> = self
            .rows
            .iter()
            .filter(|r| r.level == level)
            .map(|r| r.start)
            .collect();
        periods.sort_unstable();
        periods.dedup();
        periods
    }

    /// The rows of one level and period, in AccountId order.
    pub fn group(&self, level: Level, period: NaiveDate) -> impl Iterator<Item = &ResultRow> {
        self.rows
            .iter()
            .filter(move |r| r.level == level && r.start == period)
    }

    /// The rows of `level` and `period` (default: the level's latest)
    /// that `expr` matches (every row when `expr` is `None`).
    pub fn segment(
        &self,
        level: Level,
        period: Option<&str>,
        expr: Option<&Expr>,
    ) -> Result<Segment<'_>, QueryError> {
        let periods = self.periods(level);
        let period = match period {
            None => *periods.last().ok_or(QueryError::NoRows(level.name()))?,
            Some(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .filter(|p| periods.binary_search(p).is_ok())
                .ok_or_else(|| QueryError::NoPeriod {
                    level: level.name(),
                    period: text.to_owned(),
                })?,
        };
        let rows = self
            .group(level, period)
            .filter(|r| expr.is_none_or(|e| e.matches_by(&|i| r.value(i))))
            .collect();
        Ok(Segment { period, rows })
    }

    /// One account's rows (Year, Month, Week; oldest first in each).
    pub fn account(&self, id: &str) -> &[ResultRow] {
        let from = self
            .rows
            .partition_point(|r| r.account_id.as_bytes() < id.as_bytes());
        let to =
            from + self.rows[from..].partition_point(|r| r.account_id.as_bytes() == id.as_bytes());
        &self.rows[from..to]
    }

    /// The first day of the 12 months that end with `as_of`'s month.
    pub fn twelve_months_from(&self) -> NaiveDate {
        let month = self.as_of.with_day(1).unwrap_or(self.as_of);
        month - Months::new(11)
    }

    /// Emails and meetings of `rows` (one account's) in the 12 months that
    /// end with `as_of`'s month, from its Month rows.
    pub fn last_12_months(&self, rows: &[ResultRow]) -> (u32, u32) {
        let from = self.twelve_months_from();
        rows.iter()
            .filter(|r| r.level == Level::Month && r.start >= from && r.start <= self.as_of)
            .fold((0, 0), |(e, m), r| (e + r.emails(), m + r.meetings()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{read_results, stockholm_example};

    fn example() -> RunResults {
        RunResults {
            rows: read_results(stockholm_example().as_bytes()).expect("reads"),
            as_of: NaiveDate::from_ymd_opt(2026, 6, 30).expect("date"),
        }
    }

    #[test]
    fn a_segment_defaults_to_the_latest_period_and_checks_the_one_given() {
        let run = example();
        let years = run.periods(Level::Year);
        let all = run.segment(Level::Year, None, None).expect("rows");
        assert_eq!(Some(&all.period), years.last());
        assert!(all
            .rows
            .iter()
            .all(|r| r.start == all.period && r.level == Level::Year));
        let expr = parse_segment("EngagementScore >= 50").expect("parses");
        let some = run.segment(Level::Year, None, Some(&expr)).expect("rows");
        assert!(!some.rows.is_empty() && some.rows.len() < all.rows.len());
        assert!(some.rows.iter().all(|r| r.score >= 50));
        assert!(matches!(
            run.segment(Level::Month, Some("2026-06-02"), None),
            Err(QueryError::NoPeriod { .. })
        ));
    }

    #[test]
    fn an_account_has_its_own_rows_and_its_last_12_months_from_month_rows() {
        let run = example();
        let first = run.rows[0].account_id.clone();
        let rows = run.account(&first);
        assert!(!rows.is_empty() && rows.iter().all(|r| r.account_id == first));
        assert_eq!(run.account("no such account").len(), 0);
        assert_eq!(
            run.twelve_months_from(),
            NaiveDate::from_ymd_opt(2025, 7, 1).expect("date")
        );
        let (emails, meetings) = run.last_12_months(rows);
        let months: u32 = rows
            .iter()
            .filter(|r| r.level == Level::Month && r.start >= run.twelve_months_from())
            .map(|r| r.emails() + r.meetings())
            .sum();
        assert_eq!(emails + meetings, months);
    }
}
