//! The `sendgrid-tls-operator` binary: parse the command line, start logging, dispatch.

use clap::Parser;
use sendgrid_tls_operator::cli::{Cli, Command, file, run, simulate};
use sendgrid_tls_operator::telemetry::logging;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
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
        Command::Plan(args) => file::run(&cli.global, args, false).await,
        Command::Apply(args) => file::run(&cli.global, args, true).await,
        Command::Simulate(args) => simulate::run(args).await.map(|()| ExitCode::SUCCESS),
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {e}");
        ExitCode::FAILURE
    })
}
