//! Tests of the merge: each rule of §2 on its own, then the merge against a
//! reference written straight from §2's sentences, on random copies that
//! differ as real mailboxes' copies do, in any order.

use proptest::prelude::*;

use super::*;
use crate::address::person_id;
use crate::directory::Directory;
use crate::record::{email_key, meeting_key, Attendee, ShardId};

fn copy(record: StagedRecord, at: u64) -> StagedCopy {
    StagedCopy {
        source: SourceRef {
            shard: ShardId::default(),
            record: at,
        },
        record,
    }
}

fn email(id: &str, sent_at: i64, sender: Party, recipients: Vec<Party>) -> StagedRecord {
    StagedRecord::Email(StagedEmail {
        key: email_key(id),
        sent_at,
        sender,
        recipients,
        in_reply_to: None,
    })
}

fn merged(records: Vec<StagedRecord>) -> Merged {
    let mut copies: Vec<StagedCopy> = records
        .into_iter()
        .enumerate()
        .map(|(i, r)| copy(r, i as u64))
        .collect();
    sort_copies(&mut copies);
    assert!(conflicts(&copies).is_empty());
    merge(copies, &Winners::default()).expect("merges")
}

/// The merged email `<m1>`.
fn email_m1(out: &Merged) -> &StagedEmail {
    match out
        .records
        .iter()
        .find(|r| r.key() == (0, email_key("<m1>")))
    {
        Some(StagedRecord::Email(e)) => e,
        _ => panic!("no email <m1>"),
    }
}

const ANNA: Party = Party::Org(1);
const BO: Party = Party::Account(0, 5);
const EVE: Party = Party::Account(0, 6);

#[test]
fn an_emails_recipients_are_the_union_of_every_copys() {
    // Only the sender's copy lists the bcc.
    let out = merged(vec![
        email("<m1>", 10, ANNA, vec![BO]),
        email("<m1>", 10, ANNA, vec![BO, EVE]),
        email("<m2>", 10, ANNA, vec![]),
    ]);
    assert_eq!(out.duplicates, 1);
    assert_eq!(out.records.len(), 2);
    let e = email_m1(&out);
    assert_eq!(e.recipients, vec![BO, EVE]);
}

#[test]
fn the_earliest_copy_gives_the_time_sender_and_in_reply_to() {
    let late = StagedRecord::Email(StagedEmail {
        in_reply_to: Some(email_key("<m0>")),
        ..match email("<m1>", 20, BO, vec![ANNA]) {
            StagedRecord::Email(e) => e,
            StagedRecord::Meeting(_) => unreachable!(),
        }
    });
    let out = merged(vec![late, email("<m1>", 10, ANNA, vec![EVE])]);
    let StagedRecord::Email(e) = &out.records[0] else {
        panic!("an email")
    };
    assert_eq!((e.sent_at, e.sender, e.in_reply_to), (10, ANNA, None));
    assert_eq!(e.recipients, vec![ANNA, EVE]);
}

fn meeting(uid: &str, start: i64, end: i64, attendees: &[(Party, bool)]) -> StagedMeeting {
    StagedMeeting {
        key: meeting_key(uid),
        start,
        end,
        organizer: ANNA,
        attendees: attendees
            .iter()
            .map(|&(party, excluded)| Attendee { party, excluded })
            .collect(),
        cancelled: false,
        all_day: false,
    }
}

#[test]
fn a_meeting_is_cancelled_if_any_copy_is_and_a_declined_attendee_is_declined() {
    // The organizer's copy knows Bo declined; Bo's own copy of an older
    // invitation says nothing; Eve's copy is cancelled.
    let organizers = meeting("u", 0, 60, &[(BO, true), (EVE, false)]);
    let bos = meeting("u", 0, 60, &[(BO, false), (EVE, false)]);
    let eves = StagedMeeting {
        cancelled: true,
        ..meeting("u", 0, 60, &[(EVE, false)])
    };
    let out = merged(vec![
        StagedRecord::Meeting(bos),
        StagedRecord::Meeting(eves),
        StagedRecord::Meeting(organizers),
    ]);
    let StagedRecord::Meeting(m) = &out.records[0] else {
        panic!("a meeting")
    };
    assert!(m.cancelled);
    assert_eq!(m.participants(), vec![EVE]);
    assert_eq!(out.duplicates, 2);
}

#[test]
fn the_earliest_start_then_end_gives_the_meetings_time_and_all_day_flag() {
    let early_long = StagedMeeting {
        all_day: true,
        ..meeting("u", 0, 120, &[])
    };
    let early_short = meeting("u", 0, 60, &[]);
    let late = meeting("u", 30, 40, &[(BO, false)]);
    let out = merged(
        [early_long, late, early_short]
            .into_iter()
            .map(StagedRecord::Meeting)
            .collect(),
    );
    let StagedRecord::Meeting(m) = &out.records[0] else {
        panic!("a meeting")
    };
    assert_eq!((m.start, m.end, m.all_day), (0, 60, false));
    assert_eq!(m.participants(), vec![BO]);
}

#[test]
fn meetings_and_emails_with_the_same_id_are_not_copies_of_each_other() {
    let m = StagedRecord::Meeting(meeting("<m1>", 0, 60, &[]));
    let out = merged(vec![email("<m1>", 10, ANNA, vec![]), m]);
    assert_eq!((out.records.len(), out.duplicates), (2, 0));
}

#[test]
fn copies_tied_on_time_that_differ_in_sender_are_a_conflict_decided_by_text() {
    let a = email("<m1>", 10, ANNA, vec![BO]);
    let b = email("<m1>", 10, BO, vec![ANNA]);
    let mut copies = vec![
        copy(b.clone(), 7),
        copy(a.clone(), 3),
        copy(email("<m2>", 1, ANNA, vec![]), 3),
    ];
    sort_copies(&mut copies);
    let found = conflicts(&copies);
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0]
            .sources
            .iter()
            .map(|s| s.record)
            .collect::<Vec<_>>(),
        [3, 7]
    );
    assert_eq!(
        merge(copies.clone(), &Winners::default()).map(|m| m.records.len()),
        Err(MergeError::Unresolved)
    );
    // "bo@..." sorts before "zed@...": Bo's copy is the first.
    let text = |first: &str| TieStrings {
        first: first.to_owned(),
        second: String::new(),
    };
    let reread = vec![
        (a.clone(), text("zed@contoso.com")),
        (b.clone(), text("bo@fabrikam.com")),
    ];
    let winner = choose(&found[0], &reread).expect("chosen");
    assert_eq!(winner, b);
    let winners: Winners = [(found[0].key, winner)].into_iter().collect();
    let out = merge(copies, &winners).expect("merges");
    let e = email_m1(&out);
    assert_eq!(e.sender, BO);
    // A source that no longer holds the staged copy is an input that changed.
    assert_eq!(
        choose(&found[0], &reread[..1]),
        Err(MergeError::SourceChanged)
    );
}

#[test]
fn a_meeting_tied_on_start_end_and_organizer_takes_the_copy_that_is_not_all_day() {
    let plain = meeting("u", 0, 60, &[]);
    let all_day = StagedMeeting {
        all_day: true,
        ..plain.clone()
    };
    let mut copies = vec![
        copy(StagedRecord::Meeting(all_day.clone()), 1),
        copy(StagedRecord::Meeting(plain.clone()), 2),
    ];
    sort_copies(&mut copies);
    let found = conflicts(&copies);
    let same = TieStrings {
        first: "anna@contoso.com".to_owned(),
        second: String::new(),
    };
    let reread = vec![
        (StagedRecord::Meeting(all_day), same.clone()),
        (StagedRecord::Meeting(plain.clone()), same),
    ];
    assert_eq!(choose(&found[0], &reread), Ok(StagedRecord::Meeting(plain)));
}

/// A raw copy as a mailbox holds it: the text the spec compares, and the
/// fields the staged form keeps.
#[derive(Debug, Clone)]
enum Raw {
    Email {
        id: usize,
        sent_at: i64,
        from: usize,
        in_reply_to: Option<usize>,
        recipients: Vec<usize>,
    },
    Meeting {
        id: usize,
        start: i64,
        end: i64,
        organizer: usize,
        attendees: Vec<(usize, bool)>,
        cancelled: bool,
        all_day: bool,
    },
}

/// Addresses of the model, in an order unrelated to their parties'.
const ADDRESSES: [&str; 6] = [
    "zoe@contoso.com",
    "anna@contoso.com",
    "bo@fabrikam.com",
    "al@fabrikam.com",
    "x@nowhere.org",
    "y@nowhere.org",
];

fn directory() -> Directory {
    Directory {
        org: [person_id(ADDRESSES[0]), person_id(ADDRESSES[1])]
            .into_iter()
            .collect(),
        domains: [("fabrikam.com".to_owned(), 0)].into_iter().collect(),
        accounts: vec!["FAB".to_owned()],
        ..Directory::default()
    }
}

fn party(i: usize) -> Party {
    directory().resolve(ADDRESSES[i])
}

fn reply_id(i: usize) -> String {
    format!("<r{i}@x>")
}

impl Raw {
    fn staged(&self) -> StagedRecord {
        match self {
            Raw::Email {
                id,
                sent_at,
                from,
                in_reply_to,
                recipients,
            } => {
                let mut recipients: Vec<Party> = recipients.iter().map(|&r| party(r)).collect();
                crate::record::tidy_parties(&mut recipients);
                StagedRecord::Email(StagedEmail {
                    key: email_key(&format!("<m{id}>")),
                    sent_at: *sent_at,
                    sender: party(*from),
                    recipients,
                    in_reply_to: in_reply_to.map(|r| email_key(&reply_id(r))),
                })
            }
            Raw::Meeting {
                id,
                start,
                end,
                organizer,
                attendees,
                cancelled,
                all_day,
            } => {
                let mut attendees: Vec<Attendee> = attendees
                    .iter()
                    .map(|&(a, excluded)| Attendee {
                        party: party(a),
                        excluded,
                    })
                    .collect();
                crate::record::tidy_attendees(&mut attendees);
                StagedRecord::Meeting(StagedMeeting {
                    key: meeting_key(&format!("u{id}")),
                    start: *start,
                    end: *end,
                    organizer: party(*organizer),
                    attendees,
                    cancelled: *cancelled,
                    all_day: *all_day,
                })
            }
        }
    }

    fn text(&self) -> TieStrings {
        match self {
            Raw::Email {
                from, in_reply_to, ..
            } => TieStrings {
                first: ADDRESSES[*from].to_owned(),
                second: in_reply_to.map(reply_id).unwrap_or_default(),
            },
            Raw::Meeting { organizer, .. } => TieStrings {
                first: ADDRESSES[*organizer].to_owned(),
                second: String::new(),
            },
        }
    }
}

/// §2 as written: per id, the first copy by (time, text, then not all-day)
/// gives its fields; lists unite; cancelled if any; an attendee is out if
/// any entry declines it or calls it a resource.
fn reference(raws: &[Raw]) -> Vec<StagedRecord> {
    let mut by_key: std::collections::BTreeMap<CopyKey, Vec<&Raw>> = Default::default();
    for r in raws {
        by_key.entry(r.staged().key()).or_default().push(r);
    }
    let mut out = Vec::new();
    for copies in by_key.values() {
        let order = |r: &&&Raw| match *r {
            Raw::Email { sent_at, .. } => (*sent_at, 0, r.text(), false),
            Raw::Meeting {
                start,
                end,
                all_day,
                ..
            } => (*start, *end, r.text(), *all_day),
        };
        let first = copies.iter().min_by_key(order).expect("a copy");
        let staged: Vec<StagedRecord> = copies.iter().map(|r| r.staged()).collect();
        out.push(match first.staged() {
            StagedRecord::Email(mut e) => {
                let mut all: Vec<Party> = staged
                    .iter()
                    .flat_map(|s| match s {
                        StagedRecord::Email(x) => x.recipients.clone(),
                        StagedRecord::Meeting(_) => vec![],
                    })
                    .collect();
                all.sort_unstable();
                all.dedup();
                e.recipients = all;
                StagedRecord::Email(e)
            }
            StagedRecord::Meeting(mut m) => {
                let mut people: std::collections::BTreeMap<Party, bool> = Default::default();
                let mut cancelled = false;
                for s in &staged {
                    if let StagedRecord::Meeting(x) = s {
                        cancelled |= x.cancelled;
                        for a in &x.attendees {
                            *people.entry(a.party).or_default() |= a.excluded;
                        }
                    }
                }
                m.cancelled = cancelled;
                m.attendees = people
                    .into_iter()
                    .map(|(party, excluded)| Attendee { party, excluded })
                    .collect();
                StagedRecord::Meeting(m)
            }
        });
    }
    out.sort_unstable_by_key(StagedRecord::key);
    out
}

fn raw_copy() -> impl Strategy<Value = Raw> {
    let email = (
        0..4usize,
        0..3i64,
        0..6usize,
        proptest::option::of(0..3usize),
        proptest::collection::vec(0..6usize, 0..4),
    )
        .prop_map(|(id, sent_at, from, in_reply_to, recipients)| Raw::Email {
            id,
            sent_at,
            from,
            in_reply_to,
            recipients,
        });
    let meeting = (
        0..4usize,
        0..2i64,
        1..3i64,
        0..6usize,
        proptest::collection::vec((0..6usize, any::<bool>()), 0..4),
        proptest::bool::weighted(0.2),
        proptest::bool::weighted(0.2),
    )
        .prop_map(
            |(id, start, length, organizer, attendees, cancelled, all_day)| Raw::Meeting {
                id,
                start,
                end: start + length,
                organizer,
                attendees,
                cancelled,
                all_day,
            },
        );
    prop_oneof![email, meeting]
}

proptest! {
    /// Any copies, in any order: merging them through staging, conflicts
    /// and re-read text gives §2's records.
    #[test]
    fn the_merge_is_section_2_whatever_the_copies_and_their_order(
        raws in proptest::collection::vec(raw_copy(), 1..24),
        seed in any::<u64>(),
    ) {
        // Each copy is read from its own record; the order is shuffled.
        let mut order: Vec<usize> = (0..raws.len()).collect();
        let mut state = seed;
        for i in (1..order.len()).rev() {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            order.swap(i, (state >> 33) as usize % (i + 1));
        }
        let mut copies: Vec<StagedCopy> = order.iter().map(|&i| copy(raws[i].staged(), i as u64)).collect();
        sort_copies(&mut copies);
        let mut winners = Winners::default();
        for conflict in conflicts(&copies) {
            // What the worker does: read the sources again, with their text.
            let reread: Vec<(StagedRecord, TieStrings)> = conflict
                .sources
                .iter()
                .map(|s| &raws[s.record as usize])
                .map(|r| (r.staged(), r.text()))
                .collect();
            winners.insert(conflict.key, choose(&conflict, &reread).expect("chosen"));
        }
        let out = merge(copies, &winners).expect("merges");
        prop_assert_eq!(out.duplicates as usize, raws.len() - out.records.len());
        prop_assert_eq!(out.records, reference(&raws));
    }
}
