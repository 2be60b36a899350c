//! Output rows of `account_engagement.csv` (ENGAGEMENT.md §4): built from an
//! account's merged partials and timeline, and written as CSV.

use std::fmt::Write;

use serde::{Deserialize, Serialize};

use crate::directory::AccountIdx;
use crate::partial::{union_sorted, PeriodKey, PeriodPartial, Timeline};
use crate::period::{Level, Window};
use crate::time::{format_day, Day};

/// The header line, without its line end.
pub const HEADER: &str = "AccountId,EngagementScore,NoOfEmails_ToAccount,NoOfEmails_FromAccount,\
NoOfMeetings_FromAccount,NoOfMeetings_ToAccount,NoOfContactsInvolved_Meetings,\
NoOfContactsInvolved_Emails,NoOfAccountContactsInvolved_Meetings,\
NoOfAccountContactsInvolved_Emails,EngagementStartDate,DaysSinceLastEmail,DaysSinceLastMeeting,\
AverageDuration_Of_Meetings,AverageDuration_Of_AccountEmailReplies,AggregationStartDate,AggregationLevel";

/// One row before its score is known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngagementRow {
    /// The account.
    pub account: AccountIdx,
    /// The level.
    pub level: Level,
    /// First day of the period.
    pub start: Day,
    /// NoOfEmails_ToAccount.
    pub emails_to: u32,
    /// NoOfEmails_FromAccount.
    pub emails_from: u32,
    /// NoOfMeetings_FromAccount.
    pub meetings_from: u32,
    /// NoOfMeetings_ToAccount.
    pub meetings_to: u32,
    /// NoOfContactsInvolved_Meetings.
    pub org_meetings: u32,
    /// NoOfContactsInvolved_Emails.
    pub org_emails: u32,
    /// NoOfAccountContactsInvolved_Meetings.
    pub account_meetings: u32,
    /// NoOfAccountContactsInvolved_Emails.
    pub account_emails: u32,
    /// Distinct org people in the emails and meetings together (the privacy
    /// floor's P, ENGAGEMENT.md §9); not an output column.
    pub org_people: u32,
    /// EngagementStartDate.
    pub engagement_start: Day,
    /// DaysSinceLastEmail.
    pub days_since_email: Option<i32>,
    /// DaysSinceLastMeeting.
    pub days_since_meeting: Option<i32>,
    /// AverageDuration_Of_Meetings, hundredths of a minute.
    pub avg_meeting: Option<i64>,
    /// AverageDuration_Of_AccountEmailReplies, hundredths of a minute.
    pub avg_reply: Option<i64>,
}

/// Mean of `n` durations summing to `seconds`, in hundredths of a minute,
/// rounded half up, in integers only (§4).
pub fn mean_hundredths(seconds: i64, n: u32) -> Option<i64> {
    let n = i64::from(n);
    (n > 0).then(|| (100 * seconds + 30 * n).div_euclid(60 * n))
}

/// `ref - last`, where `last` is the latest of `days` on or before `reference`.
fn days_since(days: &[Day], reference: Day) -> Option<i32> {
    let i = days.partition_point(|d| *d <= reference);
    (i > 0).then(|| reference - days[i - 1])
}

/// Builds the row of one (account, level, period) from its figures and the
/// account's timeline.
pub fn build_row(
    key: &PeriodKey,
    p: &PeriodPartial,
    timeline: &Timeline,
    window: &Window,
) -> EngagementRow {
    let reference = key.level.end(key.start).min(window.as_of);
    let engagement_start = match (timeline.email_days.first(), timeline.meeting_days.first()) {
        (Some(e), Some(m)) => *e.min(m),
        (Some(d), None) | (None, Some(d)) => *d,
        // A row exists only for a counted interaction, which is on the timeline.
        (None, None) => key.start,
    };
    EngagementRow {
        account: key.account,
        level: key.level,
        start: key.start,
        emails_to: p.emails_to,
        emails_from: p.emails_from,
        meetings_from: p.meetings_from,
        meetings_to: p.meetings_to,
        org_meetings: p.org_meetings.len() as u32,
        org_emails: p.org_emails.len() as u32,
        account_meetings: p.account_meetings.len() as u32,
        account_emails: p.account_emails.len() as u32,
        org_people: union_sorted(&p.org_meetings, &p.org_emails).len() as u32,
        engagement_start,
        days_since_email: days_since(&timeline.email_days, reference),
        days_since_meeting: days_since(&timeline.meeting_days, reference),
        avg_meeting: mean_hundredths(p.meeting_seconds, p.meetings_from + p.meetings_to),
        avg_reply: mean_hundredths(p.reply_seconds, p.replies),
    }
}

fn push_hundredths(out: &mut String, value: Option<i64>) {
    if let Some(h) = value {
        let _ = write!(out, "{}.{:02}", h / 100, h % 100);
    }
}

fn push_optional(out: &mut String, value: Option<i32>) {
    if let Some(v) = value {
        let _ = write!(out, "{v}");
    }
}

/// Quotes a field as RFC 4180 says, when it needs it.
pub fn csv_field(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\"")).into()
    } else {
        text.into()
    }
}

impl EngagementRow {
    /// Appends the CSV line of this row, with `\n`.
    pub fn write_csv(&self, account_id: &str, score: u32, out: &mut String) {
        let _ = write!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},",
            csv_field(account_id),
            score,
            self.emails_to,
            self.emails_from,
            self.meetings_from,
            self.meetings_to,
            self.org_meetings,
            self.org_emails,
            self.account_meetings,
            self.account_emails,
            format_day(self.engagement_start),
        );
        push_optional(out, self.days_since_email);
        out.push(',');
        push_optional(out, self.days_since_meeting);
        out.push(',');
        push_hundredths(out, self.avg_meeting);
        out.push(',');
        push_hundredths(out, self.avg_reply);
        let _ = writeln!(out, ",{},{}", format_day(self.start), self.level.name());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn averages_are_exact_hundredths_rounded_half_up() {
        assert_eq!(mean_hundredths(1443, 2), Some(1203)); // 12.03
        assert_eq!(mean_hundredths(7650, 1), Some(12750)); // 127.50
        assert_eq!(mean_hundredths(0, 0), None);
        // 0.5 hundredth rounds up: 3 s = 5 hundredths exactly; 0.3 s avg → 0.5 → 1
        assert_eq!(mean_hundredths(3, 10), Some(1));
    }

    #[test]
    fn days_since_last_looks_back_from_the_reference_day() {
        assert_eq!(days_since(&[1, 5, 9], 7), Some(2));
        assert_eq!(days_since(&[1, 5, 9], 9), Some(0));
        assert_eq!(days_since(&[5, 9], 4), None);
        assert_eq!(days_since(&[], 4), None);
    }

    #[test]
    fn row_reference_is_end_of_period_or_as_of() {
        let window = Window::new(100, 365);
        let key = PeriodKey {
            account: 0,
            level: Level::Week,
            start: 92,
        };
        let start = Level::Week.start(92);
        let key = PeriodKey { start, ..key };
        let timeline = Timeline {
            email_days: vec![50, start],
            meeting_days: vec![150],
        };
        let p = PeriodPartial {
            emails_to: 1,
            ..Default::default()
        };
        let row = build_row(&key, &p, &timeline, &window);
        assert_eq!(row.days_since_email, Some(start + 6 - start));
        assert_eq!(row.days_since_meeting, None);
        assert_eq!(row.engagement_start, 50);
        let year = PeriodKey {
            level: Level::Year,
            start: Level::Year.start(50),
            ..key
        };
        let row = build_row(&year, &p, &timeline, &window);
        assert_eq!(row.days_since_email, Some(100 - start));
    }

    #[test]
    fn row_is_written_as_the_spec_formats_it() {
        let row = EngagementRow {
            account: 0,
            level: Level::Month,
            start: 0,
            emails_to: 2,
            emails_from: 1,
            meetings_from: 0,
            meetings_to: 0,
            org_meetings: 0,
            org_emails: 4,
            account_meetings: 0,
            account_emails: 1,
            org_people: 4,
            engagement_start: 0,
            days_since_email: Some(18),
            days_since_meeting: None,
            avg_meeting: None,
            avg_reply: Some(147700),
        };
        let mut out = String::new();
        row.write_csv("ACC-1", 32, &mut out);
        assert_eq!(
            out,
            "ACC-1,32,2,1,0,0,0,4,0,1,1970-01-01,18,,,1477.00,1970-01-01,Month\n"
        );
        assert_eq!(csv_field("a,b"), "\"a,b\"");
    }
}
