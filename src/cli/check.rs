//! `purr check`: validates the config and every plugin without starting anything.
//!
//! Prints every config problem (file:line:col, key, message), then compiles
//! and links each plugin against the `purr:bot/plugin` world. Exits 0 when
//! all is well, 2 on config errors, 1 when a plugin does not load.

use std::process::ExitCode;

use super::ConfigArg;
use crate::plugin::{EngineSettings, PluginHost};

pub async fn check(args: ConfigArg) -> anyhow::Result<ExitCode> {
    let config = match args.load() {
        Ok(config) => config,
        Err(code) => return Ok(code),
    };
    // No compile cache: `check` writes nothing into the data dir.
    let host = PluginHost::new(EngineSettings::for_config(&config, false))?;
    let mut failed = 0;
    for (name, plugin) in &config.plugins {
        match host.load_async(name, plugin).await {
            Ok(_) => println!("plugin {name}: ok ({})", plugin.path.display()),
            Err(error) => {
                failed += 1;
                eprintln!("{error:#}");
            }
        }
    }
    if failed > 0 {
        eprintln!("{failed} plugin(s) failed to load");
        return Ok(ExitCode::FAILURE);
    }
    println!(
        "{}: ok ({} plugin(s), {} session(s))",
        config.source.display(),
        config.plugins.len(),
        config.sessions.len()
    );
    Ok(ExitCode::SUCCESS)
}
