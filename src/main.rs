//! The `purr` binary; everything lives in the library (see `purr::cli`).

// The event path allocates per event in many places (events, JSON rows,
// sqlx arguments); mimalloc made it 1.7x faster than glibc's allocator
// (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    purr::cli::main()
}
