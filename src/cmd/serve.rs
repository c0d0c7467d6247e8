//! `drydock serve`: not built yet (issue: reference registry).

#[derive(clap::Args)]
pub struct Args {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    _rest: Vec<String>,
}

pub fn run(_args: Args) -> anyhow::Result<std::process::ExitCode> {
    Ok(super::not_yet("serve"))
}
