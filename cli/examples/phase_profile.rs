//! Times the pure steps of a run on one core, without queue or staging:
//! `cargo run --release -p rapport-cli --example phase_profile -- TENANT.toml`.
//! Used for the "where the time goes" table of BENCHMARKS.md.

use std::time::Instant;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use rapport_common::aggregate::aggregate;
use rapport_common::ingest::ShardBytes;
use rapport_common::merge::{conflicts, sort_copies, Winners};
use rapport_common::plan::Split;
use rapport_common::record::{decode_staged, StagedCopy};
use rapport_common::tenant::Format;
use rapport_coordinator::{load_tenant, plan_run, PlanOptions};
use rapport_formats::{ingest_shard, FormatContext};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: phase_profile TENANT.toml")?;
    let tenant = load_tenant(std::path::Path::new(&path))?;
    let ctx = plan_run(
        "profile",
        &tenant,
        PlanOptions {
            key_partitions: None,
            ..PlanOptions::default()
        },
    );
    type Loaded = (String, Format, Split, Vec<u8>);
    let files: Vec<Loaded> = tenant
        .files
        .iter()
        .map(|f| {
            Ok((
                f.name.clone(),
                f.format,
                f.split,
                std::fs::read(&f.location)?,
            ))
        })
        .collect::<std::io::Result<_>>()?;
    let bytes: usize = files.iter().map(|f| f.3.len()).sum();

    let t = Instant::now();
    let mut partitions: Vec<Vec<u8>> = vec![Vec::new(); ctx.key_partitions as usize];
    let format_ctx = FormatContext::of(&ctx);
    for (name, format, split, data) in &files {
        let shard = ShardBytes {
            shard: Default::default(),
            file: name,
            offset: 0,
            skip_first_line: false,
            bytes: data,
            end: data.len() as u64,
            split: *split,
        };
        let out = ingest_shard(&shard, *format, &format_ctx);
        for (all, part) in partitions.iter_mut().zip(out.partitions) {
            all.extend(part);
        }
    }
    let parse = t.elapsed().as_secs_f64();
    println!(
        "parse+resolve+encode: {parse:.2} s, {:.0} MB/s",
        bytes as f64 / 1e6 / parse
    );
    println!(
        "staged: {:.0} MB",
        partitions.iter().map(Vec::len).sum::<usize>() as f64 / 1e6
    );

    let t = Instant::now();
    let decoded: Vec<Vec<StagedCopy>> = partitions
        .iter()
        .map(|b| {
            let mut copies = Vec::new();
            decode_staged(b, &mut copies).expect("decodes");
            sort_copies(&mut copies);
            assert!(conflicts(&copies).is_empty(), "a tie to read again");
            copies
        })
        .collect();
    println!("decode staged: {:.2} s", t.elapsed().as_secs_f64());

    let t = Instant::now();
    let outs: Vec<_> = decoded
        .into_iter()
        .map(|copies| aggregate(copies, &Winners::default(), &ctx).expect("merges"))
        .collect();
    println!("aggregate: {:.2} s", t.elapsed().as_secs_f64());
    let entries: usize = outs[0].partials.iter().map(|p| p.periods.len()).sum();
    let people: usize = outs[0]
        .partials
        .iter()
        .flat_map(|p| p.periods.values())
        .map(|v| {
            v.org_emails.len()
                + v.account_emails.len()
                + v.org_meetings.len()
                + v.account_meetings.len()
        })
        .sum();
    println!(
        "aggregate jobs: {}; the first: {entries} period entries, {people} people ids",
        outs.len()
    );
    let t = Instant::now();
    let blobs: Vec<Vec<u8>> = outs
        .iter()
        .flat_map(|o| {
            o.partials
                .iter()
                .map(|p| postcard::to_stdvec(p).expect("encodes"))
        })
        .collect();
    println!(
        "encode partials: {:.2} s ({:.0} MB)",
        t.elapsed().as_secs_f64(),
        blobs.iter().map(Vec::len).sum::<usize>() as f64 / 1e6
    );
    Ok(())
}
