//! The sending workers of a process, shared by every list it serves.
//!
//! `[delivery] concurrency` workers each keep one connection between
//! copies (a session is closed after [`IDLE`] without work, or when the
//! next copy goes to another server or greeting). A delivery run
//! ([`super::deliver`]) hands over each claimed batch whole; batches are
//! served in the order they came, so one list's copies go out together
//! and their outcomes are recorded in few transactions, and a process
//! serving a hundred lists holds `concurrency` connections, not a hundred
//! times that.
//!
//! A worker sends, works out the outcome and passes it to the run's
//! recorder; it never touches the database. A run that is stopped takes
//! its copies that no worker has started back ([`Senders::withdraw`]).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};

use super::App;
use super::crash::{CRASH_AFTER_DATA, CrashPoints};
use super::outcome::complete;
use crate::mail::{Connection, Envelope, Outcome, Transport};
use crate::store::{Claimed, Completion};

/// A worker's session is closed after this long without a copy.
const IDLE: Duration = Duration::from_secs(2);

/// The workers and the queue they take copies from.
pub struct Senders {
    shared: Arc<Shared>,
    workers: usize,
}

struct Shared {
    queue: Mutex<Queue>,
    /// Rung once per copy added, and for everyone on close.
    work: Notify,
    runs: AtomicU64,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    closed: bool,
}

/// One copy to send, with what the worker needs of its run.
pub(super) struct Job {
    pub app: Arc<App>,
    pub transport: Arc<Transport>,
    pub envelope_from: String,
    pub claimed: Claimed,
    pub run: Arc<Run>,
}

/// One delivery run's share of the queue.
pub(super) struct Run {
    id: u64,
    /// Its copies no worker has taken yet.
    waiting: AtomicUsize,
    /// Rung when no more than [`Run::low_water`] copies wait.
    drained: Notify,
    /// How few waiting copies let the run claim its next batch: one per
    /// worker, so the workers are never left without work while it claims.
    low_water: usize,
    pub crash: Arc<CrashPoints>,
    /// Where outcomes go: the run's recorder.
    pub done: mpsc::UnboundedSender<Completion>,
}

impl Run {
    /// Returns once no more copies wait than the workers will take next
    /// (time to claim the next batch).
    pub async fn drained(&self) {
        loop {
            let notified = self.drained.notified();
            if self.waiting.load(Ordering::Acquire) <= self.low_water {
                return;
            }
            notified.await;
        }
    }

    /// A worker took one of the run's copies.
    fn taken(&self) {
        let before = self.waiting.fetch_sub(1, Ordering::AcqRel);
        if before.saturating_sub(1) <= self.low_water {
            self.drained.notify_one();
        }
    }
}

impl Senders {
    /// Starts `workers` workers on the current runtime.
    pub fn start(workers: usize) -> Arc<Self> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            work: Notify::new(),
            runs: AtomicU64::new(0),
        });
        let workers = workers.max(1);
        for _ in 0..workers {
            tokio::spawn(work(shared.clone()));
        }
        Arc::new(Self { shared, workers })
    }

    /// A new run whose outcomes go to `done`.
    pub(super) fn run(
        &self,
        crash: Arc<CrashPoints>,
        done: mpsc::UnboundedSender<Completion>,
    ) -> Arc<Run> {
        Arc::new(Run {
            id: self.shared.runs.fetch_add(1, Ordering::Relaxed),
            waiting: AtomicUsize::new(0),
            drained: Notify::new(),
            low_water: self.workers,
            crash,
            done,
        })
    }

    /// Queues a batch of copies behind the batches already waiting.
    pub(super) fn submit(&self, jobs: Vec<Job>) {
        let count = jobs.len();
        {
            let mut queue = self.shared.lock();
            for job in jobs {
                job.run.waiting.fetch_add(1, Ordering::AcqRel);
                queue.jobs.push_back(job);
            }
        }
        // One wake-up per copy: each wakes a waiting worker, or (none
        // waiting) is kept for the next worker to look.
        for _ in 0..count {
            self.shared.work.notify_one();
        }
    }

    /// Takes `run`'s copies that no worker has started out of the queue
    /// (a stop): they were claimed and go back to the outbox.
    pub(super) fn withdraw(&self, run: &Run) -> Vec<Claimed> {
        let mut queue = self.shared.lock();
        let mut mine = Vec::new();
        let mut rest = VecDeque::with_capacity(queue.jobs.len());
        for job in queue.jobs.drain(..) {
            if job.run.id == run.id {
                mine.push(job.claimed);
            } else {
                rest.push_back(job);
            }
        }
        queue.jobs = rest;
        run.waiting.fetch_sub(mine.len(), Ordering::AcqRel);
        run.drained.notify_one();
        mine
    }
}

impl Drop for Senders {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.work.notify_waiters();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // The queue holds no invariant a panicking holder could break
        // half way: carry on with it.
        self.queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The next copy; `None` once closed and empty, or after `idle`
    /// without work (when given).
    async fn next(&self, idle: Option<Duration>) -> Next {
        loop {
            let notified = self.work.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut queue = self.lock();
                if let Some(job) = queue.jobs.pop_front() {
                    return Next::Job(Box::new(job));
                }
                if queue.closed {
                    return Next::Closed;
                }
            }
            match idle {
                Some(idle) => {
                    if tokio::time::timeout(idle, notified).await.is_err() {
                        return Next::Idle;
                    }
                }
                None => notified.await,
            }
        }
    }
}

enum Next {
    Job(Box<Job>),
    Idle,
    Closed,
}

/// One worker: takes copies until the senders close, sending each over
/// its connection.
async fn work(shared: Arc<Shared>) {
    let mut connection: Option<Connection> = None;
    loop {
        let idle = connection.as_ref().filter(|c| c.is_open()).map(|_| IDLE);
        let job = match shared.next(idle).await {
            Next::Job(job) => job,
            Next::Idle => {
                if let Some(mut open) = connection.take() {
                    open.close().await;
                }
                continue;
            }
            Next::Closed => break,
        };
        let Job {
            app,
            transport,
            envelope_from,
            claimed,
            run,
        } = *job;
        run.taken();
        if let Some(mut open) = connection.take_if(|c| !c.goes_to(&transport)) {
            open.close().await;
        }
        let connection = connection.get_or_insert_with(|| transport.connection());
        let key = format!("{}-{}", claimed.id, claimed.message_id);
        // Sealed hours ago, perhaps: the outer Date says when it is sent.
        let message = crate::mail::with_date(&claimed.message, app.now());
        let outcome = connection
            .send(&Envelope {
                from: &envelope_from,
                to: &claimed.recipient,
                key: &key,
                message: &message,
            })
            .await;
        if matches!(outcome, Outcome::Sent(_)) {
            run.crash.reach(CRASH_AFTER_DATA, 1);
        }
        let completion = complete(&app.config.delivery, &claimed, outcome, app.now());
        // The recorder outlives every copy of its run.
        let _ = run.done.send(completion);
    }
    if let Some(mut open) = connection.take() {
        open.close().await;
    }
}
