//! The store: the only module that speaks SQL.
//!
//! One SQLite file in WAL mode with `synchronous=FULL` (an outbox row is a
//! promise, and `NORMAL` can lose the last commits on power loss), foreign
//! keys on, a busy timeout, and migrations from `migrations/` applied on
//! open. Domain types never see sqlx: rows are mapped here.
//!
//! Reads go through [`Store`]. Every change goes through a [`WriteTx`],
//! which starts with `BEGIN IMMEDIATE` so the read-check-write of a use case
//! (is the sponsor still active? is the address free?) cannot interleave
//! with another writer, and which appends the audit entry for the change in
//! the same transaction. A `WriteTx` dropped without `commit` rolls back.
//!
//! A connection whose transaction state is in doubt never goes back into
//! the pool. SQLite itself rolls a transaction back when a write or a
//! commit fails with a full disk or an I/O error; sqlx does not notice, so
//! its rollback on drop then fails ("no transaction is active") and it
//! counts the connection as still inside a transaction, refusing every
//! later `BEGIN`. [`connection_is_clean`] runs whenever a connection is
//! returned to the pool and closes such a connection; the pool opens a
//! fresh one, so a storage fault lasts as long as the fault and no longer.

mod advisories;
mod announcements;
mod audience;
mod audit;
mod cases;
mod deliveries;
mod exports;
mod inbound;
mod instants;
#[cfg(test)]
mod kind_tests;
mod lists;
mod members;
mod observers;
mod wake;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, Transaction};
use thiserror::Error;

pub use advisories::StoredAdvisory;
pub use announcements::{AnnouncementState, PlannedAnnouncement};
pub use audience::{Addressee, SealAudience};
pub use cases::{
    CaseFilter, CaseRow, NewCase, NewParticipant, Participant, PendingRelay, RelayReaders,
};
pub use deliveries::{
    Claimed, Completion, DeliveryState, NewDelivery, QueueCounts, QueueRow, Unreported,
};
pub use exports::DueExport;
pub use inbound::{AckRow, BouncedCopy, CommandRecord, SignedKey};
pub use lists::{ListId, ListRow, NewList};
pub use members::{MemberChange, NewMember};
pub use observers::{EmbargoSpan, ObserverRow, ReportCounts};
pub use wake::{WakeSocket, socket_path as wake_socket_path};

/// What went wrong in the store.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("no list database at {0} (run `embargo init` first)")]
    Missing(PathBuf),
    /// The server named by `[store] url` did not answer, refused the
    /// connection or has no such database (yet). The URL is shown
    /// without its password.
    #[error("cannot connect to the database server at {url}")]
    Unreachable {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("no list in the database at {0} (run `embargo init` first)")]
    NoList(String),
    #[error("a list database already exists at {0}; refusing to overwrite it")]
    Exists(PathBuf),
    #[error("the database is busy or locked by another process")]
    Busy,
    #[error("{0}")]
    Conflict(String),
    #[error("the database holds a value it should not: {0}")]
    Corrupt(String),
    #[error("apply database migrations")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error("set permissions on {path}")]
    Permissions {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("database error")]
    Sql(#[source] sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err {
            // SQLITE_BUSY (5) and SQLITE_LOCKED (6), with extended codes.
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some()
                && let Some(code) = db.code().and_then(|code| code.parse::<i64>().ok())
                && matches!(code & 0xff, 5 | 6)
            {
                return StoreError::Busy;
            }
            // PostgreSQL: a serialization failure, a deadlock, a lock not
            // available, too many connections, or the server shutting down.
            if db
                .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .is_some()
                && let Some(code) = db.code()
                && matches!(
                    &*code,
                    "40001" | "40P01" | "55P03" | "53300" | "57P01" | "57P03"
                )
            {
                return StoreError::Busy;
            }
            if db.is_unique_violation() {
                return StoreError::Conflict(format!("already stored: {}", db.message()));
            }
        }
        if matches!(err, sqlx::Error::PoolTimedOut) {
            return StoreError::Busy;
        }
        StoreError::Sql(err)
    }
}

impl StoreError {
    /// Whether trying again later may succeed (another process holds the
    /// write lock).
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Busy | StoreError::Unreachable { .. })
    }

    /// Whether storage itself failed (busy, full, read-only, an I/O
    /// error), as opposed to a database that is missing, newer than this
    /// program or holds bad data: the daemon waits out the first kind.
    pub fn is_storage_fault(&self) -> bool {
        matches!(
            self,
            StoreError::Busy | StoreError::Sql(_) | StoreError::Unreachable { .. }
        )
    }
}

/// Which database the instance keeps its lists in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// An SQLite file (the embedded default).
    File(PathBuf),
    /// A PostgreSQL server, by `postgres://` URL. `local` names the place
    /// on this machine for the daemon's wake socket.
    Server { url: String, local: PathBuf },
}

impl Location {
    /// The SQL dialect this location speaks.
    pub fn dialect(&self) -> Dialect {
        match self {
            Location::File(_) => Dialect::Sqlite,
            Location::Server { .. } => Dialect::Postgres,
        }
    }

    /// The path the daemon lock and wake socket are named after.
    pub fn local_path(&self) -> &Path {
        match self {
            Location::File(path) => path,
            Location::Server { local, .. } => local,
        }
    }

    /// A description for messages: the file, or the URL without its
    /// password.
    pub fn describe(&self) -> String {
        match self {
            Location::File(path) => path.display().to_string(),
            Location::Server { url, .. } => redact_url(url),
        }
    }
}

/// The URL with any password replaced by `***`, for messages and logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            if userinfo.contains(':') {
                format!("{scheme}://{user}:***@{host}{tail}")
            } else {
                format!("{scheme}://{user}@{host}{tail}")
            }
        }
        None => url.to_owned(),
    }
}

/// The SQL dialect of the open database: the few statements that differ
/// (row locks, JSON aggregation, upserts) are chosen by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The text of a statement the two dialects cannot share, chosen for
    /// this one: callers keep both texts next to each other.
    pub(crate) fn pick(self, sqlite: &'static str, postgres: &'static str) -> &'static str {
        match self {
            Dialect::Sqlite => sqlite,
            Dialect::Postgres => postgres,
        }
    }
}

/// An open list database.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    dialect: Dialect,
    /// The list this handle reads and writes (see [`Store::scoped`]);
    /// 0, which no list has, until it is scoped.
    list: i64,
    /// Tells a running daemon that a commit added work.
    wake: std::sync::Arc<wake::WakeHint>,
}

impl Store {
    /// Creates a new database at `location` and applies the migrations.
    /// Fails if a file is already there (SQLite; the file is made mode
    /// 0600) or the server's database already holds a list.
    pub async fn create(location: &Location, busy_timeout: Duration) -> Result<Self, StoreError> {
        if let Location::File(path) = location
            && path.exists()
        {
            return Err(StoreError::Exists(path.to_path_buf()));
        }
        let store = Self::connect(location, busy_timeout, true).await?;
        match location {
            Location::File(path) => restrict_permissions(path)?,
            Location::Server { url, .. } => {
                if store.has_lists().await? {
                    store.close().await;
                    return Err(StoreError::Conflict(format!(
                        "the database at {} already holds a list; refusing to overwrite it",
                        redact_url(url)
                    )));
                }
            }
        }
        Ok(store)
    }

    /// Opens the existing database at `location` and applies any new
    /// migrations.
    pub async fn open(location: &Location, busy_timeout: Duration) -> Result<Self, StoreError> {
        if let Location::File(path) = location
            && !path.exists()
        {
            return Err(StoreError::Missing(path.to_path_buf()));
        }
        let store = Self::connect(location, busy_timeout, false).await?;
        // A server database exists before `init` (the operator made it):
        // one that holds no list yet is as missing as an absent file.
        if let Location::Server { url, .. } = location
            && !store.has_lists().await?
        {
            store.close().await;
            return Err(StoreError::NoList(redact_url(url)));
        }
        Ok(store)
    }

    async fn connect(
        location: &Location,
        busy_timeout: Duration,
        create: bool,
    ) -> Result<Self, StoreError> {
        static DRIVERS: std::sync::Once = std::sync::Once::new();
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let dialect = location.dialect();
        let (url, connections) = match location {
            Location::File(path) => (
                format!(
                    "sqlite://{}?mode={}",
                    encode_path(&std::path::absolute(path).map_err(|source| {
                        StoreError::Permissions {
                            path: path.clone(),
                            source,
                        }
                    })?),
                    if create { "rwc" } else { "rw" }
                ),
                1,
            ),
            Location::Server { url, .. } => (url.clone(), POSTGRES_CONNECTIONS),
        };
        let options: AnyConnectOptions = url.parse().map_err(StoreError::from)?;
        let timeout_ms = busy_timeout.as_millis();
        let pool = AnyPoolOptions::new()
            .max_connections(connections)
            .acquire_timeout(busy_timeout + Duration::from_secs(1))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    use sqlx::Executor as _;
                    match dialect {
                        Dialect::Sqlite => {
                            conn.execute(sqlx::AssertSqlSafe(format!(
                                "PRAGMA busy_timeout = {timeout_ms}; PRAGMA journal_mode = WAL; \
                                 PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"
                            )))
                            .await?;
                        }
                        Dialect::Postgres => {
                            conn.execute(sqlx::AssertSqlSafe(format!(
                                "SET lock_timeout = {timeout_ms}; SET TIME ZONE 'UTC'"
                            )))
                            .await?;
                        }
                    }
                    Ok(())
                })
            })
            // Every connection passes here before it can be used again
            // (new ones start clean), so checking on release suffices.
            .after_release(|conn, _| Box::pin(connection_is_clean(conn)))
            .connect_with(options)
            .await
            .map_err(|source| match location {
                // Whatever fails while connecting to a server (refused, no
                // answer, no such database yet) says which server, so the
                // operator can tell; the daemon waits it out.
                Location::Server { url, .. } => StoreError::Unreachable {
                    url: redact_url(url),
                    source,
                },
                Location::File(_) => StoreError::from(source),
            })?;
        let migrated = match dialect {
            Dialect::Sqlite => sqlx::migrate!("./migrations/sqlite").run(&pool).await,
            Dialect::Postgres => sqlx::migrate!("./migrations/postgres").run(&pool).await,
        };
        migrated.map_err(|err| match err {
            sqlx::migrate::MigrateError::Execute(inner) => StoreError::from(inner),
            other => StoreError::Migrate(other),
        })?;
        Ok(Self {
            pool,
            dialect,
            list: 0,
            wake: wake::WakeHint::new(location.local_path()),
        })
    }

    /// The SQL dialect of this database.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// A handle on the same connections that reads and writes only the
    /// list `list`: every query of a list's rows names it, so nothing a
    /// use case does through this handle can reach another list.
    pub fn scoped(&self, list: ListId) -> Store {
        Store {
            list: list.0,
            ..self.clone()
        }
    }

    /// The list this handle is scoped to.
    pub fn list_id(&self) -> ListId {
        ListId(self.list)
    }

    /// Whether the process holding the daemon lock ([`lock_sender`]) is
    /// the only one that can hold delivery leases, so that at start-up
    /// every lease it finds is orphaned. True for the SQLite file; on
    /// PostgreSQL several daemons may send at once (claims skip each
    /// other's locked rows) and only an expired lease is orphaned.
    pub fn sole_sender(&self) -> bool {
        self.dialect == Dialect::Sqlite
    }

    async fn has_lists(&self) -> Result<bool, StoreError> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM lists")
            .fetch_one(&self.pool)
            .await?;
        Ok(count > 0)
    }

    /// Closes every connection, so the WAL is checkpointed and the file
    /// can be moved or removed.
    pub async fn close(self) {
        self.pool.close().await;
    }

    /// Starts a write transaction (`BEGIN IMMEDIATE`). Audit entries
    /// appended through it are stamped with `now`.
    pub async fn write(&self, now: DateTime<Utc>) -> Result<WriteTx, StoreError> {
        let tx = match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Dialect::Postgres => {
                // Writers take one lock, as `BEGIN IMMEDIATE` does on
                // SQLite, so a use case's read-check-write cannot
                // interleave with another writer's.
                let mut tx = self.pool.begin().await?;
                // One lock per list: writers of different lists do not
                // wait for each other. Instance-wide writes (a new list)
                // take list 0's.
                sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
                    .bind(WRITE_LOCK)
                    .bind(i32::try_from(self.list).unwrap_or(0))
                    .execute(&mut *tx)
                    .await?;
                tx
            }
        };
        Ok(WriteTx {
            tx,
            list: self.list,
            dialect: self.dialect,
            now,
            wake: self.wake.clone(),
            adds_work: false,
        })
    }

    /// Stops this process's commits from waking the daemon: the daemon
    /// calls it, being the one that listens.
    pub fn mute_wake(&self) {
        self.wake.mute();
    }
}

/// A write transaction. See the module documentation.
pub struct WriteTx {
    tx: Transaction<'static, Any>,
    /// The list it writes (see [`Store::scoped`]).
    list: i64,
    /// The dialect of the database this transaction writes to.
    dialect: Dialect,
    now: DateTime<Utc>,
    wake: std::sync::Arc<wake::WakeHint>,
    /// Whether this transaction gives the daemon something to do (copies
    /// queued, announcements planned): the commit then wakes it.
    adds_work: bool,
}

impl WriteTx {
    /// Makes every change of this transaction durable, then wakes a
    /// running daemon if the transaction added work for it.
    pub async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await?;
        if self.adds_work {
            self.wake.send();
        }
        Ok(())
    }

    /// Marks this transaction as one that gives the daemon work (see
    /// [`WriteTx::commit`]).
    pub fn wakes_daemon(&mut self) {
        self.adds_work = true;
    }

    /// The SQL dialect of the database this transaction writes.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The instant this transaction stamps on what it writes.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }
}

/// Whether a pooled connection may be used again: `false` (the pool then
/// closes it, which makes SQLite roll back whatever is left) when sqlx
/// still counts it inside a transaction after its queued rollback ran.
async fn connection_is_clean(conn: &mut sqlx::AnyConnection) -> Result<bool, sqlx::Error> {
    use sqlx::Connection as _;
    // The ping is queued behind the rollback a dropped transaction
    // started, so once it answers that rollback has run (or failed).
    conn.ping().await?;
    if conn.is_in_transaction() {
        // Debug only: the caller reports the failure that caused this.
        tracing::debug!(
            "a database connection was left inside a failed transaction; closing it and opening a fresh one"
        );
        return Ok(false);
    }
    Ok(true)
}

/// Connections each process keeps to a PostgreSQL server.
const POSTGRES_CONNECTIONS: u32 = 16;

/// The first key of the advisory lock every PostgreSQL write transaction
/// takes (the second is the list's id).
const WRITE_LOCK: i32 = 0x656d_6261;

/// A path as an `sqlite://` URL's path: `%`, `?` and `#` (and anything
/// else outside a safe set) percent-encoded.
fn encode_path(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt as _;
    let mut out = String::new();
    for &byte in path.as_os_str().as_bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'/' | b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn restrict_permissions(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|source| {
        StoreError::Permissions {
            path: path.to_path_buf(),
            source,
        }
    })
}

fn parse_time(column: &str, text: &str) -> Result<DateTime<Utc>, StoreError> {
    crate::clock::parse_instant(text)
        .ok_or_else(|| StoreError::Corrupt(format!("{column} is not a timestamp: {text:?}")))
}

/// The daemon's exclusive claim on a database: an `flock` on
/// `<database>.lock`, released when this is dropped or the process dies
/// (even by SIGKILL), holding the pid of its owner for the error message.
#[derive(Debug)]
pub struct DaemonLock {
    _file: std::fs::File,
}

/// The daemon lock for `location`: [`lock_daemon`] on the SQLite file;
/// nothing on PostgreSQL, where daemons share the work through row locks
/// and leases (see [`Store::sole_sender`]).
pub fn lock_sender(location: &Location) -> Result<Option<DaemonLock>, StoreError> {
    match location {
        Location::File(path) => lock_daemon(path).map(Some),
        Location::Server { .. } => Ok(None),
    }
}

/// Takes the daemon lock for the database at `database`, or says who has
/// it.
pub fn lock_daemon(database: &Path) -> Result<DaemonLock, StoreError> {
    use std::io::{Read as _, Seek as _, Write as _};
    let path = lock_path(database);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|source| StoreError::Permissions {
            path: path.clone(),
            source,
        })?;
    let own = std::process::id().to_string();
    let mut waits = 0;
    while rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err() {
        let mut holder = String::new();
        let _ = file.rewind();
        let _ = file.read_to_string(&mut holder);
        let holder = holder.trim();
        // This process as the holder means a lock it has just released is
        // still held by a child it is spawning on another thread: the
        // child shares the open file until its `exec` closes it (seen
        // with tests in one process). That clears within moments; any
        // other holder is another process, refused at once.
        if holder == own && waits < OWN_LOCK_WAITS {
            waits += 1;
            std::thread::sleep(std::time::Duration::from_millis(20));
            continue;
        }
        return Err(StoreError::Conflict(format!(
            "another embargo daemon or `queue run` (pid {}) holds {}; only one may send at a time",
            if holder.is_empty() { "unknown" } else { holder },
            path.display()
        )));
    }
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = file.write_all(own.as_bytes());
    let _ = file.sync_all();
    Ok(DaemonLock { _file: file })
}

/// How many times (20 ms apart) [`lock_daemon`] tries again when the
/// lock's holder is this very process: one second.
const OWN_LOCK_WAITS: u32 = 50;

fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

#[cfg(test)]
mod outbox_tests;
