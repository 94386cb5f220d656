//! `refinery`: the command line. Wiring only; the logic lives in the library crates.

mod cli;
mod commands;
mod config;
mod diagnostics;
mod env_vars;
mod exit_codes;
mod report;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    cli.order_binary_options(&matches);
    init_tracing(cli.verbose);
    // A panic is a bug, not bad input: its own exit status (the panic hook printed it).
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| dispatch(&cli)));
    let Ok(result) = outcome else {
        eprintln!(
            "error: internal error (a bug in the refinery; the panic above says where)\n\
             hint: please report it with the command line that caused it"
        );
        return ExitCode::from(exit_codes::INTERNAL_ERROR);
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            render_error(&err);
            ExitCode::from(exit_codes::USER_ERROR)
        }
    }
}

fn dispatch(cli: &Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        None => commands::run(&cli.run, cli.quiet),
        Some(Command::Run(args)) => commands::run(args, cli.quiet),
        Some(Command::Scan(args)) => commands::scan(args),
        Some(Command::Plan(args)) => commands::plan(args),
        Some(Command::Env(command)) => commands::env(command, cli.quiet),
        Some(Command::History(args)) => commands::history(args),
        Some(Command::Serve(args)) => commands::serve(args),
        Some(Command::Worker(args)) => commands::worker(args),
        Some(Command::Queue(args)) => commands::queue(args),
        Some(Command::Index(args)) => commands::index(args),
    }
}

/// `error:`, `Caused by:` and `hint:` lines, each once (see [`diagnostics`]).
fn render_error(err: &anyhow::Error) {
    eprint!("{}", diagnostics::render(err.as_ref()));
}

fn init_tracing(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("REFINERY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time();
    // Colours only on a terminal: a log redirected to a file or a pipe stays plain text.
    // On a terminal the default stays, which honours NO_COLOR.
    if std::io::stderr().is_terminal() {
        subscriber.init();
    } else {
        subscriber.with_ansi(false).init();
    }
}
