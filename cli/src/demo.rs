//! `rapport generate` and `rapport demo`.

use crate::args::{DemoArgs, GenerateArgs};
use crate::exit::CliError;

/// Runs `rapport generate`.
pub fn generate_command(args: GenerateArgs) -> Result<(), CliError> {
    let _ = args;
    Err(CliError::Usage("generate: not written yet".to_owned()))
}

/// Runs `rapport demo`.
pub async fn demo_command(args: DemoArgs) -> Result<(), CliError> {
    let _ = args;
    Err(CliError::Usage("demo: not written yet".to_owned()))
}
