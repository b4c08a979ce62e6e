//! Ctrl-C and SIGTERM: the first stops the race (in-flight requests get the
//! grace period), the second aborts what is still in flight. Results are
//! written either way.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// First Ctrl-C or SIGTERM: stop (in-flight requests get the grace period).
/// Second: abort in-flight requests. Results are written either way.
/// `announce` is false while the TUI owns the screen.
pub fn watch_signals(
    stop: CancellationToken,
    abort: CancellationToken,
    grace: Duration,
    announce: bool,
) {
    tokio::spawn(async move {
        let mut terminate = terminate_signal();
        next_stop_signal(&mut terminate).await;
        if announce {
            eprintln!(
                "stopping: letting in-flight requests finish for up to {:.0} s (Ctrl-C again to stop now)…",
                grace.as_secs_f64()
            );
        }
        stop.cancel();
        next_stop_signal(&mut terminate).await;
        if announce {
            eprintln!("aborting in-flight requests; writing results…");
        }
        abort.cancel();
    });
}

#[cfg(unix)]
pub type TerminateSignal = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
pub type TerminateSignal = ();

#[cfg(unix)]
pub fn terminate_signal() -> TerminateSignal {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok()
}
#[cfg(not(unix))]
pub fn terminate_signal() -> TerminateSignal {}

/// Waits for Ctrl-C (SIGINT) or SIGTERM.
pub async fn next_stop_signal(terminate: &mut TerminateSignal) {
    #[cfg(unix)]
    let term = async {
        match terminate {
            Some(t) => {
                t.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = {
        let () = terminate;
        std::future::pending::<()>()
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}
