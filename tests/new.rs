//! `purr new`: for every language, the real binary creates a project, the
//! build command it prints makes the plugin, and `purr chat` on the
//! project's own config gets answers from it.
//!
//! The builds use the toolchains `scripts/build-plugins` installed in
//! `.toolchains/` when they are there (put on PATH, as a user has them
//! installed); Rust builds share this workspace's target dir.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::run_purr;

fn purr(args: &[&str], cwd: &Path, stdin: &str) -> Output {
    run_purr(args, stdin, |command| {
        command.current_dir(cwd);
    })
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// PATH with the project's installed plugin toolchains first.
fn toolchain_path() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(".toolchains");
    let mut dirs: Vec<PathBuf> = ["cargo/bin", "py/bin", "js/node_modules/.bin"]
        .iter()
        .map(|d| root.join(d))
        .filter(|d| d.is_dir())
        .collect();
    dirs.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
    std::env::join_paths(dirs).unwrap().into_string().unwrap()
}

/// `purr new <name> --lang <lang>`, the printed build, then `purr chat`.
fn create_build_and_chat(lang: &str) {
    let work = tempfile::tempdir().unwrap();
    let name = format!("my-{lang}-bot");
    let output = purr(&["new", &name, "--lang", lang], work.path(), "");
    assert!(output.status.success(), "purr new: {}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let build = stdout
        .lines()
        .find_map(|line| line.strip_prefix("build: "))
        .unwrap_or_else(|| panic!("no build command printed:\n{stdout}"));
    let project = work.path().join(&name);
    assert!(project.join("wit/purr.wit").is_file(), "the WIT comes along");

    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(build)
        .current_dir(work.path())
        .env("PATH", toolchain_path());
    if lang == "rust" && std::env::var_os("CARGO_TARGET_DIR").is_none() {
        command.env("CARGO_TARGET_DIR", Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    }
    let built = command.output().expect("run the build command");
    assert!(
        built.status.success(),
        "{build} failed:\n{}\n{}",
        text(&built.stdout),
        text(&built.stderr)
    );
    assert!(project.join(format!("{name}.wasm")).is_file(), "{name}.wasm built");

    let chat = stdout
        .lines()
        .find_map(|line| line.strip_prefix("chat:  purr "))
        .unwrap_or_else(|| panic!("no chat command printed:\n{stdout}"));
    let args: Vec<&str> = chat.split(' ').collect();
    let output = purr(&args, work.path(), "!ping\nsomething else\n!hello\n");
    assert!(output.status.success(), "purr chat: {}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout).lines().collect::<Vec<_>>(),
        ["pong", &format!("hello from {name}")],
        "stderr: {}",
        text(&output.stderr)
    );
}

#[test]
fn a_new_rust_plugin_builds_and_answers() {
    create_build_and_chat("rust");
}

#[test]
fn a_new_js_plugin_builds_and_answers() {
    create_build_and_chat("js");
}

#[test]
fn a_new_python_plugin_builds_and_answers() {
    create_build_and_chat("python");
}

#[test]
fn a_new_c_plugin_builds_and_answers() {
    create_build_and_chat("c");
}

#[test]
fn new_refuses_a_bad_name_or_a_used_directory() {
    let work = tempfile::tempdir().unwrap();
    let output = purr(&["new", "Bad_Name", "--lang", "rust"], work.path(), "");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("invalid name"),
        "{}",
        text(&output.stderr)
    );

    std::fs::create_dir(work.path().join("taken")).unwrap();
    std::fs::write(work.path().join("taken/keep.txt"), "mine").unwrap();
    let output = purr(&["new", "taken", "--lang", "c"], work.path(), "");
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("not empty"), "{}", text(&output.stderr));
    assert_eq!(
        std::fs::read_to_string(work.path().join("taken/keep.txt")).unwrap(),
        "mine"
    );
    assert_eq!(
        std::fs::read_dir(work.path().join("taken")).unwrap().count(),
        1,
        "nothing written"
    );
}
