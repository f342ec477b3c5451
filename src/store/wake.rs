//! Waking `embargo serve` at once when another process adds work.
//!
//! The daemon binds a Unix datagram socket next to the database
//! (`<database>.wake`, mode 0600) while it holds the daemon lock, and
//! removes it when it stops. A CLI command whose commit adds work sends it
//! one byte. The socket is only a hint: every error on the sending side is
//! ignored (no daemon, a stale file left by a killed one, a full buffer),
//! and the daemon still polls once a second, so a lost hint costs at most
//! that second. The byte carries no information; nothing embargoed, and
//! nothing about who sent it, crosses the socket.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::StoreError;

/// Where the daemon of the database at `database` listens.
pub fn socket_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".wake");
    PathBuf::from(name)
}

/// The sending side, shared by a [`Store`](super::Store) and its write
/// transactions.
#[derive(Debug)]
pub(crate) struct WakeHint {
    path: PathBuf,
    /// The daemon itself does not wake itself: it is the listener.
    muted: AtomicBool,
}

impl WakeHint {
    pub(crate) fn new(database: &Path) -> Arc<Self> {
        Arc::new(Self {
            path: socket_path(database),
            muted: AtomicBool::new(false),
        })
    }

    pub(crate) fn mute(&self) {
        self.muted.store(true, Ordering::Relaxed);
    }

    /// Sends the hint, ignoring every error: it never blocks and never
    /// fails the commit it follows.
    pub(crate) fn send(&self) {
        if self.muted.load(Ordering::Relaxed) {
            return;
        }
        let Ok(socket) = std::os::unix::net::UnixDatagram::unbound() else {
            return;
        };
        if socket.set_nonblocking(true).is_err() {
            return;
        }
        let _ = socket.send_to(&[1], &self.path);
    }
}

/// The daemon's end: a datagram socket at [`socket_path`], removed when
/// dropped.
#[derive(Debug)]
pub struct WakeSocket {
    socket: tokio::net::UnixDatagram,
    path: PathBuf,
}

impl WakeSocket {
    /// Binds the wake socket for the database at `database`. Call it only
    /// while holding the daemon lock: a file already there is then the
    /// leftover of a daemon that was killed, and is replaced.
    pub fn bind(database: &Path) -> Result<Self, StoreError> {
        let path = socket_path(database);
        let permissions = |source| StoreError::Permissions {
            path: path.clone(),
            source,
        };
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(permissions(err)),
        }
        let socket = tokio::net::UnixDatagram::bind(&path).map_err(permissions)?;
        super::restrict_permissions(&path)?;
        Ok(Self { socket, path })
    }

    /// Waits for a hint, then takes any others already queued, so a burst
    /// of commits wakes the daemon once.
    pub async fn woken(&self) {
        let mut buffer = [0u8; 16];
        if self.socket.recv(&mut buffer).await.is_err() {
            // A broken socket must not turn the wait into a busy loop: the
            // one-second poll is the fallback.
            std::future::pending::<()>().await;
        }
        while self.socket.try_recv(&mut buffer).is_ok() {}
    }
}

impl Drop for WakeSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
