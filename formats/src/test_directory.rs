//! What the parsers' unit tests share: the directory they resolve against
//! (`anna@contoso.com` is an org user, `fabrikam.com` is account `FAB`),
//! and a sink for the records of a file.

use rapport_common::address::person_id;
use rapport_common::directory::Directory;
use rapport_common::ingest::{IngestSink, ShardBytes};
use rapport_common::plan::Split;

/// A sink for the records of `file`, one key partition.
pub fn sink(file: &str) -> IngestSink<'_> {
    IngestSink::new(&ShardBytes::whole_file(file, &[], Split::Whole), 1)
}

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
