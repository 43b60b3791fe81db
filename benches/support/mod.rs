//! Small helpers every benchmark uses (each bench target includes this
//! module with `#[path]`, and uses its own part of it).

#![allow(dead_code)]

/// The median of `samples` (durations, rates, ...).
pub fn median<T: PartialOrd>(mut samples: Vec<T>) -> T {
    samples.sort_by(|a, b| a.partial_cmp(b).expect("samples are comparable"));
    let middle = samples.len() / 2;
    samples.swap_remove(middle)
}

/// `wasm` with a custom section appended: same code, new file hash (a
/// compile-cache miss).
pub fn variant(wasm: &[u8], n: u32) -> Vec<u8> {
    let name = format!("v{n:08}");
    let mut bytes = wasm.to_vec();
    bytes.extend_from_slice(&[0, name.len() as u8 + 1, name.len() as u8]);
    bytes.extend_from_slice(name.as_bytes());
    bytes
}

/// A value of `/proc/self/status` (`VmRSS:`, `VmHWM:`), in bytes.
pub fn proc_status(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(key)).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// Bytes as MiB, one decimal.
pub fn mib(bytes: f64) -> String {
    format!("{:.1} MiB", bytes / (1024.0 * 1024.0))
}

/// Runs this bench binary again as a child (`--child <args>`), so each
/// figure comes from a fresh process; the child's output line.
pub fn run_child(args: &[String]) -> String {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .arg("--child")
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "child {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}
