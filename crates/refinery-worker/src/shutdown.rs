//! Stopping a worker on SIGTERM (a service manager, `kubectl delete`) or Ctrl-C (SIGINT):
//! the first signal sets the worker's stop flag, so it claims nothing more, stops the build
//! it runs and hands that job back to the queue (`retry`, see [`crate::worker::run_worker`])
//! instead of leaving it leased until the lease expires; a second signal ends the process
//! at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Exit status of a process ended by a second signal (128 + SIGINT, as a shell reports).
const EXIT_ON_SECOND_SIGNAL: i32 = 130;

/// Watches for SIGTERM and SIGINT on a thread of its own and sets `stop` on the first,
/// saying `{who}: stopping: {what} (a second signal exits at once)` on stderr; the second
/// ends the process with status 130.
///
/// # Errors
/// The signal handlers or the thread could not be set up.
pub fn stop_on_signal(
    stop: Arc<AtomicBool>,
    who: String,
    what: &'static str,
) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    // Registered here, so a signal that comes before the thread runs is not lost.
    let (mut term, mut interrupt) = runtime.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        Ok::<_, std::io::Error>((
            signal(SignalKind::terminate())?,
            signal(SignalKind::interrupt())?,
        ))
    })?;
    std::thread::Builder::new()
        .name("stop-signals".into())
        .spawn(move || {
            runtime.block_on(async {
                for signals in 0.. {
                    tokio::select! {
                        _ = term.recv() => {},
                        _ = interrupt.recv() => {},
                    }
                    if signals > 0 {
                        eprintln!("{who}: second signal: exiting now");
                        std::process::exit(EXIT_ON_SECOND_SIGNAL);
                    }
                    eprintln!("{who}: stopping: {what} (a second signal exits at once)");
                    stop.store(true, Ordering::SeqCst);
                }
            });
        })?;
    Ok(())
}
