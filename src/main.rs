//! Entry point: builds the runtime, parses the command line and maps the
//! result to an exit code. Everything else lives in the library.

use std::process::ExitCode;

use clap::Parser;
use llm_locust::cli::Cli;
use llm_locust::error::Exit;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Exit::Failure.into();
        }
    };
    let result = runtime.block_on(llm_locust::app::run(cli));
    // Everything that matters has been written by now; blocking work still
    // running (a dataset being read when the user quit) must not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(exit) => exit.into(),
        Err(e) => {
            // Each cause once: many messages already name theirs.
            let error: &(dyn std::error::Error + 'static) = e.error.as_ref();
            for line in llm_locust::error::error_chain(error).lines() {
                eprintln!("error: {line}");
            }
            e.exit.into()
        }
    }
}
