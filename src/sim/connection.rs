//! How the simulator closes connections on its own, as real servers and
//! proxies do: after each streamed answer (llama.cpp closes the socket
//! although its headers say `Keep-Alive`: the `close_after_stream` quirk)
//! and after a connection has idled (`idle_timeout_ms`, as nginx's
//! `keepalive_timeout`). Neither says `Connection: close`, so a client that
//! reuses such a connection in the moment before it sees the close writes
//! its request into a closing socket, and gets no answer.
//!
//! hyper owns each connection's socket; to close it from outside, the
//! listener keeps a second handle on the socket for the connections it must
//! be able to close, and hands it to the requests on that connection
//! through axum's connect info.

use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::time::Instant;
use tracing::debug;

/// How long after a streamed answer's last byte its connection is closed:
/// time for hyper to write the body's end, so the answer itself is whole.
pub const CLOSE_AFTER_STREAM_DELAY: Duration = Duration::from_millis(5);

/// Which connections the simulator closes on its own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClosePolicy {
    /// Close a connection once a streamed answer on it has ended.
    pub after_stream: bool,
    /// Close a connection that has carried no request for this long.
    pub idle_timeout: Option<Duration>,
}

impl ClosePolicy {
    fn any(self) -> bool {
        self.after_stream || self.idle_timeout.is_some()
    }
}

/// The simulator's listener: sets `TCP_NODELAY` on every connection and,
/// when connections are closed on the simulator's own schedule, gives each
/// one a [`ConnectionControl`].
pub struct SimListener {
    inner: TcpListener,
    policy: ClosePolicy,
}

impl SimListener {
    pub fn new(inner: TcpListener, policy: ClosePolicy) -> Self {
        SimListener { inner, policy }
    }
}

/// What the listener knows of a connection: its control, when it has one.
#[derive(Debug, Clone)]
pub struct SimPeer {
    pub control: Option<Arc<ConnectionControl>>,
}

impl Listener for SimListener {
    type Io = TcpStream;
    type Addr = SimPeer;

    async fn accept(&mut self) -> (TcpStream, SimPeer) {
        loop {
            let (tcp, _) = Listener::accept(&mut self.inner).await;
            // Tokens are tiny writes; Nagle's algorithm would hold them back
            // and distort the very latencies the simulator is meant to produce.
            if let Err(e) = tcp.set_nodelay(true) {
                debug!("sim: cannot set TCP_NODELAY: {e}");
            }
            if !self.policy.any() {
                return (tcp, SimPeer { control: None });
            }
            match ConnectionControl::attach(tcp, self.policy) {
                Ok((tcp, control)) => {
                    return (
                        tcp,
                        SimPeer {
                            control: Some(control),
                        },
                    );
                }
                // The socket is gone with the error: the client sees it
                // closed, as it would a server out of file handles.
                Err(e) => debug!("sim: cannot keep a handle on a connection: {e}"),
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SimPeer> {
        self.inner.local_addr().map(|_| SimPeer { control: None })
    }
}

/// What a request handler knows of its connection (axum's connect info).
#[derive(Debug, Clone)]
pub struct ConnectionHandle(pub Option<Arc<ConnectionControl>>);

impl Connected<IncomingStream<'_, SimListener>> for ConnectionHandle {
    fn connect_info(stream: IncomingStream<'_, SimListener>) -> Self {
        ConnectionHandle(stream.remote_addr().control.clone())
    }
}

/// One connection the simulator may close on its own.
#[derive(Debug)]
pub struct ConnectionControl {
    /// A second handle on the connection's socket: shutting it down closes
    /// the connection under hyper.
    socket: std::net::TcpStream,
    policy: ClosePolicy,
    in_flight: AtomicU32,
    last_done: Mutex<Instant>,
    /// A streamed answer has ended: the connection is about to close and
    /// answers nothing more.
    closing: AtomicBool,
    closed: Notify,
}

impl ConnectionControl {
    fn attach(tcp: TcpStream, policy: ClosePolicy) -> std::io::Result<(TcpStream, Arc<Self>)> {
        let std = tcp.into_std()?;
        let second = std.try_clone()?;
        let tcp = TcpStream::from_std(std)?;
        let control = Arc::new(ConnectionControl {
            socket: second,
            policy,
            in_flight: AtomicU32::new(0),
            last_done: Mutex::new(Instant::now()),
            closing: AtomicBool::new(false),
            closed: Notify::new(),
        });
        if let Some(idle) = policy.idle_timeout {
            tokio::spawn(close_when_idle(Arc::downgrade(&control), idle));
        }
        Ok((tcp, control))
    }

    /// A request arrived on this connection: it is in flight until the
    /// returned guard drops (with its body, for a stream).
    pub fn request(self: &Arc<Self>) -> RequestOnConnection {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        RequestOnConnection {
            control: Arc::clone(self),
        }
    }

    /// The connection is closing: a request that reached it now gets no
    /// answer. Waits until it is closed.
    pub async fn closing(&self) -> bool {
        if !self.closing.load(Ordering::Relaxed) {
            return false;
        }
        let closed = self.closed.notified();
        if self.closing.load(Ordering::Relaxed) {
            closed.await;
        }
        true
    }

    fn close(&self) {
        if let Err(e) = self.socket.shutdown(Shutdown::Both) {
            debug!("sim: closing a connection: {e}");
        }
        self.closed.notify_waiters();
    }

    fn idle_for(&self) -> Option<Duration> {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return None;
        }
        Some(self.last_done().elapsed())
    }

    fn last_done(&self) -> Instant {
        *self
            .last_done
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Closes the connection once it has carried no request for `idle`; ends
/// with the connection.
async fn close_when_idle(control: Weak<ConnectionControl>, idle: Duration) {
    let mut check_at = Instant::now() + idle;
    loop {
        tokio::time::sleep_until(check_at).await;
        let Some(control) = control.upgrade() else {
            return;
        };
        match control.idle_for() {
            Some(idled) if idled >= idle => {
                debug!("sim: closing a connection idle for {idled:?}");
                control.close();
                return;
            }
            Some(idled) => check_at = Instant::now() + (idle - idled),
            None => check_at = Instant::now() + idle,
        }
    }
}

/// A request in flight on a connection the simulator may close.
#[derive(Debug)]
pub struct RequestOnConnection {
    control: Arc<ConnectionControl>,
}

impl RequestOnConnection {
    /// Its streamed answer ended whole: with `close_after_stream`, the
    /// connection closes a moment later and answers nothing more.
    pub fn answered(&self) {
        if !self.control.policy.after_stream {
            return;
        }
        self.control.closing.store(true, Ordering::Relaxed);
        let control = Arc::clone(&self.control);
        tokio::spawn(async move {
            tokio::time::sleep(CLOSE_AFTER_STREAM_DELAY).await;
            control.close();
        });
    }
}

impl Drop for RequestOnConnection {
    fn drop(&mut self) {
        *self
            .control
            .last_done
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Instant::now();
        self.control.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}
