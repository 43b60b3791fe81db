//! The on-disk cache of compiled plugins.
//!
//! Compiling a component is the slow part of loading a plugin (tens of ms
//! for a Rust plugin, seconds for JS or Python ones); loading its
//! serialized native code takes well under a millisecond. Entries live in
//! `<data_dir>/cache/`, named by the SHA-256 of the wasm file plus a hash
//! of the engine's compatibility settings, so a changed file or a
//! different engine never finds a stale entry.
//!
//! Deserializing native code is `unsafe` in wasmtime: the bytes are
//! trusted to be what wasmtime wrote. So every entry ends with the SHA-256
//! of its content, checked before deserializing; an entry that is
//! truncated, corrupt or rejected by wasmtime is deleted and the plugin is
//! compiled afresh. Entries are written to a temporary file and renamed,
//! so a crash never leaves half an entry under a real name.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

const DIGEST_LEN: usize = 32;

/// Where a loaded component came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// Loaded from a cache entry: no compilation.
    Cache,
    /// Compiled now (and stored for next time).
    Compiled,
    /// A native handler: Rust code compiled into the host (no file).
    Native,
}

/// A directory of compiled components for one engine configuration.
#[derive(Debug, Clone)]
pub struct CompileCache {
    dir: PathBuf,
    engine_key: String,
}

impl CompileCache {
    /// A cache in `dir` for components compiled by `engine`.
    pub fn new(dir: PathBuf, engine: &Engine) -> Self {
        let mut hasher = std::hash::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        CompileCache {
            dir,
            engine_key: format!("{:016x}", hasher.finish()),
        }
    }

    /// The component of `wasm` (whose SHA-256 is `digest`), from the cache when possible.
    pub fn load(&self, engine: &Engine, wasm: &[u8], digest: &[u8; 32]) -> anyhow::Result<(Component, Source)> {
        let entry = self.entry_path(digest);
        if let Some(component) = self.read(engine, &entry) {
            return Ok((component, Source::Cache));
        }
        let component = Component::new(engine, wasm)?;
        if let Err(error) = self.write(&component, &entry) {
            tracing::warn!(entry = %entry.display(), error = %format!("{error:#}"), "could not store a compiled plugin");
        }
        Ok((component, Source::Compiled))
    }

    fn entry_path(&self, digest: &[u8; 32]) -> PathBuf {
        self.dir.join(format!("{}-{}.cwasm", hex(digest), self.engine_key))
    }

    /// The cached component at `entry`, or `None` (deleting a bad entry).
    fn read(&self, engine: &Engine, entry: &Path) -> Option<Component> {
        let bytes = std::fs::read(entry).ok()?;
        let verified = bytes.len() > DIGEST_LEN && {
            let (code, digest) = bytes.split_at(bytes.len() - DIGEST_LEN);
            Sha256::digest(code)[..] == *digest
        };
        let component = if verified {
            let code = &bytes[..bytes.len() - DIGEST_LEN];
            // SAFETY: `code` is exactly what `Component::serialize` produced
            // in `write` (its SHA-256 matches), for this engine's settings
            // (the file name carries their hash; wasmtime checks them again).
            unsafe { Component::deserialize(engine, code) }.map_err(|e| e.to_string())
        } else {
            Err("checksum mismatch".to_string())
        };
        match component {
            Ok(component) => Some(component),
            Err(reason) => {
                tracing::warn!(entry = %entry.display(), %reason, "discarding a bad compile-cache entry");
                let _ = std::fs::remove_file(entry);
                None
            }
        }
    }

    fn write(&self, component: &Component, entry: &Path) -> anyhow::Result<()> {
        let mut bytes = component.serialize()?;
        let digest = Sha256::digest(&bytes);
        bytes.extend_from_slice(&digest);
        std::fs::create_dir_all(&self.dir).with_context(|| format!("creating {}", self.dir.display()))?;
        let temp = entry.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&temp, &bytes).with_context(|| format!("writing {}", temp.display()))?;
        std::fs::rename(&temp, entry).with_context(|| format!("renaming to {}", entry.display()))?;
        Ok(())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest valid component.
    const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\0\x01\0";

    /// Loads [`EMPTY_COMPONENT`] through `cache`; says where it came from.
    fn load_empty(cache: &CompileCache, engine: &Engine) -> Source {
        let digest = Sha256::digest(EMPTY_COMPONENT).into();
        cache.load(engine, EMPTY_COMPONENT, &digest).unwrap().1
    }

    fn cache() -> (CompileCache, Engine, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::default();
        (CompileCache::new(dir.path().join("cache"), &engine), engine, dir)
    }

    fn only_entry(cache: &CompileCache) -> PathBuf {
        let mut entries: Vec<_> = std::fs::read_dir(&cache.dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(entries.len(), 1, "{entries:?}");
        entries.remove(0)
    }

    #[test]
    fn the_second_load_comes_from_the_cache() {
        let (cache, engine, _dir) = cache();
        assert_eq!(load_empty(&cache, &engine), Source::Compiled);
        assert_eq!(load_empty(&cache, &engine), Source::Cache);
    }

    #[test]
    fn a_corrupt_or_truncated_entry_is_rebuilt() {
        let (cache, engine, _dir) = cache();
        load_empty(&cache, &engine);
        let entry = only_entry(&cache);
        let mut bytes = std::fs::read(&entry).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        std::fs::write(&entry, &bytes).unwrap();
        assert_eq!(load_empty(&cache, &engine), Source::Compiled);
        assert_eq!(load_empty(&cache, &engine), Source::Cache);

        std::fs::write(&entry, &bytes[..10]).unwrap();
        assert_eq!(load_empty(&cache, &engine), Source::Compiled);
    }

    #[test]
    fn an_entry_for_other_engine_settings_is_not_used() {
        let (cache, engine, dir) = cache();
        load_empty(&cache, &engine);
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        let other = Engine::new(&config).unwrap();
        let other_cache = CompileCache::new(dir.path().join("cache"), &other);
        assert_eq!(load_empty(&other_cache, &other), Source::Compiled);
    }
}
