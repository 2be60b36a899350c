//! The fuzz targets' body (`rapport_formats::fuzzing::run`) over their seed
//! inputs (`fuzz/seeds/`) and every input a fuzzer found to crash, hang or
//! over-allocate (`fuzz/regressions/`, one folder per target): each must be
//! read without a panic, and read the same whole or cut into shards.

use std::path::Path;

use rapport_common::tenant::Format;
use rapport_formats::fuzzing::run;

fn run_folder(folder: &str, format: Format) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut count = 0;
    for kind in ["seeds", "regressions"] {
        let dir = root.join(kind).join(folder);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("entry").path();
            if path.file_name().is_some_and(|n| n == ".keep") {
                continue;
            }
            let data = std::fs::read(&path).expect("input");
            run(format, &data);
            count += 1;
        }
    }
    count
}

#[test]
fn graph_inputs() {
    assert!(run_folder("graph", Format::Graph) >= 2);
}

#[test]
fn mbox_inputs() {
    assert!(run_folder("mbox", Format::Mbox) >= 2);
}

#[test]
fn ics_inputs() {
    assert!(run_folder("ics", Format::Ics) >= 2);
}

#[test]
fn jsonl_inputs() {
    assert!(run_folder("jsonl", Format::Jsonl) >= 2);
}
