//! The `sendgrid-tls-operator` binary: parse the command line, start logging, dispatch.

use clap::Parser;
use sendgrid_tls_operator::cli::{Cli, Command, run};
use sendgrid_tls_operator::telemetry::logging;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    // Usage errors exit 1, like every other error (2 means "plan --detailed-exitcode: changes").
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    // `run` starts logging itself, once it knows a cluster answers.
    if !matches!(cli.command, Command::Run(_))
        && let Err(e) = logging::init(cli.global.log_format, &cli.global.log_level)
    {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let result = match &cli.command {
        Command::Run(args) => run::run(&cli.global, args)
            .await
            .map(|()| ExitCode::SUCCESS),
        Command::Crd => {
            print!("{}", sendgrid_tls_operator::api::crd_yaml());
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(feature = "validation")]
        Command::Plan(args) => {
            let file = &args.file;
            sendgrid_tls_operator::cli::file::run(&cli.global, file, false, args.detailed_exitcode)
                .await
        }
        #[cfg(feature = "validation")]
        Command::Apply(args) => {
            sendgrid_tls_operator::cli::file::run(&cli.global, args, true, false).await
        }
        #[cfg(feature = "simulator")]
        Command::Simulate(args) => sendgrid_tls_operator::cli::simulate::run(args)
            .await
            .map(|()| ExitCode::SUCCESS),
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {e}");
        ExitCode::FAILURE
    })
}
