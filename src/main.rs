fn main() -> std::process::ExitCode {
    purr::cli::main()
}
