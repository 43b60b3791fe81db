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

/// A database of its own on the PostgreSQL server `server` (a URL naming
/// any database of it, e.g. `scripts/pg-test-server`'s), created empty
/// and dropped by [`PgDatabase::drop_database`].
pub struct PgDatabase {
    server: String,
    name: String,
    /// The URL of the new database.
    pub url: String,
}

impl PgDatabase {
    /// Creates `<prefix>_<pid>_<n>`; with `settings` (`("synchronous_commit",
    /// "off")`, ...) as the database's defaults for the connections to it.
    pub async fn create(server: &str, prefix: &str, settings: &[(&str, &str)]) -> PgDatabase {
        use sqlx::Connection as _;
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("{prefix}_{}_{n}", std::process::id());
        let mut admin = sqlx::PgConnection::connect(server).await.expect("PostgreSQL server");
        let mut statements = vec![
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            format!("CREATE DATABASE {name}"),
        ];
        statements.extend(
            settings
                .iter()
                .map(|(key, value)| format!("ALTER DATABASE {name} SET {key} = {value}")),
        );
        for sql in statements {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut admin)
                .await
                .unwrap();
        }
        admin.close().await.unwrap();
        let mut url = url::Url::parse(server).expect("server URL");
        url.set_path(&name);
        PgDatabase {
            server: server.to_string(),
            name,
            url: url.to_string(),
        }
    }

    /// Drops the database (closing what is still connected to it).
    pub async fn drop_database(self) {
        use sqlx::Connection as _;
        let mut admin = sqlx::PgConnection::connect(&self.server)
            .await
            .expect("PostgreSQL server");
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut admin)
            .await
            .unwrap();
        admin.close().await.unwrap();
    }
}

/// The server's durability settings, as a table cell:
/// `fsync=on, synchronous_commit=on, full_page_writes=on, wal_sync_method=fdatasync`.
pub async fn pg_durability(server: &str) -> String {
    use sqlx::Connection as _;
    let mut admin = sqlx::PgConnection::connect(server).await.expect("PostgreSQL server");
    let mut settings = Vec::new();
    for name in ["fsync", "synchronous_commit", "full_page_writes", "wal_sync_method"] {
        let value: String = sqlx::query_scalar("SELECT setting FROM pg_settings WHERE name = $1")
            .bind(name)
            .fetch_one(&mut admin)
            .await
            .unwrap();
        settings.push(format!("{name}={value}"));
    }
    let version: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&mut admin)
        .await
        .unwrap();
    admin.close().await.unwrap();
    format!("PostgreSQL {version}: {}", settings.join(", "))
}

/// CPU time of this process's threads so far (`/proc/self/task/*/schedstat`,
/// nanoseconds; a thread that ended meanwhile takes its time with it).
pub fn cpu_self() -> std::time::Duration {
    let mut nanos = 0;
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        if let Ok(text) = std::fs::read_to_string(task.path().join("schedstat")) {
            nanos += text
                .split_whitespace()
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    std::time::Duration::from_nanos(nanos)
}

/// User + system time of process `pid` (`/proc/<pid>/stat`, 10 ms ticks),
/// with its reaped children's when `children`; its parent's pid.
fn proc_cpu(pid: u32, children: bool) -> Option<(std::time::Duration, u32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command name in parentheses: field 3 (state) first.
    let fields: Vec<&str> = text.rsplit_once(')')?.1.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok());
    let mut ticks = field(14)? + field(15)?;
    if children {
        ticks += field(16)? + field(17)?;
    }
    let ppid = field(4)? as u32;
    Some((std::time::Duration::from_millis(ticks * 10), ppid))
}

/// The PostgreSQL server at `server`, when it runs on this machine: its
/// postmaster's pid, for [`PgServerCpu::now`].
pub struct PgServerCpu(u32);

impl PgServerCpu {
    /// Finds the server's postmaster (the parent of a backend of ours).
    pub async fn find(server: &str) -> Option<PgServerCpu> {
        use sqlx::Connection as _;
        let mut admin = sqlx::PgConnection::connect(server).await.ok()?;
        let backend: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut admin)
            .await
            .ok()?;
        let (_, postmaster) = proc_cpu(backend as u32, false)?;
        admin.close().await.ok()?;
        Some(PgServerCpu(postmaster))
    }

    /// CPU used by the server so far: the postmaster, its ended children
    /// (backends that closed, ...) and its live ones.
    pub fn now(&self) -> std::time::Duration {
        let mut total = proc_cpu(self.0, true).map(|(cpu, _)| cpu).unwrap_or_default();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|name| name.parse::<u32>().ok()) else {
                continue;
            };
            if let Some((cpu, parent)) = proc_cpu(pid, false)
                && parent == self.0
            {
                total += cpu;
            }
        }
        total
    }
}
