//! Plans a run: input shards, partition counts and the run context. The
//! counts only set how the work is cut; the output is the same for any.

use rapport_common::plan::{plan_shards, RunContext};

use crate::tenant_loader::LoadedTenant;

/// Target bytes of an ingest shard.
pub const SHARD_BYTES: u64 = 32 * 1024 * 1024;
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
}

/// The run context of a new run of `tenant`.
pub fn plan_run(run_id: &str, tenant: &LoadedTenant, options: PlanOptions) -> RunContext {
    let total: u64 = tenant.files.iter().map(|f| f.size).sum();
    let shard_bytes = options.shard_bytes.unwrap_or(SHARD_BYTES);
    // Small files are grouped up to a sixteenth of a shard: enough to make
    // thousands of .eml files a few jobs, not so much as to idle workers.
    let shard_groups = plan_shards(&tenant.files, shard_bytes, (shard_bytes / 16).max(1));
    // Multiples of 4, so 1, 2 or 4 workers finish a phase's last round together.
    let size = options.job_size;
    let key_partitions = options
        .key_partitions
        .unwrap_or_else(|| {
            (total.div_ceil(size.bytes_per_key_partition()) as u32)
                .clamp(4, 512)
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
