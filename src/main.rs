use clap::Parser;
use hookgate::{cli::Cli, commands};

fn main() -> std::process::ExitCode {
    commands::dispatch(Cli::parse())
}
