//! The email and meeting rules (ENGAGEMENT.md §2): for one deduplicated
//! record, which accounts it counts for, in which direction, and who is
//! involved. Emails and meetings share the rule with a different initiator
//! (sender or organizer) and other participants (recipients or attendees).

use crate::directory::{AccountIdx, Party};

/// What one email or meeting contributes to one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interaction {
    /// The account.
    pub account: AccountIdx,
    /// Started by the organization: initiator ∈ U, some other participant ∈ A.
    pub to_account: bool,
    /// Started by the account: initiator ∈ A, some other participant ∈ U.
    pub from_account: bool,
    /// Org people involved (initiator and others in U), sorted, distinct.
    pub org_people: Vec<u64>,
    /// People of the account involved, sorted, distinct.
    pub account_people: Vec<u64>,
}

/// The interactions of a record whose initiator is `initiator` and whose other
/// participants are `others` (mapped, distinct). Accounts in ascending order;
/// an account appears only when the record counts for it.
///
/// Only two shapes count: an org user writing to (or inviting) accounts,
/// which counts *to* each of them, and a person of an account writing to org
/// users, which counts *from* that one account. Every record passes here, so
/// it allocates only what it returns.
pub fn interactions(initiator: Party, others: &[Party]) -> Vec<Interaction> {
    match initiator {
        Party::Org(_) => to_accounts(initiator, others),
        Party::Account(account, _) => from_account(initiator, account, others)
            .into_iter()
            .collect(),
        Party::Unmapped => Vec::new(),
    }
}

/// An org user's record: one interaction per account among `others`.
fn to_accounts(initiator: Party, others: &[Party]) -> Vec<Interaction> {
    let mut accounts: Vec<AccountIdx> = others.iter().filter_map(account_of).collect();
    if accounts.is_empty() {
        return Vec::new();
    }
    accounts.sort_unstable();
    accounts.dedup();
    let org_people = org_people(initiator, others);
    let mut result = Vec::with_capacity(accounts.len());
    for account in accounts {
        result.push(Interaction {
            account,
            to_account: true,
            from_account: false,
            org_people: org_people.clone(),
            account_people: people_of(account, initiator, others),
        });
    }
    result
}

/// A record started by a person of `account`: counts from it when an org
/// user takes part; no other account's people count.
fn from_account(initiator: Party, account: AccountIdx, others: &[Party]) -> Option<Interaction> {
    if !others.iter().any(|p| matches!(p, Party::Org(_))) {
        return None;
    }
    Some(Interaction {
        account,
        to_account: false,
        from_account: true,
        org_people: org_people(initiator, others),
        account_people: people_of(account, initiator, others),
    })
}

fn account_of(p: &Party) -> Option<AccountIdx> {
    match p {
        Party::Account(a, _) => Some(*a),
        _ => None,
    }
}

/// Org users among the initiator and `others`, sorted, distinct.
fn org_people(initiator: Party, others: &[Party]) -> Vec<u64> {
    let mut people: Vec<u64> = std::iter::once(&initiator)
        .chain(others)
        .filter_map(|p| match p {
            Party::Org(id) => Some(*id),
            _ => None,
        })
        .collect();
    people.sort_unstable();
    people.dedup();
    people
}

/// People of `account` among the initiator and `others`, sorted, distinct.
fn people_of(account: AccountIdx, initiator: Party, others: &[Party]) -> Vec<u64> {
    let mut people: Vec<u64> = std::iter::once(&initiator)
        .chain(others)
        .filter_map(|p| match p {
            Party::Account(a, id) if *a == account => Some(*id),
            _ => None,
        })
        .collect();
    people.sort_unstable();
    people.dedup();
    people
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ANNA: Party = Party::Org(1);
    const CARL: Party = Party::Org(2);
    const BO: Party = Party::Account(0, 10);
    const EVE: Party = Party::Account(0, 11);
    const ZED: Party = Party::Account(1, 20);

    #[test]
    fn email_to_account_when_sender_is_org_user_and_a_recipient_is_in_account() {
        let got = interactions(ANNA, &[BO]);
        assert_eq!(got.len(), 1);
        assert!(got[0].to_account && !got[0].from_account);
    }

    #[test]
    fn email_from_account_when_sender_is_in_account_and_a_recipient_is_org_user() {
        let got = interactions(BO, &[ANNA, EVE]);
        assert_eq!(got.len(), 1);
        assert!(got[0].from_account && !got[0].to_account);
        assert_eq!(got[0].account_people, vec![10, 11]);
        assert_eq!(got[0].org_people, vec![1]);
    }

    #[test]
    fn email_counts_for_several_accounts_at_once() {
        let got = interactions(ANNA, &[BO, ZED, CARL]);
        assert_eq!(
            got.iter().map(|i| i.account).collect::<Vec<_>>(),
            vec![0, 1]
        );
        assert!(got.iter().all(|i| i.to_account));
        assert_eq!(got[0].org_people, vec![1, 2]);
        assert_eq!(got[1].account_people, vec![20]);
    }

    #[test]
    fn email_between_accounts_without_org_user_does_not_count() {
        assert!(interactions(BO, &[ZED]).is_empty());
        assert!(interactions(BO, &[EVE]).is_empty());
    }

    #[test]
    fn email_from_account_does_not_count_for_another_account_in_copy() {
        // Bo (account 0) writes to Anna and cc's Zed (account 1): counts from 0,
        // not for 1 (the sender is not an org user).
        let got = interactions(BO, &[ANNA, ZED]);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].account, 0);
    }

    /// The rule as ENGAGEMENT.md states it, for every account in sight:
    /// what `interactions` must agree with.
    fn reference(initiator: Party, others: &[Party]) -> Vec<Interaction> {
        let initiator_is_org = matches!(initiator, Party::Org(_));
        let others_include_org = others.iter().any(|p| matches!(p, Party::Org(_)));
        let mut accounts: Vec<AccountIdx> = std::iter::once(&initiator)
            .chain(others)
            .filter_map(account_of)
            .collect();
        accounts.sort_unstable();
        accounts.dedup();
        let mut result = Vec::new();
        for account in accounts {
            let in_account = |p: &Party| matches!(p, Party::Account(a, _) if *a == account);
            let to_account = initiator_is_org && others.iter().any(in_account);
            let from_account = in_account(&initiator) && others_include_org;
            if to_account || from_account {
                result.push(Interaction {
                    account,
                    to_account,
                    from_account,
                    org_people: org_people(initiator, others),
                    account_people: people_of(account, initiator, others),
                });
            }
        }
        result
    }

    fn arb_party() -> impl Strategy<Value = Party> {
        prop_oneof![
            (0..4u64).prop_map(Party::Org),
            (0..3u32, 10..16u64).prop_map(|(a, id)| Party::Account(a, id)),
            Just(Party::Unmapped),
        ]
    }

    proptest! {
        #[test]
        fn agrees_with_the_rule_as_stated(
            initiator in arb_party(),
            others in proptest::collection::vec(arb_party(), 0..6),
        ) {
            prop_assert_eq!(interactions(initiator, &others), reference(initiator, &others));
        }
    }

    #[test]
    fn internal_email_counts_for_no_account() {
        assert!(interactions(ANNA, &[CARL]).is_empty());
        assert!(interactions(Party::Unmapped, &[ANNA]).is_empty());
    }
}
