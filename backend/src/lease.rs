//! One coordinator leads a namespace: it holds a lease in Redis (set if
//! absent, with an expiry, renewed while it lives). Every other coordinator
//! is a standby that serves the API and takes the lease within a lease
//! period of the leader dying. Each taking of the lease gets a new fencing
//! token; the leader's state writes (run records, epochs, undone jobs) are
//! made through a [`Fence`] that checks, in the same script as the write,
//! that the lease still holds its token, so a leader that was paused and
//! lost its lease writes nothing.
//!
//! Keys: `{ns}:leader` (`{holder}:{token}`, expiring) and
//! `{ns}:leader:token` (the last token given).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::ConnectionManager;

use crate::BackendError;

/// How long a lease lives without renewal.
pub const LEASE_TTL: Duration = Duration::from_secs(10);

/// Takes the lease if free, renews it if ours; returns its value, or nil.
const HOLD: &str = r"
local v = redis.call('GET', KEYS[1])
if v == false then
  local token = redis.call('INCR', KEYS[2])
  v = ARGV[1] .. ':' .. token
  redis.call('SET', KEYS[1], v, 'PX', ARGV[2])
  return v
end
if string.sub(v, 1, string.len(ARGV[1]) + 1) == ARGV[1] .. ':' then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return v
end
return false
";

/// Gives the lease up if it is ours.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

/// The lease value this process holds, shared with its fenced store.
#[derive(Debug, Clone, Default)]
pub struct Fence {
    held: Arc<Mutex<Option<String>>>,
}

impl Fence {
    /// The lease value while this process leads.
    pub fn value(&self) -> Option<String> {
        self.held.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set(&self, value: Option<String>) {
        *self.held.lock().unwrap_or_else(|p| p.into_inner()) = value;
    }
}

/// The lease of one namespace, as one coordinator sees it.
#[derive(Clone)]
pub struct Lease {
    conn: ConnectionManager,
    key: String,
    token_key: String,
    holder: String,
    fence: Fence,
}

impl Lease {
    /// The lease of `namespace` for the coordinator `holder` (unique per process).
    pub fn new(conn: ConnectionManager, namespace: &str, holder: String) -> Lease {
        Lease {
            conn,
            key: format!("{namespace}:leader"),
            token_key: format!("{namespace}:leader:token"),
            holder,
            fence: Fence::default(),
        }
    }

    /// The fence of this process's writes.
    pub fn fence(&self) -> Fence {
        self.fence.clone()
    }

    /// The key a fenced write checks.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Takes or renews the lease; returns the fencing token while this
    /// process leads, `None` while another does. On an error the fence is
    /// dropped: a leader that cannot renew stops writing.
    pub async fn hold(&self) -> Result<Option<u64>, BackendError> {
        let result: Result<Option<String>, _> = redis::Script::new(HOLD)
            .key(&self.key)
            .key(&self.token_key)
            .arg(&self.holder)
            .arg(LEASE_TTL.as_millis() as u64)
            .invoke_async(&mut self.conn.clone())
            .await;
        match result {
            Ok(value) => {
                let token = value
                    .as_deref()
                    .and_then(|v| v.rsplit(':').next())
                    .and_then(|t| t.parse().ok());
                self.fence.set(value);
                Ok(token)
            }
            Err(e) => {
                self.fence.set(None);
                Err(BackendError::Store(format!("lease: {e}")))
            }
        }
    }

    /// Gives the lease up (at shutdown), so a standby takes over at once.
    pub async fn release(&self) {
        if let Some(value) = self.fence.value() {
            let _: Result<i64, _> = redis::Script::new(RELEASE)
                .key(&self.key)
                .arg(value)
                .invoke_async(&mut self.conn.clone())
                .await;
        }
        self.fence.set(None);
    }
}
