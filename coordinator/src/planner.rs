//! Plans a run: input shards, partition counts and the run context. The
//! counts only set how the work is cut; the output is the same for any.

use rapport_common::plan::{plan_shards, RunContext};

use crate::tenant_loader::LoadedTenant;

/// Target bytes of an ingest shard, for inputs up to [`MAX_INGEST_JOBS`] shards.
pub const SHARD_BYTES: u64 = 32 * 1024 * 1024;
/// Ingest jobs a run is cut into at most (past 8 GB of input, shards grow):
/// every ingest job hands a ref to every aggregate job, so the store holds
/// ingest jobs x key partitions refs; this keeps that linear in the input.
pub const MAX_INGEST_JOBS: u64 = 256;
/// How big jobs are. The output is the same for any; only speed and
/// memory per job change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum JobSize {
    /// Small jobs: a cluster worker's memory stays near 200 MiB, and many
    /// workers share the work.
    #[default]
    Cluster,
    /// Jobs four times as big, for one process on a few cores: fewer jobs,
    /// fewer partial copies to merge (about a fifth faster on the
    /// benchmark; peak memory about 650 MiB for 1.5 M records).
    Embedded,
}

impl JobSize {
    /// Input bytes per key partition (aggregate job).
    pub fn bytes_per_key_partition(self) -> u64 {
        match self {
            JobSize::Cluster => 48 * 1024 * 1024,
            JobSize::Embedded => 160 * 1024 * 1024,
        }
    }

    /// Accounts per account partition (reduce and score jobs).
    pub fn accounts_per_partition(self) -> usize {
        match self {
            JobSize::Cluster => 1024,
            JobSize::Embedded => 8192,
        }
    }

    /// Staged bytes an ingest job holds before it stages them. Shards of
    /// up to 32 MB stage once; the larger shards of a tenant past 8 GB
    /// stage in batches, so an ingest job's memory stays flat.
    pub fn staged_batch_bytes(self) -> u64 {
        match self {
            JobSize::Cluster => 16 * 1024 * 1024,
            JobSize::Embedded => 64 * 1024 * 1024,
        }
    }
}

/// How to cut the work; `None` picks from the input size.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlanOptions {
    /// How big jobs are when the counts below are not given.
    pub job_size: JobSize,
    /// Bytes per ingest shard.
    pub shard_bytes: Option<u64>,
    /// Key partitions.
    pub key_partitions: Option<u32>,
    /// Account partitions.
    pub account_partitions: Option<u32>,
    /// Staged bytes an ingest job holds before it stages them.
    pub staged_batch_bytes: Option<u64>,
}

/// The run context of a new run of `tenant`.
pub fn plan_run(run_id: &str, tenant: &LoadedTenant, options: PlanOptions) -> RunContext {
    let total: u64 = tenant.files.iter().map(|f| f.size).sum();
    let shard_bytes = options
        .shard_bytes
        .unwrap_or_else(|| SHARD_BYTES.max(total.div_ceil(MAX_INGEST_JOBS)));
    // Small files are grouped up to a sixteenth of a shard: enough to make
    // thousands of .eml files a few jobs, not so much as to idle workers.
    let shard_groups = plan_shards(&tenant.files, shard_bytes, (shard_bytes / 16).max(1));
    // Multiples of 4, so 1, 2 or 4 workers finish a phase's last round
    // together. No upper bound: an aggregate job's input, and so its
    // memory, stays the same whatever the tenant.
    let size = options.job_size;
    let key_partitions = options
        .key_partitions
        .unwrap_or_else(|| {
            (total.div_ceil(size.bytes_per_key_partition()) as u32)
                .max(4)
                .next_multiple_of(4)
        })
        .max(1);
    let num_accounts = tenant.tables.directory.accounts.len();
    let account_partitions = options
        .account_partitions
        .unwrap_or_else(|| {
            (num_accounts.div_ceil(size.accounts_per_partition()) as u32)
                .clamp(4, 256)
                .next_multiple_of(4)
        })
        .max(1);
    RunContext {
        run_id: run_id.to_owned(),
        settings: tenant.settings.clone(),
        directory: tenant.tables.directory.clone(),
        shard_groups,
        key_partitions,
        account_partitions,
        staged_batch_bytes: options
            .staged_batch_bytes
            .unwrap_or_else(|| size.staged_batch_bytes())
            .max(1),
    }
}

/// A new run id: the UTC time and a random suffix, sortable by start.
pub fn new_run_id() -> String {
    let now = chrono::Utc::now();
    let nanos = now.timestamp_nanos_opt().unwrap_or_default();
    let noise = xxhash_rust::xxh3::xxh3_64(
        &[
            nanos.to_le_bytes(),
            u64::from(std::process::id()).to_le_bytes(),
        ]
        .concat(),
    );
    format!("r{}-{:06x}", now.format("%Y%m%d%H%M%S"), noise & 0xff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rapport_common::plan::{InputFile, Split, MAX_REPLY_JOBS};
    use rapport_common::tenant::{Format, TenantSettings};

    /// A tenant of `files` jsonl files of `size` bytes each (never read).
    fn tenant(files: usize, size: u64) -> LoadedTenant {
        LoadedTenant {
            config_path: "/t/tenant.toml".into(),
            settings: TenantSettings {
                id: "t".to_owned(),
                timezone: "UTC".to_owned(),
                as_of: chrono::NaiveDate::from_ymd_opt(2026, 6, 30).expect("date"),
                window_days: 365,
                weights: rapport_common::score::DEFAULT_WEIGHTS,
                min_org_people: 0,
            },
            tables: rapport_common::tables::Tables {
                directory: Default::default(),
                office_users: Default::default(),
            },
            files: (0..files)
                .map(|i| InputFile {
                    name: format!("activity/{i:02}.jsonl"),
                    location: format!("/t/activity/{i:02}.jsonl"),
                    format: Format::Jsonl,
                    split: Split::Lines,
                    size,
                })
                .collect(),
        }
    }

    #[test]
    fn jobs_follow_the_input_and_handed_refs_stay_linear_in_it() {
        const GB: u64 = 1 << 30;
        // 1.5 M, 15 M and 100 M records (about 0.5, 5 and 35 GB of jsonl).
        for (total, ingest, key) in [(GB / 2, 64, 12), (5 * GB, 192, 108), (35 * GB, 256, 748)] {
            let ctx = plan_run("r", &tenant(64, total / 64), PlanOptions::default());
            assert_eq!(ctx.shard_groups.len() as u64, ingest, "{total}");
            assert_eq!(ctx.key_partitions, key, "{total}");
            assert!(ctx.reply_partitions() <= MAX_REPLY_JOBS);
            // Every key partition has its replies job, and each replies job
            // joins at most a group of consecutive key partitions.
            let parts: Vec<u32> = (0..key).map(|kp| ctx.reply_partition(kp)).collect();
            assert!(parts.windows(2).all(|w| w[1] == w[0] || w[1] == w[0] + 1));
            assert_eq!(parts.last().map(|p| p + 1), Some(ctx.reply_partitions()));
            // An aggregate job's input does not grow with the tenant.
            assert!(total / u64::from(key) <= JobSize::Cluster.bytes_per_key_partition());
        }
    }
}
