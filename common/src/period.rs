//! Periods (ENGAGEMENT.md §3): the ISO week, month and year containing a
//! local date, and the tenant's window of counted dates.

use chrono::{Datelike, Months, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::time::{date_of, day_of, Day};

/// Aggregation level, in output order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Level {
    /// Calendar year.
    Year,
    /// Calendar month.
    Month,
    /// ISO week, Monday to Sunday.
    Week,
}

impl Level {
    /// All levels in output order.
    pub const ALL: [Level; 3] = [Level::Year, Level::Month, Level::Week];

    /// The `AggregationLevel` column value.
    pub fn name(self) -> &'static str {
        match self {
            Level::Year => "Year",
            Level::Month => "Month",
            Level::Week => "Week",
        }
    }

    /// Parses `Year`, `Month` or `Week`.
    pub fn parse(text: &str) -> Option<Level> {
        Level::ALL
            .into_iter()
            .find(|l| l.name().eq_ignore_ascii_case(text))
    }

    /// First day of the period of this level containing `day`.
    pub fn start(self, day: Day) -> Day {
        let date = date_of(day);
        match self {
            Level::Year => day_of(date.with_ordinal(1).unwrap_or(date)),
            Level::Month => day_of(date.with_day(1).unwrap_or(date)),
            Level::Week => day - date.weekday().num_days_from_monday() as Day,
        }
    }

    /// Last day of the period of this level starting on `start`.
    pub fn end(self, start: Day) -> Day {
        let date: NaiveDate = date_of(start);
        match self {
            Level::Year => day_of(date.with_ordinal(1).unwrap_or(date) + Months::new(12)) - 1,
            Level::Month => day_of(date + Months::new(1)) - 1,
            Level::Week => start + 6,
        }
    }
}

/// The counted dates `[as_of - window_days + 1, as_of]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// First counted day.
    pub first: Day,
    /// Last counted day (`as_of`).
    pub as_of: Day,
}

impl Window {
    /// The window ending on `as_of` and holding `window_days` days.
    pub fn new(as_of: Day, window_days: u32) -> Window {
        Window {
            first: as_of - window_days as Day + 1,
            as_of,
        }
    }

    /// True when `day` is counted.
    pub fn contains(&self, day: Day) -> bool {
        (self.first..=self.as_of).contains(&day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::format_day;

    fn day(text: &str) -> Day {
        day_of(NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date"))
    }

    #[test]
    fn period_start_is_first_day_of_iso_week_month_and_year() {
        let d = day("2026-01-01"); // a Thursday
        assert_eq!(format_day(Level::Week.start(d)), "2025-12-29");
        assert_eq!(format_day(Level::Month.start(d)), "2026-01-01");
        assert_eq!(
            format_day(Level::Year.start(day("2026-06-30"))),
            "2026-01-01"
        );
        assert_eq!(Level::Week.start(day("2026-03-02")), day("2026-03-02"));
        assert_eq!(
            format_day(Level::Week.start(day("2026-03-08"))),
            "2026-03-02"
        );
    }

    #[test]
    fn period_end_is_last_day() {
        assert_eq!(
            format_day(Level::Month.end(day("2024-02-01"))),
            "2024-02-29"
        );
        assert_eq!(format_day(Level::Year.end(day("2025-01-01"))), "2025-12-31");
        assert_eq!(format_day(Level::Week.end(day("2025-12-29"))), "2026-01-04");
    }

    #[test]
    fn window_holds_window_days_days_ending_on_as_of() {
        let w = Window::new(day("2026-06-30"), 365);
        assert!(w.contains(day("2025-07-01")));
        assert!(!w.contains(day("2025-06-30")));
        assert!(w.contains(day("2026-06-30")));
        assert!(!w.contains(day("2026-07-01")));
    }
}
