//! Sending what is due: claim, check, send, record.
//!
//! One claimer takes due copies from the outbox in batches (one atomic
//! update each, with a lease), a bounded set of workers each hold one
//! connection and send, and one recorder writes the outcomes in batches
//! (one transaction per batch, each completion naming its lease
//! generation). A copy whose member left since sealing is dropped; one
//! whose key changed since is checked again and missed if it can no
//! longer be used. Nothing is claimed before its instant: the claim itself
//! compares with the clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use tokio::sync::{Mutex, mpsc, watch};

use super::App;
use super::crash::{CRASH_AFTER_CLAIM, CRASH_AFTER_DATA, CRASH_AFTER_RECORD, CrashPoints};
use super::outcome::{Tally, complete};
use crate::compose::Kind;
use crate::mail::{Envelope, Outcome, SmtpTarget, Transport};
use crate::roster::Status;
use crate::store::{Claimed, Completion, DeliveryState};

/// How many copies one claim takes.
const CLAIM_BATCH: u32 = 256;
/// The recorder writes at least this often while copies complete.
const RECORD_EVERY: Duration = Duration::from_millis(100);
const RECORD_BATCH: usize = 500;

impl App {
    /// Where mail goes: the `[smtp]` server, else the maildir.
    pub fn transport(&self) -> Result<Transport> {
        let delivery = &self.config.delivery;
        Ok(match &self.config.smtp {
            Some(smtp) => {
                let credentials = match &smtp.username {
                    Some(user) => {
                        let password = smtp
                            .password
                            .load()
                            .context("read the SMTP password")?
                            .context("[smtp] username is set but no password is configured")?;
                        Some((user.clone(), password))
                    }
                    None => None,
                };
                Transport::Smtp(SmtpTarget {
                    host: smtp.host.clone(),
                    port: smtp.port,
                    tls: smtp.tls,
                    credentials,
                    timeout: delivery.timeout,
                    hello: self.config.list.address.domain().to_owned(),
                })
            }
            None => Transport::Maildir(delivery.maildir.clone()),
        })
    }

    /// The envelope sender for one copy: the list's bounce address with
    /// the delivery id and its token, so a bounce names the copy it is
    /// about and cannot be forged.
    fn envelope_from(&self, secret: &[u8], delivery: i64) -> String {
        let address = &self.config.list.address;
        crate::inbound::verp::address(address.local_part(), address.domain(), secret, delivery)
    }

    /// Sends every copy that is due now, until none is left or `stop`
    /// turns true. With `only_kind`, only copies of that kind (maintainer
    /// reports while the clock is suspect).
    pub async fn deliver_due(
        self: &Arc<Self>,
        transport: &Transport,
        stop: watch::Receiver<bool>,
        only_kind: Option<Kind>,
    ) -> Result<Tally> {
        self.settle_earlier().await?;
        let result = self.deliver_run(transport, stop, only_kind).await;
        if result.is_err() {
            // Copies claimed but never handed to a worker may still be
            // `sending`; the next run returns them to the queue.
            self.unsettled().orphans = true;
        }
        result
    }

    async fn deliver_run(
        self: &Arc<Self>,
        transport: &Transport,
        mut stop: watch::Receiver<bool>,
        only_kind: Option<Kind>,
    ) -> Result<Tally> {
        transport.prepare().context("prepare the maildir")?;
        let crash = Arc::new(CrashPoints::from_env());
        let record_failed = Arc::new(AtomicBool::new(false));
        let secret = Arc::new(self.bounce_secret().await?);
        let concurrency = self.config.delivery.concurrency;
        let (work_tx, work_rx) = mpsc::channel::<Claimed>(concurrency * 2);
        let work_rx = Arc::new(Mutex::new(work_rx));
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Completion>();

        let mut workers = Vec::with_capacity(concurrency);
        for _ in 0..concurrency {
            let app = self.clone();
            let work_rx = work_rx.clone();
            let done_tx = done_tx.clone();
            let crash = crash.clone();
            let secret = secret.clone();
            let mut connection = transport.connection();
            let permits = self.send_permits.clone();
            workers.push(tokio::spawn(async move {
                // Under `serve`, every list's workers share the process's
                // `[delivery] concurrency`: a worker takes its slot with
                // its first copy and keeps it until the run ends.
                let mut slot = None;
                loop {
                    let next = work_rx.lock().await.recv().await;
                    let Some(claimed) = next else { break };
                    if slot.is_none()
                        && let Some(permits) = &permits
                    {
                        slot = permits.clone().acquire_owned().await.ok();
                    }
                    let envelope_from = app.envelope_from(&secret, claimed.id);
                    let key = format!("{}-{}", claimed.id, claimed.message_id);
                    // Sealed hours ago, perhaps: the outer Date says when
                    // it is sent.
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
                        crash.reach(CRASH_AFTER_DATA, 1);
                    }
                    let completion = complete(&app.config.delivery, &claimed, outcome, app.now());
                    if done_tx.send(completion).is_err() {
                        break;
                    }
                }
                connection.close().await;
            }));
        }
        drop(done_tx);

        let recorder = {
            let app = self.clone();
            let crash = crash.clone();
            let record_failed = record_failed.clone();
            tokio::spawn(async move {
                let mut tally = Tally::default();
                let mut pending: Vec<Completion> = Vec::new();
                let mut failure: Option<anyhow::Error> = None;
                loop {
                    let closed = tokio::select! {
                        received = done_rx.recv() => match received {
                            Some(completion) => { pending.push(completion); false }
                            None => true,
                        },
                        () = tokio::time::sleep(RECORD_EVERY), if !pending.is_empty() => false,
                    };
                    while pending.len() < RECORD_BATCH {
                        match done_rx.try_recv() {
                            Ok(completion) => pending.push(completion),
                            Err(_) => break,
                        }
                    }
                    if !pending.is_empty() {
                        let batch = std::mem::take(&mut pending);
                        // Once a batch could not be stored, the rest of
                        // this run's outcomes wait in memory with it: the
                        // copies were sent and must not be sent again.
                        let stored = match failure {
                            Some(_) => false,
                            None => match app.record(&batch).await {
                                Ok(()) => true,
                                Err(err) => {
                                    record_failed.store(true, Ordering::Relaxed);
                                    failure = Some(err);
                                    false
                                }
                            },
                        };
                        if stored {
                            for completion in &batch {
                                tally.count(completion);
                            }
                            crash.reach(CRASH_AFTER_RECORD, batch.len() as u64);
                        } else {
                            app.unsettled().completions.extend(batch);
                        }
                    }
                    if closed {
                        return match failure {
                            None => anyhow::Ok(tally),
                            Some(err) => Err(err.context(
                                "record how copies ended (kept in memory and stored before anything else is sent)",
                            )),
                        };
                    }
                }
            })
        };

        let claimed_result = self
            .claim_and_dispatch(&work_tx, &mut stop, only_kind, &crash, &record_failed)
            .await;
        drop(work_tx);
        for worker in workers {
            let _ = worker.await;
        }
        // Every outcome is stored or kept in memory before anything can
        // fail here: the next run's sweep must not see them as orphans.
        let recorded = recorder.await.context("the recorder stopped")?;
        // Copies claimed but never handed to a worker (a stop) go back.
        let leftover: Vec<(i64, i64)> = {
            let mut rx = work_rx.lock().await;
            let mut left = Vec::new();
            while let Ok(claimed) = rx.try_recv() {
                left.push((claimed.id, claimed.lease_gen));
            }
            left
        };
        if !leftover.is_empty() {
            let mut tx = self.store.write(self.now()).await?;
            tx.release(&leftover).await?;
            tx.commit().await?;
        }
        let mut tally = recorded?;
        tally.add(claimed_result?);
        Ok(tally)
    }

    /// Claims due copies in batches and hands them to the workers; copies
    /// that must not go (member gone, key now unusable) are settled here.
    async fn claim_and_dispatch(
        &self,
        work_tx: &mpsc::Sender<Claimed>,
        stop: &mut watch::Receiver<bool>,
        only_kind: Option<Kind>,
        crash: &CrashPoints,
        record_failed: &AtomicBool,
    ) -> Result<Tally> {
        let mut tally = Tally::default();
        loop {
            // Nothing more is claimed once outcomes cannot be stored.
            if *stop.borrow() || record_failed.load(Ordering::Relaxed) {
                break;
            }
            let now = self.now();
            let lease_until = now + self.config.delivery.lease;
            let claimed = {
                let mut tx = self.store.write(now).await?;
                let claimed = tx.claim(now, lease_until, CLAIM_BATCH, only_kind).await?;
                tx.commit().await?;
                claimed
            };
            if claimed.is_empty() {
                break;
            }
            crash.reach(CRASH_AFTER_CLAIM, 1);
            let (go, settled) = self.recheck(claimed, now).await?;
            if !settled.is_empty() {
                if let Err(err) = self.record(&settled).await {
                    self.unsettled().completions.extend(settled);
                    return Err(err);
                }
                for completion in &settled {
                    tally.count(completion);
                }
            }
            let mut go = go.into_iter();
            for claimed in go.by_ref() {
                tokio::select! {
                    sent = work_tx.send(claimed) => {
                        if sent.is_err() { break; }
                    }
                    _ = stop.changed() => {
                        break;
                    }
                }
                if *stop.borrow() {
                    break;
                }
            }
            let rest: Vec<(i64, i64)> = go.map(|c| (c.id, c.lease_gen)).collect();
            if !rest.is_empty() {
                let mut tx = self.store.write(self.now()).await?;
                tx.release(&rest).await?;
                tx.commit().await?;
                break;
            }
        }
        Ok(tally)
    }

    /// The check at the instant: is the member still active, and can
    /// their key (if it changed since sealing) still be used?
    async fn recheck(
        &self,
        claimed: Vec<Claimed>,
        now: DateTime<Utc>,
    ) -> Result<(Vec<Claimed>, Vec<Completion>)> {
        let mut go = Vec::with_capacity(claimed.len());
        let mut settled = Vec::new();
        let policy = self.cert_policy();
        for copy in claimed {
            let settle = |state, reply: String| Completion {
                id: copy.id,
                lease_gen: copy.lease_gen,
                state,
                next_attempt_at: None,
                reply,
                attempted: false,
            };
            match (&copy.member_status, copy.member_id) {
                // A pending member only ever has their confirmation mail
                // queued; a suspended or removed one gets nothing more.
                (Some(status @ (Status::Suspended | Status::Removed)), _) => {
                    settled.push(settle(
                        DeliveryState::Dropped,
                        format!("not sent: the member is {status}"),
                    ));
                    continue;
                }
                (_, Some(member))
                    if copy.cert_version_sealed.is_some()
                        && copy.cert_version_now != copy.cert_version_sealed =>
                {
                    let cert = self.store.member_cert(member).await?;
                    if let Err(reason) = crate::pgp::check_encryptable(&cert, &policy, now, now) {
                        settled.push(settle(
                            DeliveryState::Missed,
                            format!("key unusable since sealing: {reason}"),
                        ));
                        continue;
                    }
                }
                _ => {}
            }
            go.push(copy);
        }
        Ok((go, settled))
    }

    async fn record(&self, batch: &[Completion]) -> Result<()> {
        let mut tx = self.store.write(self.now()).await?;
        tx.complete(batch).await?;
        tx.commit().await?;
        Ok(())
    }
}
