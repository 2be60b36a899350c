//! The body of every fuzz target (`fuzz/`): a format's parser over arbitrary
//! bytes, read whole and cut into shards at every boundary the format
//! allows. Kept here so the regression tests (`formats/tests/fuzz_cases.rs`)
//! run the same code on the crashes the fuzzers found.

use std::convert::Infallible;

use rapport_common::directory::Directory;
use rapport_common::ingest::ShardBytes;
use rapport_common::tenant::Format;
use rapport_common::time::days_from_civil;

use crate::{ingest_shard, split_of, FormatContext};

/// Parses `data` as a file of `format`: whole, then as two shards cut at
/// the middle; the records read must be the same either way.
pub fn run(format: Format, data: &[u8]) {
    let mut directory = Directory {
        accounts: vec!["ACME".to_owned()],
        ..Directory::default()
    };
    directory.domains.insert("example.com".to_owned(), 0);
    // A run's range: a window of about two years around 2026.
    let ctx = FormatContext {
        key_partitions: 2,
        expand_from: days_from_civil(2025, 1, 1) * 86_400,
        expand_until: days_from_civil(2027, 1, 1) * 86_400,
        ..FormatContext::unbounded(&directory, chrono_tz::Europe::Stockholm)
    };
    let name = match format {
        Format::Mbox => "fuzz.mbox",
        _ => "fuzz",
    };
    let Ok(split) = split_of(format, name, || Ok::<_, Infallible>(data.to_vec()));
    let whole = ShardBytes {
        file: name,
        offset: 0,
        skip_first_line: false,
        bytes: data,
        end: data.len() as u64,
        split,
    };
    let all = ingest_shard(&whole, format, &ctx);
    if split == rapport_common::plan::Split::Whole || data.len() < 2 {
        return;
    }
    let cut = data.len() / 2;
    let first = ShardBytes {
        end: cut as u64,
        ..whole
    };
    let second = ShardBytes {
        offset: cut as u64 - 1,
        skip_first_line: true,
        bytes: &data[cut - 1..],
        ..whole
    };
    let (a, b) = (
        ingest_shard(&first, format, &ctx),
        ingest_shard(&second, format, &ctx),
    );
    assert_eq!(
        a.counters.records + b.counters.records,
        all.counters.records,
        "records lost or read twice at a shard cut"
    );
}
