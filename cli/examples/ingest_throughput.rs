//! Ingest throughput per format, on one core: reads every planned shard of
//! a tenant into memory (not timed), then parses each in turn (timed) and
//! prints MB/s and records/s by format.
//!
//! `cargo run --release -p rapport-cli --example ingest_throughput -- TENANT.toml`

use std::collections::BTreeMap;
use std::time::Instant;

use rapport_common::ingest::ShardBytes;
use rapport_coordinator::planner::plan_run;
use rapport_coordinator::tenant_loader::load_tenant;
use rapport_coordinator::PlanOptions;
use rapport_formats::{ingest_shard, FormatContext};

/// The allocator `rapport` itself uses.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = std::env::args()
        .nth(1)
        .ok_or("usage: ingest_throughput TENANT.toml")?;
    let tenant = load_tenant(config.as_ref())?;
    let ctx = plan_run("bench", &tenant, PlanOptions::default());
    let format_ctx = FormatContext::of(&ctx);
    // format → (bytes, records, seconds)
    let mut totals: BTreeMap<String, (u64, u64, f64)> = BTreeMap::new();
    let mut loaded: (String, Vec<u8>) = (String::new(), Vec::new());
    for shard in ctx.shard_groups.iter().flatten() {
        if loaded.0 != shard.location {
            loaded = (shard.location.clone(), std::fs::read(&shard.location)?);
        }
        let bytes = &loaded.1;
        let from = shard.start.saturating_sub(1) as usize;
        let view = ShardBytes {
            file: &shard.file,
            shard: Default::default(),
            offset: from as u64,
            skip_first_line: shard.start > 0,
            bytes: &bytes[from..],
            end: shard.end,
            split: shard.split,
        };
        let t = Instant::now();
        let out = ingest_shard(&view, shard.format, &format_ctx);
        let seconds = t.elapsed().as_secs_f64();
        let total = totals.entry(format!("{:?}", shard.format)).or_default();
        total.0 += shard.end - shard.start;
        total.1 += out.counters.records;
        total.2 += seconds;
    }
    println!("format  MB  records  seconds  MB/s  records/s");
    for (format, (bytes, records, seconds)) in totals {
        println!(
            "{format} {:.1} {records} {seconds:.2} {:.0} {:.0}",
            bytes as f64 / 1e6,
            bytes as f64 / 1e6 / seconds,
            records as f64 / seconds
        );
    }
    Ok(())
}
