//! Fuzzes the `ics` reader: see `rapport_formats::fuzzing`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rapport_common::tenant::Format;

fuzz_target!(|data: &[u8]| rapport_formats::fuzzing::run(Format::Ics, data));
