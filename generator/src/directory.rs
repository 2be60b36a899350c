//! The people of a synthetic tenant: org users, accounts with skewed sizes,
//! their domains (some with subdomains and second domains) and contacts
//! (some only reachable as explicit contacts at a free-mail domain).

use crate::rng::{Rng, Weighted};

const FIRST: [&str; 23] = [
    "anna", "bo", "carl", "dana", "erik", "fia", "gus", "hanna", "ivan", "jon", "kim", "lea",
    "max", "nora", "olle", "pia", "rut", "sam", "tove", "ulf", "vera", "wim", "yara",
];
const LAST: [&str; 12] = [
    "ek", "berg", "dahl", "falk", "holm", "kvist", "lind", "nyman", "ros", "strom", "sund", "wall",
];
const TLDS: [&str; 6] = ["com", "co.uk", "de", "se", "io", "net"];

/// An org user.
pub struct OrgUser {
    /// Address as written in org_users.csv (some in upper case or padded).
    pub address: String,
    /// Azure AD object id, or empty.
    pub aad: String,
}

/// An account and its people.
pub struct Account {
    /// `ACC-00042`.
    pub id: String,
    /// Its domains.
    pub domains: Vec<String>,
    /// Its people's addresses.
    pub people: Vec<String>,
    /// Addresses listed in contacts.csv.
    pub listed: Vec<String>,
}

/// Everyone in a tenant.
pub struct People {
    /// Org users.
    pub users: Vec<OrgUser>,
    /// Accounts.
    pub accounts: Vec<Account>,
    /// How active each account is (skewed).
    pub activity: Weighted,
    /// Outsiders that belong to no account.
    pub outsiders: Vec<String>,
}

fn hex(rng: &mut Rng, n: usize) -> String {
    (0..n)
        .map(|_| char::from_digit(rng.below(16) as u32, 16).unwrap_or('0'))
        .collect()
}

/// Builds the people of a tenant.
pub fn build(rng: &mut Rng, num_users: u32, num_accounts: u32) -> People {
    let users = (0..num_users)
        .map(|i| {
            let address = format!("{}.{}{}@contoso.com", rng.pick(&FIRST), rng.pick(&LAST), i);
            let aad = if rng.chance(85) {
                format!(
                    "{}-{}-{}-{}-{}",
                    hex(rng, 8),
                    hex(rng, 4),
                    hex(rng, 4),
                    hex(rng, 4),
                    hex(rng, 12)
                )
            } else {
                String::new()
            };
            OrgUser { address, aad }
        })
        .collect();
    // Zipf-like activity: a few accounts hold most of the traffic.
    let weights: Vec<u64> = (0..num_accounts)
        .map(|i| 1_000_000 / (u64::from(i) + 1))
        .collect();
    let accounts = (0..num_accounts)
        .map(|i| {
            let mut domains = vec![format!("acct{i}.{}", TLDS[i as usize % TLDS.len()])];
            if rng.chance(10) {
                domains.push(format!("acct{i}-group.se"));
            }
            let size = 1 + (weights[i as usize] / 40_000).min(40) + rng.below(3);
            let mut people = Vec::new();
            let mut listed = Vec::new();
            for j in 0..size {
                let domain = rng.pick(&domains).clone();
                let host = match rng.below(10) {
                    0 => format!("eu.{domain}"),
                    1 => format!("mail.{domain}"),
                    _ => domain,
                };
                let address = format!("{}{j}.{}@{host}", rng.pick(&FIRST), rng.pick(&LAST));
                if rng.chance(20) {
                    listed.push(address.clone());
                }
                people.push(address);
            }
            if rng.chance(15) {
                let founder = format!("founder{i}@gmail.com");
                listed.push(founder.clone());
                people.push(founder);
            }
            Account {
                id: format!("ACC-{i:05}"),
                domains,
                people,
                listed,
            }
        })
        .collect();
    let outsiders = (0..20).map(|i| format!("info{i}@vendor{i}.org")).collect();
    People {
        users,
        accounts,
        activity: Weighted::new(weights),
        outsiders,
    }
}
