fn main() -> std::process::ExitCode {
    commsim::cli::main()
}
