//! The partial store and run registry on Redis. A job's effects (its blobs,
//! keyed by job id, and its done mark) are written in one atomic script, so a
//! job stored twice, or a worker killed after storing and before acking,
//! never counts twice: the second write sets the same fields to the same
//! bytes. Every key carries the namespace; a run's keys are listed in a set
//! so the run can be removed whole, and expire after a week as a safety net.
//!
//! A job's effects are stored by a Lua script only while the run's epoch
//! is the job's (`crate::store`).
//!
//! Keys: `{ns}:run:{run}:epoch`, `{ns}:run:{run}:slot:{slot}` (hash job →
//! blob), `{ns}:run:{run}:done:{phase}` (set), `{ns}:run:{run}:failed:{phase}`
//! (hash job → failure, JSON), `{ns}:run:{run}:attempts` (hash job →
//! count), `{ns}:run:{run}:keys` (set of the run's keys),
//! `{ns}:run:{run}:cancelled`, `{ns}:runs` (hash run → record) and
//! `{ns}:runs:order` (sorted set by creation time).

use async_trait::async_trait;
use rapport_common::plan::{Job, Phase};
use redis::aio::ConnectionManager;
use redis::AsyncCommands;

use crate::lease::{Fence, Lease};
use crate::registry::RunRegistry;
use crate::store::{fresh_epoch, JobFailure, PartialStore, PhaseProgress, SlotWrite, Stored};
use crate::tls::{hint, TlsSettings};
use crate::BackendError;

/// Attempts after a dropped connection.
const RETRIES: u32 = 5;

/// How long a run's intermediate keys live at most (seconds).
pub const RUN_KEY_TTL: i64 = 7 * 24 * 3600;

fn store_error(context: &str) -> impl Fn(redis::RedisError) -> BackendError + '_ {
    move |e| BackendError::Store(format!("{context}: {e}"))
}

/// Runs a list of commands if the lease still holds the fence's value.
/// KEYS: the lease; ARGV: its expected value, then per command its length
/// and its words.
const FENCED_WRITE: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return redis.error_reply('FENCED this coordinator no longer leads')
end
local i = 2
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  local words = {}
  for j = 1, n do words[j] = ARGV[i + j] end
  redis.call(unpack(words))
  i = i + n + 1
end
return 1
";

/// One Redis command, as words.
type Command = Vec<String>;

fn command(words: &[&str]) -> Command {
    words.iter().map(|w| (*w).to_owned()).collect()
}

/// Redis, under one namespace.
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    namespace: String,
    /// With a lease: the leader's state writes are fenced by it.
    fence: Option<(String, Fence)>,
}

impl RedisStore {
    /// Connects (the connection manager reconnects by itself afterwards).
    pub async fn connect(url: &str, namespace: &str) -> Result<RedisStore, BackendError> {
        RedisStore::connect_with(url, namespace, &TlsSettings::default()).await
    }

    /// Connects, over TLS with `tls` when the URL is `rediss://`.
    pub async fn connect_with(
        url: &str,
        namespace: &str,
        tls: &TlsSettings,
    ) -> Result<RedisStore, BackendError> {
        let client = if tls.is_default() || !url.starts_with("rediss://") {
            redis::Client::open(url)
        } else {
            redis::Client::build_with_tls(url, tls.redis())
        }
        .map_err(store_error("invalid Redis URL or TLS settings"))?;
        let conn = ConnectionManager::new(client).await.map_err(|e| {
            let text = e.to_string();
            BackendError::Store(format!("cannot connect to Redis: {text}{}", hint(&text)))
        })?;
        Ok(RedisStore {
            conn,
            namespace: namespace.to_owned(),
            fence: None,
        })
    }

    /// The lease of this namespace for the coordinator `holder`.
    pub fn lease(&self, holder: String) -> Lease {
        Lease::new(self.conn.clone(), &self.namespace, holder)
    }

    /// This store with its state writes (run records, epochs, undone and
    /// deleted runs) fenced by `lease`: refused once it no longer leads.
    pub fn fenced(&self, lease: &Lease) -> RedisStore {
        RedisStore {
            fence: Some((lease.key().to_owned(), lease.fence())),
            ..self.clone()
        }
    }

    /// Writes `commands` atomically, fenced when the store is.
    async fn write(&self, context: &str, commands: Vec<Command>) -> Result<(), BackendError> {
        let Some((lease_key, fence)) = &self.fence else {
            let mut pipe = redis::pipe();
            pipe.atomic();
            for words in &commands {
                let mut cmd = redis::cmd(&words[0]);
                for w in &words[1..] {
                    cmd.arg(w);
                }
                pipe.add_command(cmd).ignore();
            }
            return self
                .retry(context, |mut c| {
                    let pipe = pipe.clone();
                    async move { pipe.query_async::<()>(&mut c).await }
                })
                .await;
        };
        let Some(value) = fence.value() else {
            return Err(BackendError::Fenced);
        };
        let script = redis::Script::new(FENCED_WRITE);
        let result: Result<i64, BackendError> = self
            .retry(context, |mut c| {
                let mut call = script.prepare_invoke();
                call.key(lease_key).arg(&value);
                for words in &commands {
                    call.arg(words.len());
                    for w in words {
                        call.arg(w);
                    }
                }
                async move { call.invoke_async(&mut c).await }
            })
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(BackendError::Store(e)) if e.contains("FENCED") => Err(BackendError::Fenced),
            Err(e) => Err(e),
        }
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

    fn schedules_key(&self) -> String {
        format!("{}:schedules", self.namespace)
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

/// Stores a job's effects if the run's epoch is the job's.
/// KEYS: epoch, keys set, done set, then one slot per blob;
/// ARGV: epoch, job id, ttl, then the blobs (ARGV[i] goes to KEYS[i]).
const COMPLETE_JOB: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
for i = 4, #KEYS do
  redis.call('HSET', KEYS[i], ARGV[2], ARGV[i])
  redis.call('SADD', KEYS[2], KEYS[i])
  redis.call('EXPIRE', KEYS[i], ARGV[3])
end
redis.call('SADD', KEYS[3], ARGV[2])
redis.call('SADD', KEYS[2], KEYS[3])
redis.call('EXPIRE', KEYS[3], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 1
";

/// Records a job's failure if the run's epoch is the job's and it is not done.
/// KEYS: epoch, keys set, failed hash, done set; ARGV: epoch, job id, failure, ttl.
const FAIL_JOB: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call('SISMEMBER', KEYS[4], ARGV[2]) == 1 then return 1 end
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
redis.call('SADD', KEYS[2], KEYS[3])
redis.call('EXPIRE', KEYS[3], ARGV[4])
return 1
";

fn stored(applied: i64) -> Stored {
    if applied == 1 {
        Stored::Yes
    } else {
        Stored::StaleEpoch
    }
}

fn read_failure(text: &str) -> JobFailure {
    serde_json::from_str(text).unwrap_or_else(|_| JobFailure::fatal(text))
}

#[async_trait]
impl PartialStore for RedisStore {
    async fn epoch(&self, run: &str) -> Result<Option<u64>, BackendError> {
        let key = self.key(run, "epoch");
        self.retry("read the run's epoch", |mut c| {
            let k = key.clone();
            async move { c.get(k).await }
        })
        .await
    }

    async fn new_epoch(&self, run: &str) -> Result<u64, BackendError> {
        let epoch = fresh_epoch();
        let (key, keys_key) = (self.key(run, "epoch"), self.key(run, "keys"));
        let ttl = RUN_KEY_TTL.to_string();
        self.write(
            "start the run's epoch",
            vec![
                command(&["SET", &key, &epoch.to_string(), "EX", &ttl]),
                command(&["SADD", &keys_key, &key]),
                command(&["EXPIRE", &keys_key, &ttl]),
            ],
        )
        .await?;
        Ok(epoch)
    }

    async fn complete_job(
        &self,
        run: &str,
        epoch: u64,
        job: Job,
        writes: Vec<SlotWrite>,
    ) -> Result<Stored, BackendError> {
        let script = redis::Script::new(COMPLETE_JOB);
        let keys: Vec<String> = [
            self.key(run, "epoch"),
            self.key(run, "keys"),
            self.key(run, &format!("done:{}", job.phase.name())),
        ]
        .into_iter()
        .chain(
            writes
                .iter()
                .map(|w| self.key(run, &format!("slot:{}", w.slot))),
        )
        .collect();
        let id = job.id();
        let applied: i64 = self
            .retry("store job effects", |mut c| {
                let mut call = script.prepare_invoke();
                call.key(&keys).arg(epoch).arg(&id).arg(RUN_KEY_TTL);
                for w in &writes {
                    call.arg(&w.blob);
                }
                async move { call.invoke_async(&mut c).await }
            })
            .await?;
        Ok(stored(applied))
    }

    async fn fail_job(
        &self,
        run: &str,
        epoch: u64,
        job: Job,
        failure: &JobFailure,
    ) -> Result<Stored, BackendError> {
        let script = redis::Script::new(FAIL_JOB);
        let keys = [
            self.key(run, "epoch"),
            self.key(run, "keys"),
            self.key(run, &format!("failed:{}", job.phase.name())),
            self.key(run, &format!("done:{}", job.phase.name())),
        ];
        let (id, text) = (
            job.id(),
            serde_json::to_string(failure).expect("a failure always serialises"),
        );
        let applied: i64 = self
            .retry("record job failure", |mut c| {
                let mut call = script.prepare_invoke();
                call.key(&keys[..])
                    .arg(epoch)
                    .arg(&id)
                    .arg(&text)
                    .arg(RUN_KEY_TTL);
                async move { call.invoke_async(&mut c).await }
            })
            .await?;
        Ok(stored(applied))
    }

    async fn undo_job(&self, run: &str, job: Job) -> Result<(), BackendError> {
        let id = job.id();
        let phase = job.phase.name();
        self.write(
            "undo a job",
            vec![
                command(&["SREM", &self.key(run, &format!("done:{phase}")), &id]),
                command(&["HDEL", &self.key(run, &format!("failed:{phase}")), &id]),
                command(&["HDEL", &self.key(run, "attempts"), &id]),
            ],
        )
        .await
    }

    async fn count_attempt(&self, run: &str, what: &str) -> Result<u32, BackendError> {
        let (key, keys_key) = (self.key(run, "attempts"), self.key(run, "keys"));
        let mut pipe = redis::pipe();
        pipe.atomic()
            .hincr(&key, what, 1)
            .sadd(&keys_key, &key)
            .ignore()
            .expire(&key, RUN_KEY_TTL)
            .ignore();
        let (n,): (u32,) = self
            .retry("count an attempt", |mut c| {
                let pipe = pipe.clone();
                async move { pipe.query_async(&mut c).await }
            })
            .await?;
        Ok(n)
    }

    async fn attempts(&self, run: &str, what: &str) -> Result<u32, BackendError> {
        let key = self.key(run, "attempts");
        let n: Option<u32> = self
            .retry("HGET attempts", |mut c| {
                let key = key.clone();
                async move { c.hget(key, what).await }
            })
            .await?;
        Ok(n.unwrap_or(0))
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
        Ok(PhaseProgress {
            done,
            failed: failed
                .into_iter()
                .map(|(job, text)| (job, read_failure(&text)))
                .collect(),
        })
    }

    async fn is_done(&self, run: &str, job: Job) -> Result<bool, BackendError> {
        let key = self.key(run, &format!("done:{}", job.phase.name()));
        let id = job.id();
        self.retry("SISMEMBER", |mut c| {
            let (k, id) = (key.clone(), id.clone());
            async move { c.sismember(k, id).await }
        })
        .await
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
        // The epoch goes first: jobs still in flight then store nothing.
        let epoch_key = self.key(run, "epoch");
        self.write(
            "delete the run's epoch",
            vec![command(&["DEL", &epoch_key])],
        )
        .await?;
        let keys_key = self.key(run, "keys");
        let mut keys: Vec<String> = self
            .retry("SMEMBERS", |mut c| {
                let k = keys_key.clone();
                async move { c.smembers(k).await }
            })
            .await?;
        keys.push(keys_key);
        let mut del = vec!["DEL".to_owned()];
        del.extend(keys);
        self.write("delete the run's keys", vec![del]).await
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
        let (runs, order) = (self.runs_key(), self.order_key());
        self.write(
            "store run record",
            vec![
                command(&["HSET", &runs, run, &record]),
                command(&["ZADD", &order, &created_ms.to_string(), run]),
            ],
        )
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
                let last = isize::try_from(limit).map_or(-1, |l| l - 1);
                async move { c.zrevrange(k, 0, last).await }
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

    async fn delete_runs(&self, ids: &[String]) -> Result<(), BackendError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut hdel = command(&["HDEL", &self.runs_key()]);
        hdel.extend(ids.iter().cloned());
        let mut zrem = command(&["ZREM", &self.order_key()]);
        zrem.extend(ids.iter().cloned());
        self.write("remove run records", vec![hdel, zrem]).await
    }

    async fn put_schedule(&self, id: &str, record: String) -> Result<(), BackendError> {
        let key = self.schedules_key();
        self.retry("store schedule", |mut c| {
            let (k, id, r) = (key.clone(), id.to_owned(), record.clone());
            async move { c.hset(k, id, r).await }
        })
        .await
    }

    async fn list_schedules(&self) -> Result<Vec<String>, BackendError> {
        let key = self.schedules_key();
        self.retry("list schedules", |mut c| {
            let k = key.clone();
            async move { c.hvals(k).await }
        })
        .await
    }

    async fn delete_schedule(&self, id: &str) -> Result<bool, BackendError> {
        let key = self.schedules_key();
        let removed: u32 = self
            .retry("remove schedule", |mut c| {
                let (k, id) = (key.clone(), id.to_owned());
                async move { c.hdel(k, id).await }
            })
            .await?;
        Ok(removed > 0)
    }

    async fn claim_firing(&self, id: &str, due_ms: i64) -> Result<bool, BackendError> {
        let key = format!("{}:schedule:{id}:fired:{due_ms}", self.namespace);
        let set: Option<String> = self
            .retry("claim a schedule's firing", |mut c| {
                let k = key.clone();
                async move {
                    redis::cmd("SET")
                        .arg(k)
                        .arg(1)
                        .arg("NX")
                        .arg("EX")
                        .arg(7 * 24 * 3600)
                        .query_async(&mut c)
                        .await
                }
            })
            .await?;
        Ok(set.is_some())
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
