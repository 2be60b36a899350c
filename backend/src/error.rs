//! Errors of the I/O edges. All are worth a retry: the job did not complete,
//! and running it again is safe because every effect is idempotent per job.

/// A failure of the queue, the store or the staging area.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// A file or folder operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, with the path.
        context: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The queue refused or lost a message.
    #[error("queue: {0}")]
    Queue(String),
    /// The store refused a command.
    #[error("store: {0}")]
    Store(String),
    /// This coordinator lost its lease: another leads, and this one's state
    /// writes are refused.
    #[error("this coordinator no longer leads the namespace; its write was refused")]
    Fenced,
    /// A blob that should exist does not.
    #[error("missing blob {0}")]
    Missing(String),
}

impl BackendError {
    /// An I/O error with its context.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> BackendError {
        BackendError::Io {
            context: context.into(),
            source,
        }
    }
}
