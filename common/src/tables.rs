//! The three CSV tables of a tenant (INPUTS.md): org users, contacts and
//! account domains, read from bytes into a [`Directory`] and the
//! `office_users.csv` rows. Refusals name the file, line and column.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::address::{normalise, person_id};
use crate::directory::Directory;
use crate::tenant::ConfigError;

/// Fewest and most distinct org users.
pub const ORG_USERS: std::ops::RangeInclusive<usize> = 2..=2500;

/// The three tables as text, with the names to report them by.
pub struct TableSources<'a> {
    /// (file name, bytes) of org_users.
    pub org_users: (&'a str, &'a [u8]),
    /// (file name, bytes) of contacts.
    pub contacts: (&'a str, &'a [u8]),
    /// (file name, bytes) of account_domains.
    pub account_domains: (&'a str, &'a [u8]),
}

/// The directory, and the office users (normalised address → object id).
pub struct Tables {
    /// Resolution maps.
    pub directory: Directory,
    /// `office_users.csv` rows, sorted by address.
    pub office_users: BTreeMap<String, String>,
}

fn read_rows(
    name: &str,
    bytes: &[u8],
    columns: [&str; 2],
) -> Result<Vec<(u64, [String; 2])>, ConfigError> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let headers = reader
        .headers()
        .map_err(|e| ConfigError::new(name, format!("unreadable header: {e}")))?
        .clone();
    let index: Vec<usize> = columns
        .iter()
        .map(|c| {
            headers
                .iter()
                .position(|h| h.trim().eq_ignore_ascii_case(c))
                .ok_or_else(|| ConfigError::new(name, format!("missing header column {c}")))
        })
        .collect::<Result<_, _>>()?;
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| ConfigError::new(name, format!("unreadable CSV: {e}")))?;
        let line = record.position().map_or(0, |p| p.line());
        let field = |i: usize| record.get(index[i]).unwrap_or("").trim().to_owned();
        rows.push((line, [field(0), field(1)]));
    }
    Ok(rows)
}

fn address(name: &str, line: u64, column: &str, raw: &str) -> Result<String, ConfigError> {
    normalise(raw).ok_or_else(|| {
        ConfigError::new(
            format!("{name}:{line}"),
            format!("{column} is not a valid address"),
        )
    })
}

/// Reads and checks the three tables.
pub fn read_tables(src: &TableSources) -> Result<Tables, ConfigError> {
    let (org_name, org_bytes) = src.org_users;
    let mut office_users: BTreeMap<String, String> = BTreeMap::new();
    for (line, [email, aad]) in read_rows(org_name, org_bytes, ["email", "aad_object_id"])? {
        let email = address(org_name, line, "email", &email)?;
        let entry = office_users.entry(email).or_default();
        if entry.is_empty() {
            *entry = aad;
        }
    }
    if !ORG_USERS.contains(&office_users.len()) {
        return Err(ConfigError::new(
            org_name,
            format!(
                "{} distinct org users; between 2 and 2500 are needed",
                office_users.len()
            ),
        ));
    }

    let (contacts_name, contacts_bytes) = src.contacts;
    let contacts = read_rows(contacts_name, contacts_bytes, ["email", "account_id"])?;
    let (domains_name, domains_bytes) = src.account_domains;
    let domains = read_rows(domains_name, domains_bytes, ["domain", "account_id"])?;

    let mut accounts = BTreeSet::new();
    for (name, line, account) in contacts
        .iter()
        .map(|(l, [_, a])| (contacts_name, l, a))
        .chain(domains.iter().map(|(l, [_, a])| (domains_name, l, a)))
    {
        if account.is_empty() {
            return Err(ConfigError::new(
                format!("{name}:{line}"),
                "account_id is empty",
            ));
        }
        accounts.insert(account.clone());
    }
    let accounts: Vec<String> = accounts.into_iter().collect();
    let index: HashMap<&str, u32> = accounts
        .iter()
        .enumerate()
        .map(|(i, a)| (a.as_str(), i as u32))
        .collect();

    let mut directory = Directory {
        org: office_users.keys().map(|a| person_id(a)).collect(),
        ..Directory::default()
    };
    // The first listing of a contact or domain wins, as the file orders them.
    for (line, [email, account]) in &contacts {
        let email = address(contacts_name, *line, "email", email)?;
        directory
            .contacts
            .entry(person_id(&email))
            .or_insert(index[account.as_str()]);
    }
    for (line, [domain, account]) in &domains {
        let domain = domain.to_lowercase();
        if domain.is_empty() || domain.contains('@') {
            return Err(ConfigError::new(
                format!("{domains_name}:{line}"),
                "domain is not a domain name",
            ));
        }
        directory
            .domains
            .entry(domain)
            .or_insert(index[account.as_str()]);
    }
    directory.accounts = accounts;
    Ok(Tables {
        directory,
        office_users,
    })
}

/// `office_users.csv`.
pub fn office_users_csv(office_users: &BTreeMap<String, String>) -> String {
    let mut out = String::from("Email,AadObjectId\n");
    for (email, aad) in office_users {
        out.push_str(&crate::row::csv_field(email));
        out.push(',');
        out.push_str(&crate::row::csv_field(aad));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::Party;

    fn tables(org: &str, contacts: &str, domains: &str) -> Result<Tables, ConfigError> {
        read_tables(&TableSources {
            org_users: ("org_users.csv", org.as_bytes()),
            contacts: ("contacts.csv", contacts.as_bytes()),
            account_domains: ("account_domains.csv", domains.as_bytes()),
        })
    }

    const ORG: &str =
        "email,aad_object_id\nANNA@contoso.com,\n bo@contoso.com ,id-2\nanna@contoso.com,id-1\n";

    #[test]
    fn office_users_are_normalised_distinct_and_sorted() {
        let t =
            tables(ORG, "email,account_id\n", "domain,account_id\nAcme.com,A\n").expect("valid");
        assert_eq!(
            office_users_csv(&t.office_users),
            "Email,AadObjectId\nanna@contoso.com,id-1\nbo@contoso.com,id-2\n"
        );
        assert!(matches!(
            t.directory.resolve("x@acme.com"),
            Party::Account(0, _)
        ));
    }

    #[test]
    fn too_few_org_users_are_refused() {
        let e = tables(
            "email,aad_object_id\na@b.c,\nA@B.C,\n",
            "email,account_id\n",
            "domain,account_id\n",
        );
        assert_eq!(e.err().map(|e| e.field), Some("org_users.csv".to_owned()));
    }

    #[test]
    fn missing_header_column_is_refused() {
        let e = tables(ORG, "email,account\nx@y.z,A\n", "domain,account_id\n");
        let e = e.err().expect("refused");
        assert_eq!(e.field, "contacts.csv");
        assert!(e.message.contains("account_id"));
    }

    #[test]
    fn extra_columns_are_ignored_and_accounts_sorted() {
        let t = tables(
            ORG,
            "name,email,account_id\nx,x@y.z,B\n",
            "domain,account_id,size\nacme.com,A,3\n",
        )
        .expect("valid");
        assert_eq!(t.directory.accounts, ["A", "B"]);
        assert!(matches!(t.directory.resolve("x@y.z"), Party::Account(1, _)));
    }
}
