//! `drydock generate`: the bash completion really completes (run in bash),
//! and every command has a man page that groff renders without a warning
//! (`-k`: through preconv, as man does, for the non-ASCII in help texts).

mod common;

use common::*;
use std::process::Command;

fn drydock(args: &[&str]) -> String {
    run(Command::new(env!("CARGO_BIN_EXE_drydock")).args(args))
}

/// The subcommands `drydock --help` lists.
fn commands() -> Vec<String> {
    let help = drydock(&["--help"]);
    let listed = help.split("Commands:").nth(1).unwrap().split("\n\n").next().unwrap();
    let names: Vec<String> = listed
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| *n != "help")
        .map(str::to_owned)
        .collect();
    assert!(names.len() >= 8, "{help}");
    names
}

/// What bash completes for the words so far (the last one being typed).
fn complete(script: &std::path::Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let cword = words.len() - 1;
    let program = format!(
        "source {}; COMP_WORDS=({}); COMP_CWORD={cword}; COMP_LINE='{}'; COMP_POINT=${{#COMP_LINE}}; \
         _drydock drydock '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        quoted.join(" "),
        words.join(" "),
        words[cword],
        words[cword.saturating_sub(1)],
    );
    run(Command::new("bash").args(["--norc", "-c", &program])).lines().map(str::to_owned).collect()
}

#[test]
fn bash_completes_commands_options_and_values() {
    let scratch = Scratch::new("generate-bash");
    let script = scratch.0.join("drydock.bash");
    std::fs::write(&script, drydock(&["generate", "completions", "bash"])).unwrap();
    let all = complete(&script, &["drydock", ""]);
    for command in commands() {
        assert!(all.contains(&command), "{command} not completed: {all:?}");
    }
    assert_eq!(complete(&script, &["drydock", "se"]), ["serve"]);
    assert_eq!(complete(&script, &["drydock", "serve", "--sto"]), ["--storage"]);
    assert_eq!(complete(&script, &["drydock", "serve", "--storage", ""]), ["filesystem", "memory", "s3"]);
    // The other shells' scripts are made from the same definition.
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let text = drydock(&["generate", "completions", shell]);
        assert!(text.contains("serve") && text.contains("storage") && text.contains("filesystem"), "{shell}");
    }
}

#[test]
fn every_command_has_a_man_page_groff_renders_cleanly() {
    if !require(&["groff"]) {
        return;
    }
    let scratch = Scratch::new("generate-man");
    let dir = scratch.0.join("man1");
    drydock(&["generate", "man", "--dir", dir.to_str().unwrap()]);
    let mut pages = vec!["drydock.1".to_owned()];
    pages.extend(commands().iter().map(|c| format!("drydock-{c}.1")));
    pages.push("drydock-token-serve.1".to_owned());
    for page in &pages {
        let path = dir.join(page);
        assert!(path.exists(), "no man page {page}");
        let out = Command::new("groff").args(["-k", "-man", "-ww", "-z"]).arg(&path).output().unwrap();
        let warnings = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && warnings.is_empty(), "{page}: {warnings}");
    }
    let out = Command::new("groff")
        .args(["-k", "-man", "-Tascii", "-P-cbou"])
        .arg(dir.join("drydock-serve.1"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("--config") && text.contains("filesystem"), "{text}");
}
