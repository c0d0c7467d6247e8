//! `drydock`: the one command-line entry point to all three faces of the
//! toolkit. Each subcommand lives in `cmd/`; this file only parses arguments
//! and maps outcomes to exit codes (0 success, 1 failure, 2 usage error).

mod cmd;
mod config;

use clap::{CommandFactory, Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "drydock", version, about = "Toolkit for the OCI Distribution protocol")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the reference registry.
    Serve(cmd::serve::Args),
    /// Verify a registry against the OCI Distribution Spec.
    Check(Box<cmd::check::Args>),
    /// Run deterministic simulations of registry races.
    Sim(cmd::sim::Args),
    /// Print the digest (or tarsum) of files.
    Digest(cmd::digest::Args),
    /// Inspect and replay undeliverable webhook events.
    Events(cmd::events::Args),
    /// Remove blobs no manifest references (safe while pushes run).
    Gc(cmd::gc::Args),
    /// Run a token service for `auth.token` (keys, tokens, a /token endpoint).
    Token(cmd::token::Args),
    /// Write shell completions or man pages.
    Generate(cmd::generate::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Serve(args) => cmd::serve::run(args),
        Command::Check(args) => cmd::check::run(*args),
        Command::Sim(args) => cmd::sim::run(args),
        Command::Digest(args) => cmd::digest::run(args),
        Command::Events(args) => cmd::events::run(args),
        Command::Gc(args) => cmd::gc::run(args),
        Command::Token(args) => cmd::token::run(args),
        Command::Generate(args) => cmd::generate::run(args, Cli::command()),
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("drydock: {e:#}");
            ExitCode::FAILURE
        }
    }
}
