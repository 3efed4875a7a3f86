//! Thin entry point: parse arguments, run, map errors to exit code 1.

use clap::FromArgMatches;
use cruddur_infra::cli::{Cli, command};
use cruddur_infra::spec::diag::SpecErrors;
use std::process::ExitCode;

fn main() -> ExitCode {
    // A shell asking for completions (see `completions`): answered, then exit.
    clap_complete::CompleteEnv::with_factory(command)
        .var(cruddur_infra::commands::shell::COMPLETE_VAR)
        .complete();
    let parsed = command()
        .try_get_matches()
        .and_then(|matches| Cli::from_arg_matches(&matches));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            // clap exits 2 on usage errors; 2 means "changes" here, so usage errors are 1.
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    // Logs are coloured only on a terminal, and never with --no-color or NO_COLOR.
    let colour = !cli.global.no_color
        && std::env::var_os("NO_COLOR").is_none()
        && std::io::IsTerminal::is_terminal(&std::io::stderr());
    init_logging(cli.global.verbose, colour);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(cruddur_infra::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            match e.downcast_ref::<SpecErrors>() {
                Some(spec) => eprint!("{}", spec.render()),
                None => eprintln!("error: {e:#}"),
            }
            ExitCode::from(1)
        }
    }
}

/// Without `-v`, only the tool's own warnings: the SDK's credential chain, hyper and
/// rustls have their say at `-v` and above (a first run without credentials used to print
/// fourteen WARN lines from aws-config, Debug dumps included, before the tool's own
/// two-line error).
fn init_logging(verbose: u8, colour: bool) {
    let default = match verbose {
        0 => "cruddur_infra=warn",
        1 => "warn,cruddur_infra=debug",
        2 => "info,cruddur_infra=debug,aws_smithy_runtime=debug,aws_config=debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .init();
}
