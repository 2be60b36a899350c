//! Which account an address belongs to (ENGAGEMENT.md §1 "Which account an
//! address belongs to"). The directory holds person ids, not addresses, so it
//! can travel inside the run context to every worker.

use rustc_hash::{FxHashMap, FxHashSet};

use serde::{Deserialize, Serialize};

use crate::address::{domain_candidates, domain_of, person_id};

/// Index of an account in the run's sorted account list.
pub type AccountIdx = u32;

/// What one valid, normalised address is to the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Party {
    /// One of the selected org users U.
    Org(u64),
    /// A person of an account: (account, person id).
    Account(AccountIdx, u64),
    /// Neither: takes no part in any figure.
    Unmapped,
}

/// Org users, contacts and account domains, resolved to indices.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Directory {
    /// Person ids of the org users.
    pub org: FxHashSet<u64>,
    /// Person id of a listed contact → its account.
    pub contacts: FxHashMap<u64, AccountIdx>,
    /// Lower-case domain → account.
    pub domains: FxHashMap<String, AccountIdx>,
    /// Account ids, sorted by byte order; an `AccountIdx` points here.
    pub accounts: Vec<String>,
}

impl Directory {
    /// Resolves a valid, normalised address: org user first, then an explicit
    /// contact, then the domain and its parents.
    pub fn resolve(&self, normalised: &str) -> Party {
        let id = person_id(normalised);
        if self.org.contains(&id) {
            return Party::Org(id);
        }
        if let Some(&account) = self.contacts.get(&id) {
            return Party::Account(account, id);
        }
        domain_candidates(domain_of(normalised))
            .find_map(|d| self.domains.get(d))
            .map_or(Party::Unmapped, |&account| Party::Account(account, id))
    }

    /// Normalises `raw` into `buf` and resolves it; `None` when it is not a
    /// valid address.
    pub fn resolve_raw(&self, raw: &str, buf: &mut String) -> Option<Party> {
        crate::address::normalise_into(raw, buf).then(|| self.resolve(buf))
    }

    /// The account id behind an index.
    pub fn account_id(&self, idx: AccountIdx) -> &str {
        &self.accounts[idx as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn directory() -> Directory {
        let accounts = vec!["ACC-1".to_owned(), "ACC-2".to_owned()];
        Directory {
            org: [person_id("anna@contoso.com"), person_id("bo@acme.com")]
                .into_iter()
                .collect(),
            contacts: [
                (person_id("eve@gmail.com"), 1),
                (person_id("carl@acme.com"), 1),
            ]
            .into_iter()
            .collect(),
            domains: [("acme.com".to_owned(), 0), ("co.uk".to_owned(), 1)]
                .into_iter()
                .collect(),
            accounts,
        }
    }

    #[test]
    fn org_user_is_never_an_account_contact() {
        assert!(matches!(directory().resolve("bo@acme.com"), Party::Org(_)));
    }

    #[test]
    fn explicit_contact_wins_over_domain_rule() {
        assert!(matches!(
            directory().resolve("carl@acme.com"),
            Party::Account(1, _)
        ));
        assert!(matches!(
            directory().resolve("eve@gmail.com"),
            Party::Account(1, _)
        ));
    }

    #[test]
    fn domain_then_parent_domains_give_the_account() {
        assert!(matches!(
            directory().resolve("x@acme.com"),
            Party::Account(0, _)
        ));
        assert!(matches!(
            directory().resolve("x@eu.sales.acme.com"),
            Party::Account(0, _)
        ));
        assert!(matches!(
            directory().resolve("x@shop.co.uk"),
            Party::Account(1, _)
        ));
    }

    #[test]
    fn unlisted_address_is_unmapped() {
        assert_eq!(directory().resolve("x@other.org"), Party::Unmapped);
        assert_eq!(directory().resolve("x@com"), Party::Unmapped);
    }
}
