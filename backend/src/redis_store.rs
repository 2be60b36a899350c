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
        pipe.query_async::<()>(&mut self.conn.clone())
            .await
            .map_err(store_error("store job effects"))
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
        pipe.query_async::<()>(&mut self.conn.clone())
            .await
            .map_err(store_error("record job failure"))
    }

    async fn read_slot(
        &self,
        run: &str,
        slot: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, BackendError> {
        let mut entries: Vec<(String, Vec<u8>)> = self
            .conn
            .clone()
            .hgetall(self.key(run, &format!("slot:{slot}")))
            .await
            .map_err(store_error("read slot"))?;
        entries.sort();
        Ok(entries)
    }

    async fn progress(&self, run: &str, phase: Phase) -> Result<PhaseProgress, BackendError> {
        let mut conn = self.conn.clone();
        let done: u64 = conn
            .scard(self.key(run, &format!("done:{}", phase.name())))
            .await
            .map_err(store_error("SCARD"))?;
        let mut failed: Vec<(String, String)> = conn
            .hgetall(self.key(run, &format!("failed:{}", phase.name())))
            .await
            .map_err(store_error("HGETALL"))?;
        failed.sort();
        Ok(PhaseProgress { done, failed })
    }

    async fn done_jobs(&self, run: &str, phase: Phase) -> Result<Vec<String>, BackendError> {
        let mut done: Vec<String> = self
            .conn
            .clone()
            .smembers(self.key(run, &format!("done:{}", phase.name())))
            .await
            .map_err(store_error("SMEMBERS"))?;
        done.sort();
        Ok(done)
    }

    async fn delete_run(&self, run: &str) -> Result<(), BackendError> {
        let mut conn = self.conn.clone();
        let keys_key = self.key(run, "keys");
        let mut keys: Vec<String> = conn
            .smembers(&keys_key)
            .await
            .map_err(store_error("SMEMBERS"))?;
        keys.push(keys_key);
        let _: () = conn.del(keys).await.map_err(store_error("DEL"))?;
        Ok(())
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
        pipe.query_async::<()>(&mut self.conn.clone())
            .await
            .map_err(store_error("store run record"))
    }

    async fn get_run(&self, run: &str) -> Result<Option<String>, BackendError> {
        self.conn
            .clone()
            .hget(self.runs_key(), run)
            .await
            .map_err(store_error("read run record"))
    }

    async fn list_runs(&self, limit: usize) -> Result<Vec<String>, BackendError> {
        let mut conn = self.conn.clone();
        let ids: Vec<String> = conn
            .zrevrange(self.order_key(), 0, limit as isize - 1)
            .await
            .map_err(store_error("list runs"))?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let records: Vec<Option<String>> = conn
            .hmget(self.runs_key(), &ids)
            .await
            .map_err(store_error("read runs"))?;
        Ok(records.into_iter().flatten().collect())
    }

    async fn set_cancelled(&self, run: &str) -> Result<(), BackendError> {
        let _: () = self
            .conn
            .clone()
            .set_ex(self.key(run, "cancelled"), 1, RUN_KEY_TTL as u64)
            .await
            .map_err(store_error("mark cancelled"))?;
        Ok(())
    }

    async fn is_cancelled(&self, run: &str) -> Result<bool, BackendError> {
        self.conn
            .clone()
            .exists(self.key(run, "cancelled"))
            .await
            .map_err(store_error("EXISTS"))
    }
}
