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
//! trusted to be what wasmtime wrote, and loading them runs them as the
//! host's code. So every entry ends with an HMAC-SHA256, under a secret key
//! of the data dir (`<data_dir>/cache-key`, 32 random bytes, mode 0600,
//! made on first use), of the entry's file name and content. It is checked
//! before deserializing: an entry that is truncated, corrupt, rejected by
//! wasmtime, planted by someone who cannot read the key, or renamed from
//! another plugin's entry is deleted and the plugin is compiled afresh. A
//! key that group or others may read is replaced (its entries are then
//! compiled again). Entries are written (mode 0600) to a temporary file and
//! renamed, so a crash never leaves half an entry under a real name.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use wasmtime::Engine;
use wasmtime::component::Component;

/// The length of an entry's HMAC-SHA256 tag.
const TAG_LEN: usize = 32;

/// The cache key's file name in the data dir (beside `cache/`).
pub const KEY_FILE: &str = "cache-key";

type HmacSha256 = Hmac<Sha256>;

/// The secret that authenticates entries (never printed).
#[derive(Clone)]
struct Key([u8; 32]);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

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
    key: Key,
}

impl CompileCache {
    /// A cache in `dir` (`<data_dir>/cache`) for components compiled by
    /// `engine`, with the key of its parent directory (the data dir, which
    /// must not be writable by group or others), made if there is none.
    pub fn open(dir: PathBuf, engine: &Engine) -> anyhow::Result<Self> {
        let data_dir = match dir.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        crate::store::private::private_dir(&data_dir, "data dir")?;
        let key = load_or_create_key(&data_dir.join(KEY_FILE))?;
        let mut hasher = std::hash::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(CompileCache {
            dir,
            engine_key: format!("{:016x}", hasher.finish()),
            key,
        })
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

    /// The tag of `code` stored under `entry`: HMAC-SHA256 of the file
    /// name (so an entry renamed to another plugin's name fails) and `code`.
    fn tag(&self, entry: &Path, code: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key.0).expect("HMAC takes any key length");
        let name = entry.file_name().unwrap_or_default().as_encoded_bytes();
        mac.update(&(name.len() as u64).to_le_bytes());
        mac.update(name);
        mac.update(code);
        mac
    }

    /// The cached component at `entry`, or `None` (deleting a bad entry).
    fn read(&self, engine: &Engine, entry: &Path) -> Option<Component> {
        let bytes = std::fs::read(entry).ok()?;
        let code = (bytes.len() > TAG_LEN)
            .then(|| bytes.split_at(bytes.len() - TAG_LEN))
            .filter(|(code, tag)| self.tag(entry, code).verify_slice(tag).is_ok())
            .map(|(code, _)| code);
        let component = match code {
            // SAFETY: `code` is exactly what `Component::serialize` produced
            // in `write` of a host holding this data dir's key (the HMAC
            // over its name and content matches; nobody without the key can
            // make one), for this engine's settings (the file name carries
            // their hash; wasmtime checks them again).
            Some(code) => unsafe { Component::deserialize(engine, code) }.map_err(|e| e.to_string()),
            None => Err("not authenticated by this data dir's cache key (corrupt, truncated or planted)".to_string()),
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
        use std::os::unix::fs::DirBuilderExt;
        let mut bytes = component.serialize()?;
        let tag = self.tag(entry, &bytes).finalize().into_bytes();
        bytes.extend_from_slice(&tag);
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let temp = entry.with_extension(format!("tmp{}", std::process::id()));
        let _ = std::fs::remove_file(&temp);
        write_new_private(&temp, &bytes).with_context(|| format!("writing {}", temp.display()))?;
        std::fs::rename(&temp, entry).with_context(|| format!("renaming to {}", entry.display()))?;
        Ok(())
    }
}

/// Writes `bytes` to a new file `path` (never through an existing file or
/// symlink), mode 0600.
fn write_new_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// The key in `path`, made (32 random bytes, mode 0600) if there is none.
/// A key that group or others may read, or that is not 32 bytes, is
/// replaced: entries made with it are compiled again.
fn load_or_create_key(path: &Path) -> anyhow::Result<Key> {
    use std::os::unix::fs::PermissionsExt;
    // Two rounds: a replaced key, or another host creating one at the same time.
    for _ in 0..3 {
        match std::fs::metadata(path) {
            Ok(metadata) => {
                let mode = metadata.permissions().mode() & 0o7777;
                let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
                match <[u8; 32]>::try_from(bytes.as_slice()) {
                    Ok(key) if mode & 0o077 == 0 => return Ok(Key(key)),
                    Ok(_) => tracing::warn!(
                        path = %path.display(),
                        mode = %format!("{mode:04o}"),
                        "the compile-cache key is accessible to group or others: replacing it (cached plugins are compiled again)"
                    ),
                    Err(_) => tracing::warn!(path = %path.display(), "the compile-cache key is damaged: replacing it"),
                }
                std::fs::remove_file(path).with_context(|| format!("removing {}", path.display()))?;
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(error).with_context(|| format!("reading {}", path.display())),
        }
        let key: [u8; 32] = rand::random();
        let temporary = path.with_file_name(format!(".{KEY_FILE}.{:016x}", rand::random::<u64>()));
        let linked = write_new_private(&temporary, &key).and_then(|()| std::fs::hard_link(&temporary, path));
        let _ = std::fs::remove_file(&temporary);
        match linked {
            Ok(()) => {
                tracing::info!(path = %path.display(), "compile-cache key created");
                return Ok(Key(key));
            }
            // Another process made one first: use that.
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(error) => return Err(error).with_context(|| format!("creating {}", path.display())),
        }
    }
    anyhow::bail!("{}: the compile-cache key keeps changing", path.display())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use sha2::Digest as _;

    use super::*;

    /// The smallest valid component.
    const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\0\x01\0";

    /// Loads [`EMPTY_COMPONENT`] through `cache`; says where it came from.
    fn load_empty(cache: &CompileCache, engine: &Engine) -> Source {
        let digest = sha2::Sha256::digest(EMPTY_COMPONENT).into();
        cache.load(engine, EMPTY_COMPONENT, &digest).unwrap().1
    }

    fn cache() -> (CompileCache, Engine, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::default();
        let cache = CompileCache::open(dir.path().join("cache"), &engine).unwrap();
        (cache, engine, dir)
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
        let other_cache = CompileCache::open(dir.path().join("cache"), &other).unwrap();
        assert_eq!(load_empty(&other_cache, &other), Source::Compiled);
    }

    #[test]
    fn the_key_is_private_and_kept() {
        let (cache, _engine, dir) = cache();
        let path = dir.path().join(KEY_FILE);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read(&path).unwrap(), cache.key.0);
        let again = CompileCache::open(dir.path().join("cache"), &Engine::default()).unwrap();
        assert_eq!(again.key.0, cache.key.0);
        assert_eq!(
            format!("{cache:?}").matches("Key(..)").count(),
            1,
            "the key is not printed"
        );
    }

    /// A valid serialized component whose tag was made with another key
    /// (someone who can write the cache but not read the key), or with
    /// the old plain SHA-256 checksum, is not loaded.
    #[test]
    fn an_entry_made_with_another_key_or_a_plain_checksum_is_rebuilt() {
        let (cache, engine, dir) = cache();
        load_empty(&cache, &engine);
        let entry = only_entry(&cache);
        let bytes = std::fs::read(&entry).unwrap();
        let code = &bytes[..bytes.len() - TAG_LEN];

        let other_key = CompileCache {
            key: Key([7; 32]),
            ..cache.clone()
        };
        let mut planted = code.to_vec();
        planted.extend_from_slice(&other_key.tag(&entry, code).finalize().into_bytes());
        std::fs::write(&entry, &planted).unwrap();
        assert_eq!(load_empty(&cache, &engine), Source::Compiled);
        assert_eq!(load_empty(&cache, &engine), Source::Cache);

        let mut planted = code.to_vec();
        planted.extend_from_slice(&sha2::Sha256::digest(code));
        std::fs::write(&entry, &planted).unwrap();
        assert_eq!(load_empty(&cache, &engine), Source::Compiled);

        // A key others could read is replaced; what it signed is rebuilt.
        let key = dir.path().join(KEY_FILE);
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let reopened = CompileCache::open(dir.path().join("cache"), &engine).unwrap();
        assert_ne!(reopened.key.0, cache.key.0);
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(load_empty(&reopened, &engine), Source::Compiled);
    }

    /// A valid entry renamed to another wasm file's name is not loaded as that plugin.
    #[test]
    fn an_entry_under_another_name_is_rebuilt() {
        let (cache, engine, _dir) = cache();
        load_empty(&cache, &engine);
        let entry = only_entry(&cache);
        let digest = [9u8; 32];
        std::fs::copy(&entry, cache.entry_path(&digest)).unwrap();
        let (_, source) = cache.load(&engine, EMPTY_COMPONENT, &digest).unwrap();
        assert_eq!(source, Source::Compiled);
    }
}
