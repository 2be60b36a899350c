//! The one place errors become exit statuses (CLI.md): 2 for bad usage,
//! configuration or input, 1 for a run that failed or a service that could
//! not be reached.

use std::fmt;

/// An error on its way to `main`.
#[derive(Debug)]
pub enum CliError {
    /// Bad usage, invalid configuration or unreadable input: exit 2.
    Usage(String),
    /// A run failed or a service could not be reached: exit 1.
    Failed(anyhow::Error),
}

impl CliError {
    /// The process exit status.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Failed(_) => 1,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m) => f.write_str(m),
            CliError::Failed(e) => write!(f, "{e:#}"),
        }
    }
}

impl From<anyhow::Error> for CliError {
    fn from(e: anyhow::Error) -> CliError {
        CliError::Failed(e)
    }
}

impl From<rapport_coordinator::LoadError> for CliError {
    fn from(e: rapport_coordinator::LoadError) -> CliError {
        CliError::Usage(e.to_string())
    }
}
