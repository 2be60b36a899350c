//! The directory the parsers' unit tests resolve against: `anna@contoso.com`
//! is an org user, `fabrikam.com` is account `FAB`.

use rapport_common::address::person_id;
use rapport_common::directory::Directory;

/// The test directory.
pub fn directory() -> Directory {
    let mut d = Directory {
        accounts: vec!["FAB".to_owned()],
        ..Directory::default()
    };
    d.domains.insert("fabrikam.com".to_owned(), 0);
    d.org.insert(person_id("anna@contoso.com"));
    d
}
