//! `rapport generate` and `rapport demo`: a synthetic tenant, and a demo that
//! generates one, runs it embedded and prints who is most and least engaged.

use std::path::Path;

use anyhow::Context;
use rapport_coordinator::PlanOptions;
use rapport_generator::convert::{convert_tenant, TargetFormat};
use rapport_generator::{generate, GenerateOptions};

use crate::args::{DemoArgs, GenerateArgs};
use crate::embedded::{run_embedded, Outputs};
use crate::exit::CliError;

/// Runs `rapport generate`.
pub fn generate_command(args: GenerateArgs) -> Result<(), CliError> {
    let target = match args.format.as_str() {
        "graph" => Some(TargetFormat::Graph),
        "mail" => Some(TargetFormat::Mail),
        _ => None,
    };
    if let Some(from) = &args.from {
        let target = target.ok_or_else(|| {
            CliError::Usage("--from: give --format graph or mail to convert a tenant".to_owned())
        })?;
        let summary = convert_tenant(from, &args.out, target)
            .map_err(|e| CliError::Usage(format!("--from: {e}")))?;
        eprintln!(
            "rapport: wrote {} activity files ({:.1} MB) to {}",
            summary.files,
            summary.bytes as f64 / 1e6,
            args.out.display()
        );
        return Ok(());
    }
    let options = GenerateOptions {
        seed: args.seed,
        users: args.users,
        accounts: args.accounts,
        emails: args.emails,
        meetings: args.meetings,
    };
    let mut summary = generate(&options, &args.out).context("generate failed")?;
    let mut what = format!("{} activity lines", summary.lines);
    if let Some(target) = target {
        // Written as jsonl first, then converted in place.
        let config = args.out.join("tenant.toml");
        let converted = convert_tenant(&config, &args.out, target).context("generate failed")?;
        remove_jsonl(&args.out.join("activity")).context("generate failed")?;
        what = format!("{} {} activity files", converted.files, args.format);
        summary.bytes = converted.bytes;
    }
    eprintln!(
        "rapport: wrote {what} ({} emails, {} meetings, {:.1} MB) to {}",
        summary.emails,
        summary.meetings,
        summary.bytes as f64 / 1e6,
        args.out.display()
    );
    Ok(())
}

/// Removes the `jsonl` files a conversion replaced.
fn remove_jsonl(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "jsonl") {
            std::fs::remove_file(path)?;
        }
    }
    Ok(())
}

/// Runs `rapport demo`.
pub async fn demo_command(args: DemoArgs) -> Result<(), CliError> {
    let tenant_dir = args.out.join("tenant");
    let options = GenerateOptions {
        seed: 2026,
        users: 40,
        accounts: 120,
        emails: 60_000,
        meetings: 8_000,
    };
    generate(&options, &tenant_dir).context("generate failed")?;
    let results = args.out.join("results");
    let report = run_embedded(
        &tenant_dir.join("tenant.toml"),
        &results,
        None,
        PlanOptions::default(),
        &Outputs::default(),
    )
    .await?;
    println!(
        "Demo tenant: {} org users, {} accounts; {} records read, {} rejected, {} duplicates dropped.",
        options.users, options.accounts, report.records, report.rejected, report.duplicates
    );
    println!(
        "{} rows for {} accounts in {:.2} s. Results in {}",
        report.rows,
        report.accounts,
        report.total_seconds,
        results.display()
    );
    print_table(&results.join("account_engagement.csv")).map_err(CliError::Failed)?;
    Ok(())
}

/// Prints the five most and five least engaged accounts of the latest month.
fn print_table(csv: &Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(csv).with_context(|| format!("cannot read {}", csv.display()))?;
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .filter(|r: &Vec<&str>| r.len() == 17)
        .collect();
    let latest = rows
        .iter()
        .filter(|r| r[16] == "Month")
        .map(|r| r[15])
        .max()
        .unwrap_or_default();
    let mut month: Vec<&Vec<&str>> = rows
        .iter()
        .filter(|r| r[16] == "Month" && r[15] == latest)
        .collect();
    month.sort_by_key(|r| (std::cmp::Reverse(r[1].parse::<u32>().unwrap_or(0)), r[0]));
    println!(
        "\nMonth starting {latest}: {} accounts engaged",
        month.len()
    );
    println!(
        "{:<10} {:>5} {:>9} {:>9} {:>9} {:>9} {:>10} {:>10}",
        "account", "score", "emails→", "emails←", "meet→", "meet←", "days mail", "days meet"
    );
    let print = |r: &Vec<&str>| {
        println!(
            "{:<10} {:>5} {:>9} {:>9} {:>9} {:>9} {:>10} {:>10}",
            r[0], r[1], r[2], r[3], r[5], r[4], r[11], r[12]
        );
    };
    println!("most engaged");
    month.iter().take(5).for_each(|r| print(r));
    println!("least engaged");
    month
        .iter()
        .rev()
        .take(5)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .for_each(|r| print(r));
    Ok(())
}
