pub mod check;
pub mod digest;
pub mod events;
pub mod serve;

use std::process::ExitCode;

/// Arguments of a subcommand that is not built yet: accepts anything so the
/// user sees the "not implemented" message rather than a usage error.
#[derive(clap::Args)]
pub struct NotYet {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    _rest: Vec<String>,
}

/// Exit status for a subcommand that exists in the CLI but not yet in code.
const NOT_IMPLEMENTED: u8 = 2;

pub fn not_yet(name: &str) -> ExitCode {
    eprintln!("drydock {name}: not implemented yet");
    ExitCode::from(NOT_IMPLEMENTED)
}
