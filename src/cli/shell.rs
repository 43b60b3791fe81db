//! `purr completions <shell>` and `purr man`: shell completions and the
//! man page, generated from the command-line definition and printed to
//! stdout; nothing is written into the system.

use std::io::Write as _;

use clap::CommandFactory as _;

use super::Cli;

/// `purr completions <shell>`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    shell: clap_complete::Shell,
}

/// Prints the completion script for `args.shell`, e.g.
/// `purr completions bash > ~/.local/share/bash-completion/completions/purr`.
pub fn completions(args: CompletionsArgs) {
    clap_complete::generate(args.shell, &mut Cli::command(), "purr", &mut std::io::stdout());
}

/// Prints the man page (roff), e.g. `purr man | man -l -`.
pub fn man() -> anyhow::Result<()> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut page)?;
    std::io::stdout().write_all(&page)?;
    Ok(())
}
