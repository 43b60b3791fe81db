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
