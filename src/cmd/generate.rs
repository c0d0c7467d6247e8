//! `drydock generate`: shell completions and man pages, made from the CLI
//! definition itself so they cannot drift from it.

use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(clap::Subcommand)]
enum What {
    /// Print the completion script for a shell (e.g. into
    /// /usr/share/bash-completion/completions/drydock).
    Completions { shell: clap_complete::Shell },
    /// Write one man page per command (drydock.1, drydock-serve.1, …) into a
    /// directory (e.g. /usr/local/share/man/man1).
    Man {
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
}

/// Generates for `cli`, the whole `drydock` command.
pub fn run(args: Args, mut cli: clap::Command) -> anyhow::Result<ExitCode> {
    match args.what {
        What::Completions { shell } => {
            clap_complete::generate(shell, &mut cli, "drydock", &mut std::io::stdout());
        }
        What::Man { dir } => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            clap_mangen::generate_to(cli, &dir).with_context(|| format!("writing man pages into {}", dir.display()))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
