//! `llm-locust sim`: the simulated endpoint, standalone, until Ctrl-C.

use std::io::Write as _;

use tokio_util::sync::CancellationToken;

use crate::cli::SimArgs;
use crate::config;
use crate::error::{AppError, Exit};
use crate::sim;

pub(super) async fn serve_sim(args: SimArgs) -> Result<Exit, AppError> {
    let spec = config::validate::sim_flags(args.simulate())
        .map_err(|problem| AppError::bad_input(anyhow::anyhow!("{problem}")))?;
    let cancel = CancellationToken::new();
    let addr = std::net::SocketAddr::new(args.host, args.port);
    let options = sim::SimOptions {
        stamp_tokens: args.stamp_tokens,
    };
    let handle = sim::serve_with(spec, options, addr, cancel.clone())
        .await
        .map_err(AppError::bad_input)?;
    // A reader that has gone (a script that read the address and closed
    // the pipe) must not stop the server: the lines are a courtesy.
    let mut out = std::io::stdout();
    let _ = writeln!(out, "llm-locust sim listening on {}", handle.base_url());
    let _ = writeln!(
        out,
        "  POST {}/v1/chat/completions   POST {}/v1/completions",
        handle.base_url(),
        handle.base_url()
    );
    if options.stamp_tokens {
        let _ = writeln!(
            out,
            "  --stamp-tokens: each streamed token's text is its send time, in µs from the request's arrival"
        );
    }
    let _ = writeln!(out, "Ctrl-C to stop");
    let _ = out.flush();
    let _ = tokio::signal::ctrl_c().await;
    handle.shutdown().await;
    Ok(Exit::Success)
}
