//! What reading public calendar and mail files against Python's `email`
//! and `icalendar` packages taught us (INPUTS.md), each reproduced in the
//! tenant of `tests/data/quirks` and checked on both backends.

use std::path::{Path, PathBuf};

use crate::util::*;

pub fn quirks() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/quirks/tenant.toml")
}

/// The Year row of `account`, by column name.
fn year_row(csv: &str, account: &str) -> Option<std::collections::HashMap<String, String>> {
    let header: Vec<&str> = csv.lines().next()?.split(',').collect();
    let row = csv
        .lines()
        .find(|l| l.starts_with(&format!("{account},")) && l.ends_with(",Year"))?;
    Some(
        header
            .iter()
            .zip(row.split(','))
            .map(|(h, v)| ((*h).to_owned(), v.to_owned()))
            .collect(),
    )
}

both_backends!(
    quirks_of_real_mail_and_calendar_files_are_read,
    |kind| async move {
        let (out, report) = run_tenant(kind, &quirks(), RunOptions::default()).await;
        let csv = std::fs::read_to_string(out.path().join("account_engagement.csv")).expect("csv");
        let year = |account: &str| {
            year_row(&csv, account).unwrap_or_else(|| panic!("{account}: no Year row\n{csv}"))
        };
        // `To: Mary Smith <@machine.tld:mary@example.net>, , jdoe@test   .
        // example`: the source route and the spaces around the dot are
        // obsolete syntax a reader must accept; both recipients count.
        assert_eq!(year("EXNET")["NoOfEmails_ToAccount"], "1");
        assert_eq!(year("TEST")["NoOfEmails_ToAccount"], "1");
        // `From: lee@fabrikam.com kim@fabrikam.com`: the first is the
        // sender, and Kim takes no part.
        let fab = year("FAB");
        assert_eq!(fab["NoOfEmails_FromAccount"], "1");
        assert_eq!(fab["NoOfAccountContactsInvolved_Emails"], "1");
        // `TZID:Pacific Time (US & Canada)\, Tijuana`, referenced quoted
        // with a plain comma: 20:00 on 2 March at -08:00 is 04:00Z on 3
        // March, 28 days before as_of (read as UTC it would be 29).
        let pac = year("PAC");
        assert_eq!(pac["NoOfMeetings_ToAccount"], "1");
        assert_eq!(pac["DaysSinceLastMeeting"], "28");
        // Two RRULEs recur on their union: weekly x3 (2, 9, 16 March) and
        // every other day x3 (2, 4, 6 March) share the 2nd: 5 occurrences.
        assert_eq!(year("WEEK")["NoOfMeetings_ToAccount"], "5");
        assert_eq!((report.records, report.rejected), (8, 0));
        assert_same_file(
            &quirks().with_file_name("expected/account_engagement.csv"),
            &out.path().join("account_engagement.csv"),
        );
    }
);
