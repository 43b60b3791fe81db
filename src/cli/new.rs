//! `purr new`: creates a plugin project from the templates embedded in the
//! binary (`templates/<lang>/`, plus the WIT: `wit/purr.wit` and
//! `wit/deps/`), with a `build.sh` that makes `<name>.wasm` and a
//! `purr.toml` whose session `dev` runs it; prints the commands to build it
//! and to talk to it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;

/// The languages `purr new` has a template for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    Rust,
    Js,
    Python,
    C,
}

/// Arguments of `purr new`.
#[derive(Debug, clap::Args)]
pub struct NewArgs {
    /// The plugin's name: lowercase letters, digits and `-`, starting with a letter.
    name: String,
    /// The language of the plugin.
    #[arg(long, value_enum)]
    lang: Lang,
    /// Where to create the project (default: `./<name>`); must not exist or be empty.
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// (path in the project, contents) of a file of this repository's `wit/`.
macro_rules! wit_file {
    ($path:literal) => {
        (concat!("wit/", $path), include_str!(concat!("../../wit/", $path)))
    };
}

/// The WIT every project builds against: purr's world and the WASI packages
/// it uses (`wit/deps/`).
const WIT: [(&str, &str); 8] = [
    wit_file!("purr.wit"),
    wit_file!("deps/cli/cli.wit"),
    wit_file!("deps/clocks/clocks.wit"),
    wit_file!("deps/filesystem/filesystem.wit"),
    wit_file!("deps/http/http.wit"),
    wit_file!("deps/io/io.wit"),
    wit_file!("deps/random/random.wit"),
    wit_file!("deps/sockets/sockets.wit"),
];

/// (path in the project, contents, executable) of a file of the Python SDK
/// (`sdk/python/`), written to `purr-sdk/` in a Python project.
macro_rules! py_sdk_file {
    ($path:literal) => {
        (
            concat!("purr-sdk/", $path),
            include_str!(concat!("../../sdk/python/", $path)),
            false,
        )
    };
}

/// (path in the project, contents, executable) of a file of the JS SDK
/// (`sdk/js/`), written to `purr-sdk/` in a JS project.
macro_rules! js_sdk_file {
    ($path:literal) => {
        (
            concat!("purr-sdk/", $path),
            include_str!(concat!("../../sdk/js/", $path)),
            false,
        )
    };
}

/// (path in the project, contents, executable) of a file of the Rust SDK
/// (`sdk/rust/`), written to the same place in a Rust project: its
/// `generate!` reads the WIT at `../../wit`, the project's `wit/` there as
/// here.
macro_rules! rust_sdk_file {
    ($path:literal) => {
        (
            concat!("sdk/rust/", $path),
            include_str!(concat!("../../sdk/rust/", $path)),
            false,
        )
    };
}

/// (path in the project, contents, executable) of a language's template.
fn template(lang: Lang) -> Vec<(&'static str, &'static str, bool)> {
    match lang {
        Lang::Rust => vec![
            ("Cargo.toml", include_str!("../../templates/rust/Cargo.toml"), false),
            ("src/lib.rs", include_str!("../../templates/rust/src/lib.rs"), false),
            ("build.sh", include_str!("../../templates/rust/build.sh"), true),
            (".gitignore", include_str!("../../templates/rust/gitignore"), false),
            // purr-sdk is not on crates.io: the project gets its sources
            // (the template's Cargo.toml depends on them by path).
            rust_sdk_file!("Cargo.toml"),
            rust_sdk_file!("README.md"),
            rust_sdk_file!("src/lib.rs"),
            rust_sdk_file!("src/actions.rs"),
            rust_sdk_file!("src/command.rs"),
            rust_sdk_file!("src/config.rs"),
            rust_sdk_file!("src/ctx.rs"),
            rust_sdk_file!("src/error.rs"),
            rust_sdk_file!("src/filter.rs"),
            rust_sdk_file!("src/hears.rs"),
            rust_sdk_file!("src/http/mod.rs"),
            rust_sdk_file!("src/http/error.rs"),
            rust_sdk_file!("src/http/url.rs"),
            rust_sdk_file!("src/kv.rs"),
            rust_sdk_file!("src/log.rs"),
            rust_sdk_file!("src/router.rs"),
            rust_sdk_file!("src/runtime.rs"),
            rust_sdk_file!("src/timers.rs"),
            rust_sdk_file!("src/tests/mod.rs"),
            rust_sdk_file!("src/tests/context.rs"),
            rust_sdk_file!("src/tests/parsing.rs"),
            rust_sdk_file!("src/tests/routing.rs"),
        ],
        Lang::Js => vec![
            ("package.json", include_str!("../../templates/js/package.json"), false),
            // The exact versions purr's own JS plugins are built and tested with.
            (
                "package-lock.json",
                include_str!("../../plugins/echo-js/package-lock.json"),
                false,
            ),
            ("plugin.js", include_str!("../../templates/js/plugin.js"), false),
            ("build.sh", include_str!("../../templates/js/build.sh"), true),
            ("jsconfig.json", include_str!("../../templates/js/jsconfig.json"), false),
            (".gitignore", include_str!("../../templates/js/gitignore"), false),
            // purr-sdk is not on npm: the project gets its sources (build.sh
            // bundles them in as `purr-sdk`).
            js_sdk_file!("README.md"),
            js_sdk_file!("package.json"),
            js_sdk_file!("index.d.ts"),
            js_sdk_file!("index.js"),
            js_sdk_file!("bot.js"),
            js_sdk_file!("context.js"),
            js_sdk_file!("engine.js"),
            js_sdk_file!("host.js"),
            js_sdk_file!("http.d.ts"),
            js_sdk_file!("http.js"),
            js_sdk_file!("log.js"),
            js_sdk_file!("state.js"),
            js_sdk_file!("text.js"),
            js_sdk_file!("build/componentize.mjs"),
        ],
        Lang::Python => vec![
            (
                "requirements.txt",
                include_str!("../../templates/python/requirements.txt"),
                false,
            ),
            ("src/app.py", include_str!("../../templates/python/src/app.py"), false),
            ("build.sh", include_str!("../../templates/python/build.sh"), true),
            (".gitignore", include_str!("../../templates/python/gitignore"), false),
            // purr_sdk is not on PyPI: the project gets its sources (build.sh
            // puts purr-sdk/ on componentize-py's path).
            py_sdk_file!("README.md"),
            py_sdk_file!("purr_sdk/__init__.py"),
            py_sdk_file!("purr_sdk/bot.py"),
            py_sdk_file!("purr_sdk/context.py"),
            py_sdk_file!("purr_sdk/host.py"),
            py_sdk_file!("purr_sdk/http.py"),
            py_sdk_file!("purr_sdk/log.py"),
            py_sdk_file!("purr_sdk/state.py"),
            py_sdk_file!("purr_sdk/text.py"),
        ],
        Lang::C => vec![
            ("plugin.c", include_str!("../../templates/c/plugin.c"), false),
            ("build.sh", include_str!("../../templates/c/build.sh"), true),
            (".gitignore", include_str!("../../templates/c/gitignore"), false),
        ],
    }
}

/// A config that runs the plugin alone in session `dev` on the sim network.
fn config(name: &str) -> String {
    format!(
        "# `purr chat dev -c purr.toml` talks to the plugin (type !ping).\n\
         [plugins.{name}]\n\
         path = \"{name}.wasm\"\n\
         config = {{ greeting = \"hello from {name}\" }}\n\n\
         [sessions.dev]\n\
         channel = \"sim\"\n\
         plugins = [\"{name}\"]\n"
    )
}

fn valid_name(name: &str) -> bool {
    name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
}

/// Fills the placeholders of a template file.
fn render(text: &str, name: &str, lang: Lang, path: &str) -> String {
    let text = text
        .replace("{{name}}", name)
        .replace("{{crate}}", &name.replace('-', "_"));
    if lang == Lang::Js && path == "package-lock.json" {
        // The lock file names its root package twice, before any dependency.
        return text.replacen("\"name\": \"echo-js\"", &format!("\"name\": \"{name}\""), 2);
    }
    text
}

fn write(dir: &Path, path: &str, contents: &str, executable: bool) -> anyhow::Result<()> {
    let path = dir.join(path);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))?;
    if executable {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("making {} executable", path.display()))?;
    }
    Ok(())
}

/// Quotes `text` for a POSIX shell if it needs it.
fn shell_quote(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:,@".contains(c))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

pub fn new(args: NewArgs) -> anyhow::Result<ExitCode> {
    if !valid_name(&args.name) {
        eprintln!(
            "purr new: invalid name {:?}: use lowercase letters, digits and '-', starting with a letter",
            args.name
        );
        return Ok(ExitCode::from(2));
    }
    let dir = args.dir.unwrap_or_else(|| PathBuf::from(&args.name));
    if dir.exists() && std::fs::read_dir(&dir).map(|mut d| d.next().is_some()).unwrap_or(true) {
        eprintln!("purr new: {} already exists and is not empty", dir.display());
        return Ok(ExitCode::from(2));
    }
    for (path, text, executable) in template(args.lang) {
        write(&dir, path, &render(text, &args.name, args.lang, path), executable)?;
    }
    for (path, text) in WIT {
        write(&dir, path, text, false)?;
    }
    write(&dir, "purr.toml", &config(&args.name), false)?;

    let shown = shell_quote(&dir.display().to_string());
    println!("created {} ({:?} plugin {})", dir.display(), args.lang, args.name);
    println!("build: cd {shown} && ./build.sh");
    println!("chat:  purr chat dev -c {shown}/purr.toml");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for good in ["a", "echo", "my-bot2"] {
            assert!(valid_name(good), "{good}");
        }
        for bad in ["", "2bot", "Bot", "my_bot", "bot-", "a b", "../x"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn every_template_is_filled_in() {
        for lang in [Lang::Rust, Lang::Js, Lang::Python, Lang::C] {
            for (path, text, _) in template(lang) {
                let rendered = render(text, "my-bot", lang, path);
                assert!(!rendered.contains("{{"), "{lang:?} {path}");
                if path == "package-lock.json" {
                    assert!(!rendered[..300].contains("echo-js"), "lock root renamed");
                }
            }
        }
    }

    #[test]
    fn a_rust_project_gets_every_file_of_the_rust_sdk() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = vec!["sdk/rust/Cargo.toml".to_string(), "sdk/rust/README.md".to_string()];
        let mut dirs = vec![root.join("sdk/rust/src")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    files.push(path.strip_prefix(root).unwrap().display().to_string());
                }
            }
        }
        let mut written: Vec<String> = template(Lang::Rust)
            .into_iter()
            .filter(|(path, _, _)| path.starts_with("sdk/rust/"))
            .map(|(path, _, _)| path.to_string())
            .collect();
        files.sort();
        written.sort();
        assert_eq!(written, files);
    }
}
