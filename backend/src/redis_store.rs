//! The partial store and run registry on Redis. A job's effects (its blobs,
//! keyed by job id, and its done mark) are written in one MULTI/EXEC, so a
//! job stored twice, or a worker killed after storing and before acking,
//! never counts twice: the second write sets the same fields to the same
//! bytes. Every key carries the namespace; a run's keys are listed in a set
//! so the run can be removed whole, and expire after a week as a safety net.
//!
//! Keys: `{ns}:run:{run}:slot:{slot}` (hash job → blob),
//! `{ns}:run:{run}:done:{phase}` (set), `{ns}:run:{run}:failed:{phase}`
//! (hash job → error), `{ns}:run:{run}:keys` (set of the run's keys),
//! `{ns}:run:{run}:cancelled`, `{ns}:runs` (hash run → record) and
//! `{ns}:runs:order` (sorted set by creation time).

use async_trait::async_trait;
use rapport_common::plan::Phase;
use redis::aio::ConnectionManager;
use redis::AsyncCommands;

use crate::registry::RunRegistry;
use crate::store::{PartialStore, PhaseProgress, SlotWrite};
use crate::BackendError;

/// Attempts after a dropped connection.
const RETRIES: u32 = 5;

/// How long a run's intermediate keys live at most (seconds).
pub const RUN_KEY_TTL: i64 = 7 * 24 * 3600;

fn store_error(context: &str) -> impl Fn(redis::RedisError) -> BackendError + '_ {
    move |e| BackendError::Store(format!("{context}: {e}"))
}

/// Redis, under one namespace.
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    namespace: String,
}

impl RedisStore {
    /// Connects (the connection manager reconnects by itself afterwards).
    pub async fn connect(url: &str, namespace: &str) -> Result<RedisStore, BackendError> {
        let client = redis::Client::open(url).map_err(store_error("invalid Redis URL"))?;
        let conn = ConnectionManager::new(client)
            .await
            .map_err(store_error("cannot connect to Redis"))?;
        Ok(RedisStore {
            conn,
            namespace: namespace.to_owned(),
        })
    }

    fn key(&self, run: &str, rest: &str) -> String {
        format!("{}:run:{run}:{rest}", self.namespace)
    }

    /// Runs a command, again after a dropped connection (the manager
    /// reconnects meanwhile). Every command here is idempotent: sets of the
    /// same fields to the same values, reads and deletes.
    async fn retry<T, F, Fut>(&self, context: &str, mut command: F) -> Result<T, BackendError>
    where
        F: FnMut(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let mut attempt = 0;
        loop {
            match command(self.conn.clone()).await {
                Ok(v) => return Ok(v),
                Err(e)
                    if attempt < RETRIES
                        && (e.is_io_error() || e.is_connection_dropped() || e.is_timeout()) =>
                {
                    attempt += 1;
                    tracing::warn!(error = %e, attempt, "Redis command failed; retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(200 * u64::from(attempt)))
                        .await;
                }
                Err(e) => return Err(BackendError::Store(format!("{context}: {e}"))),
            }
        }
    }

    fn runs_key(&self) -> String {
        format!("{}:runs", self.namespace)
    }

    fn order_key(&self) -> String {
        format!("{}:runs:order", self.namespace)
    }

    /// Number of commands Redis has processed (for benchmarks).
    pub async fn commands_processed(&self) -> Result<u64, BackendError> {
        let info: String = redis::cmd("INFO")
            .arg("stats")
            .query_async(&mut self.conn.clone())
            .await
            .map_err(store_error("INFO"))?;
        Ok(info
            .lines()
            .find_map(|l| l.strip_prefix("total_commands_processed:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0))
    }

    /// Deletes every key of the namespace (tests clean up with it).
    pub async fn delete_namespace(&self) -> Result<(), BackendError> {
        let mut conn = self.conn.clone();
        let pattern = format!("{}:*", self.namespace);
        let keys: Vec<String> = {
            let mut iter: redis::AsyncIter<String> = conn
                .scan_match(&pattern)
                .await
                .map_err(store_error("SCAN"))?;
            let mut keys = Vec::new();
            while let Some(k) = futures_util::StreamExt::next(&mut iter).await {
                keys.push(k.map_err(store_error("SCAN"))?);
            }
            keys
        };
        if !keys.is_empty() {
            let _: () = conn.del(keys).await.map_err(store_error("DEL"))?;
        }
        Ok(())
    }
}

#[async_trait]
impl PartialStore for RedisStore {
    async fn complete_job(
        &self,
        run: &str,
        phase: Phase,
        job_id: &str,
        writes: Vec<SlotWrite>,
    ) -> Result<(), BackendError> {
        let keys_key = self.key(run, "keys");
        let done_key = self.key(run, &format!("done:{}", phase.name()));
        let mut pipe = redis::pipe();
        pipe.atomic();
        for w in &writes {
            let slot_key = self.key(run, &format!("slot:{}", w.slot));
            pipe.hset(&slot_key, job_id, &w.blob).ignore();
            pipe.sadd(&keys_key, &slot_key).ignore();
            pipe.expire(&slot_key, RUN_KEY_TTL).ignore();
        }
        pipe.sadd(&done_key, job_id).ignore();
        pipe.sadd(&keys_key, &done_key).ignore();
        pipe.expire(&done_key, RUN_KEY_TTL).ignore();
        pipe.expire(&keys_key, RUN_KEY_TTL).ignore();
        self.retry("store job effects", |mut c| {
            let pipe = pipe.clone();
            async move { pipe.query_async::<()>(&mut c).await }
        })
        .await
    }

    async fn fail_job(
        &self,
        run: &str,
        phase: Phase,
        job_id: &str,
        error: &str,
    ) -> Result<(), BackendError> {
        let failed_key = self.key(run, &format!("failed:{}", phase.name()));
        let mut pipe = redis::pipe();
        pipe.atomic()
            .hset(&failed_key, job_id, error)
            .ignore()
            .sadd(self.key(run, "keys"), &failed_key)
            .ignore()
            .expire(&failed_key, RUN_KEY_TTL)
            .ignore();
        self.retry("record job failure", |mut c| {
            let pipe = pipe.clone();
            async move { pipe.query_async::<()>(&mut c).await }
        })
        .await
    }

    async fn read_slot(
        &self,
        run: &str,
        slot: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, BackendError> {
        let key = self.key(run, &format!("slot:{slot}"));
        let mut entries: Vec<(String, Vec<u8>)> = self
            .retry("read slot", |mut c| {
                let key = key.clone();
                async move { c.hgetall(key).await }
            })
            .await?;
        entries.sort();
        Ok(entries)
    }

    async fn progress(&self, run: &str, phase: Phase) -> Result<PhaseProgress, BackendError> {
        let done_key = self.key(run, &format!("done:{}", phase.name()));
        let failed_key = self.key(run, &format!("failed:{}", phase.name()));
        let done: u64 = self
            .retry("SCARD", |mut c| {
                let k = done_key.clone();
                async move { c.scard(k).await }
            })
            .await?;
        let mut failed: Vec<(String, String)> = self
            .retry("HGETALL", |mut c| {
                let k = failed_key.clone();
                async move { c.hgetall(k).await }
            })
            .await?;
        failed.sort();
        Ok(PhaseProgress { done, failed })
    }

    async fn done_jobs(&self, run: &str, phase: Phase) -> Result<Vec<String>, BackendError> {
        let key = self.key(run, &format!("done:{}", phase.name()));
        let mut done: Vec<String> = self
            .retry("SMEMBERS", |mut c| {
                let k = key.clone();
                async move { c.smembers(k).await }
            })
            .await?;
        done.sort();
        Ok(done)
    }

    async fn delete_run(&self, run: &str) -> Result<(), BackendError> {
        let keys_key = self.key(run, "keys");
        let mut keys: Vec<String> = self
            .retry("SMEMBERS", |mut c| {
                let k = keys_key.clone();
                async move { c.smembers(k).await }
            })
            .await?;
        keys.push(keys_key);
        self.retry("DEL", |mut c| {
            let k = keys.clone();
            async move { c.del(k).await }
        })
        .await
    }
}

#[async_trait]
impl RunRegistry for RedisStore {
    async fn put_run(
        &self,
        run: &str,
        created_ms: i64,
        record: String,
    ) -> Result<(), BackendError> {
        let mut pipe = redis::pipe();
        pipe.atomic()
            .hset(self.runs_key(), run, record)
            .ignore()
            .zadd(self.order_key(), run, created_ms)
            .ignore();
        self.retry("store run record", |mut c| {
            let pipe = pipe.clone();
            async move { pipe.query_async::<()>(&mut c).await }
        })
        .await
    }

    async fn get_run(&self, run: &str) -> Result<Option<String>, BackendError> {
        let key = self.runs_key();
        self.retry("read run record", |mut c| {
            let (k, r) = (key.clone(), run.to_owned());
            async move { c.hget(k, r).await }
        })
        .await
    }

    async fn list_runs(&self, limit: usize) -> Result<Vec<String>, BackendError> {
        let order = self.order_key();
        let ids: Vec<String> = self
            .retry("list runs", |mut c| {
                let k = order.clone();
                async move { c.zrevrange(k, 0, limit as isize - 1).await }
            })
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let runs = self.runs_key();
        let records: Vec<Option<String>> = self
            .retry("read runs", |mut c| {
                let (k, ids) = (runs.clone(), ids.clone());
                async move { c.hmget(k, ids).await }
            })
            .await?;
        Ok(records.into_iter().flatten().collect())
    }

    async fn set_cancelled(&self, run: &str) -> Result<(), BackendError> {
        let key = self.key(run, "cancelled");
        self.retry("mark cancelled", |mut c| {
            let k = key.clone();
            async move { c.set_ex(k, 1, RUN_KEY_TTL as u64).await }
        })
        .await
    }

    async fn is_cancelled(&self, run: &str) -> Result<bool, BackendError> {
        let key = self.key(run, "cancelled");
        self.retry("EXISTS", |mut c| {
            let k = key.clone();
            async move { c.exists(k).await }
        })
        .await
    }
}
