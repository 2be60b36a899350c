//! The fuzz targets' body (`rapport_formats::fuzzing::run`) over their seed
//! inputs (`fuzz/seeds/`) and every input a fuzzer found to crash, hang or
//! over-allocate (`fuzz/regressions/`, one folder per target): each must be
//! read without a panic, and read the same in every shape the target
//! tries (cut into shards, cut after a value, folded again, as `.eml`).

use std::path::Path;

use rapport_common::tenant::Format;
use rapport_formats::fuzzing::run;

fn run_folder(folder: &str, format: Format) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut count = 0;
    for kind in ["seeds", "regressions"] {
        let dir = root.join(kind).join(folder);
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| {
            panic!(
                "{}: {e}: every target has seeds and regressions",
                dir.display()
            )
        });
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
