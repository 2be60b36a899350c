//! Tests of the header reader.

use rapport_common::address::person_id;
use rapport_common::directory::Party;
use rapport_common::record::{email_key, StagedEmail};
use rapport_common::reject::RejectReason as R;

use super::*;
use crate::test_directory::directory;

fn parse(block: &str) -> Result<StagedEmail, Rejection> {
    match parse_headers(block.as_bytes(), &directory())?.record {
        rapport_common::record::StagedRecord::Email(e) => Ok(e),
        rapport_common::record::StagedRecord::Meeting(_) => panic!("an email"),
    }
}

#[test]
fn names_commas_encoded_words_folding_and_groups_are_read() {
    let block = "Message-ID:\n <m1@contoso.com> (comment)\n\
From: \"Lindqvist, Anna\" <Anna@Contoso.com>\n\
To: =?utf-8?q?Bj=C3=B6rn?= <bo@fabrikam.com>,\n\t\"Doe, Cy\" <cy@fabrikam.com>\n\
Cc: team: dee@fabrikam.com, anna@contoso.com;, undisclosed-recipients:;\n\
Subject: never kept\n\
Date: Mon, 2 Mar 2026 09:15:00 +0100\n\
In-Reply-To: <m0@fabrikam.com> <older@fabrikam.com>\n";
    let email = parse(block).expect("read");
    assert_eq!(email.key, email_key("<m1@contoso.com>"));
    assert_eq!(email.sent_at, 1_772_439_300);
    assert_eq!(email.sender, Party::Org(person_id("anna@contoso.com")));
    let accounts = email
        .recipients
        .iter()
        .filter(|p| matches!(p, Party::Account(0, _)))
        .count();
    assert_eq!(accounts, 3, "bo, cy and dee");
    assert_eq!(email.in_reply_to, Some(email_key("<m0@fabrikam.com>")));
}

#[test]
fn crlf_and_obsolete_zone_names_are_read() {
    let block = "Message-ID: <a@b>\r\nDate: Mon, 14 May 2001 16:39:00 -0700 (PDT)\r\nFrom: anna@contoso.com\r\n";
    let pdt = parse(block).expect("read").sent_at;
    let est = parse(&block.replace("-0700 (PDT)", "EST"))
        .expect("read")
        .sent_at;
    assert_eq!(est - pdt, -2 * 3600);
}

#[test]
fn ids_without_brackets_are_trimmed_and_repeated_fields_take_the_first() {
    let block =
        "Message-ID:  plain-id \nMessage-ID: <second@x>\nDate: Mon, 2 Mar 2026 09:15:00 +0000\n\
From: anna@contoso.com\nTo: bo@fabrikam.com\nTo: cy@fabrikam.com\n";
    let email = parse(block).expect("read");
    assert_eq!(email.key, email_key("plain-id"));
    assert_eq!(email.recipients.len(), 2, "both To fields count");
}

#[test]
fn missing_or_bad_fields_are_rejected_by_name() {
    let good = "Message-ID: <a@b>\nDate: Mon, 2 Mar 2026 09:15:00 +0000\nFrom: anna@contoso.com\n";
    let cases = [
        (
            good.replace("Message-ID: <a@b>\n", ""),
            R::MissingMessageId,
            "Message-ID",
        ),
        (
            good.replace("Mon, 2 Mar 2026", "Mon, 31 Feb 2026"),
            R::InvalidSentAt,
            "Date",
        ),
        (good.replace("Date", "X-Date"), R::InvalidSentAt, "Date"),
        (
            good.replace("anna@contoso.com", "Anna (no address)"),
            R::InvalidSender,
            "From",
        ),
        ("no headers here\n".to_owned(), R::InvalidSyntax, "headers"),
    ];
    for (block, reason, field) in cases {
        let rejection = parse(&block).expect_err(&block);
        assert_eq!(
            (rejection.reason, rejection.field.as_str()),
            (reason, field),
            "{block}"
        );
    }
}

#[test]
fn a_from_with_two_addresses_and_no_comma_takes_the_first() {
    let block = "Message-ID: <a@b>\nDate: Mon, 2 Mar 2026 09:15:00 +0000\n\
From: bo@fabrikam.com anna@contoso.com\nTo: Mary <@relay.tld:anna@contoso.com>, , cy@fabrikam   . com\n";
    let parsed = parse_headers(block.as_bytes(), &directory()).expect("read");
    assert_eq!(parsed.tie.normalised().first, "bo@fabrikam.com");
    let rapport_common::record::StagedRecord::Email(email) = parsed.record else {
        panic!("an email")
    };
    assert_eq!(
        email.sender,
        Party::Account(0, person_id("bo@fabrikam.com"))
    );
    assert_eq!(
        email.recipients,
        [
            Party::Org(person_id("anna@contoso.com")),
            Party::Account(0, person_id("cy@fabrikam.com"))
        ]
    );
}
