//! A video's write lease: bytes of a video move only while one request holds it.
//!
//! The lease is a field of the video record, taken, renewed and released by conditional writes
//! on the record's version, so two instances can never both believe they hold it. Its holder
//! renews it every [`RENEW_EVERY`] while its bytes are being written, and stops writing (the
//! write is dropped, and fails) [`STOP_BEFORE`] before the lease would lapse if a renewal does
//! not come through. So however long a write takes (a large chunk, a slow client, S3
//! completing or copying a large object), a lapsed lease's holder has stopped writing, and the
//! next writer cannot have its bytes overwritten by a late one. After a crash the next writer
//! waits at most [`LEASE`].

use super::UseCaseError;
use crate::domain::{Clock, VideoId};
use crate::internal::{ErrorChain, InternalError};
use crate::store::{StoreError, VideoRecord, VideoStore, WriteLease};
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// How long a lease lasts from its last renewal.
pub const LEASE: Duration = Duration::from_secs(15);
/// How often a holder that is writing renews its lease.
pub const RENEW_EVERY: Duration = Duration::from_secs(3);
/// How long before its lease would lapse a holder whose renewals failed stops writing: time
/// for a request already sent to reach the store, and for clocks that differ between instances.
pub const STOP_BEFORE: Duration = Duration::from_secs(4);
/// Longest a writer waits for another's lease to be released or to lapse (within the 29 s a
/// function behind API Gateway has) before answering `video-busy`.
pub const MAX_LEASE_WAIT: Duration = Duration::from_secs(20);

/// The store and the clock a lease needs.
#[derive(Clone, Copy)]
pub(super) struct Leases<'a> {
    pub videos: &'a dyn VideoStore,
    pub clock: &'a dyn Clock,
}

/// A lease held by this request: the video as the last write of it left it, and the moment
/// (on this instance's monotonic clock) from which that write counted the lease.
pub(super) struct Held {
    pub record: VideoRecord,
    since: Instant,
}

impl Leases<'_> {
    /// `record` with a lease of `holder` running from now.
    fn leased(&self, record: &VideoRecord, holder: &str) -> VideoRecord {
        let mut leased = record.clone();
        leased.lease = Some(WriteLease {
            holder: holder.to_owned(),
            until: self.clock.now() + chrono::TimeDelta::from_std(LEASE).unwrap_or_default(),
        });
        leased.version += 1;
        leased
    }

    /// A lease for a video about to be created: `record` (version 0) with it.
    pub fn for_new(&self, record: &mut VideoRecord, holder: &str) {
        let leased = self.leased(record, holder);
        record.lease = leased.lease;
    }

    /// Takes `holder`'s lease on `record` (the video as last read) by a conditional write, or
    /// renews it when `holder` already has it (its earlier take's reply was lost, or the video
    /// was created with it). `None` when the video changed first, or when another writer held
    /// the lease: then this waited until it was released or lapsed, and the caller reads the
    /// video again.
    pub async fn take(
        &self,
        record: VideoRecord,
        holder: &str,
    ) -> Result<Option<Held>, UseCaseError> {
        if let Some(lease) = &record.lease
            && lease.holder != holder
            && lease.until > self.clock.now()
        {
            self.wait(&record.video.id, holder).await?;
            return Ok(None);
        }
        let since = Instant::now();
        let leased = self.leased(&record, holder);
        Ok(self
            .videos
            .update_video(&leased, None)
            .await?
            .then_some(Held {
                record: leased,
                since,
            }))
    }

    /// Waits, polling, until no other writer holds an unexpired lease on the video (or it is
    /// gone); [`UseCaseError::Busy`] after [`MAX_LEASE_WAIT`].
    pub async fn wait(&self, id: &VideoId, holder: &str) -> Result<(), UseCaseError> {
        let started = Instant::now();
        let mut delay = Duration::from_millis(20);
        loop {
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_millis(500));
            let Some(record) = self.videos.get_video(id).await? else {
                return Ok(());
            };
            match record.lease {
                Some(lease) if lease.holder != holder && lease.until > self.clock.now() => {
                    if started.elapsed() > MAX_LEASE_WAIT {
                        return Err(UseCaseError::Busy);
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    /// Runs `write` while renewing `held`'s lease; drops it (an error) when the lease could not
    /// be renewed in time. `held` ends as the video after the last renewal.
    pub async fn write_under<T>(
        &self,
        held: &mut Held,
        write: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, UseCaseError> {
        let current = Mutex::new((held.record.clone(), held.since));
        let renewing = async {
            let mut next = held.since + RENEW_EVERY;
            loop {
                tokio::time::sleep_until(next).await;
                let (record, since) = lock(&current).clone();
                let stop_at = since + LEASE - STOP_BEFORE;
                let started = Instant::now();
                match tokio::time::timeout_at(stop_at, self.renew(&record)).await {
                    Ok(Ok(Some(renewed))) => {
                        *lock(&current) = (renewed, started);
                        next = started + RENEW_EVERY;
                        continue;
                    }
                    Ok(Ok(None)) => {
                        // Someone else changed the video: this request no longer holds it.
                        return InternalError::new("the write lease was taken over");
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(error = %ErrorChain(&e), video = %record.video.id, "write lease not renewed; retrying");
                        next = (Instant::now() + Duration::from_millis(250)).min(stop_at);
                    }
                    Err(_) => {}
                }
                if Instant::now() >= stop_at {
                    return InternalError::new(format!(
                        "the write lease could not be renewed within {:?}: the write was stopped",
                        LEASE - STOP_BEFORE
                    ));
                }
            }
        };
        let outcome = tokio::select! {
            written = write => written.map_err(UseCaseError::from),
            stopped = renewing => Err(stopped.into()),
        };
        let (record, since) = current.into_inner().unwrap_or_else(|e| e.into_inner());
        held.record = record;
        held.since = since;
        outcome
    }

    /// `record`, which holds a lease, with it extended from now. A write whose reply was lost
    /// is recognised by reading the video back.
    async fn renew(&self, record: &VideoRecord) -> Result<Option<VideoRecord>, StoreError> {
        let Some(holder) = record.lease.as_ref().map(|l| l.holder.clone()) else {
            return Ok(None);
        };
        let renewed = self.leased(record, &holder);
        match self.videos.update_video(&renewed, None).await {
            Ok(applied) => Ok(applied.then_some(renewed)),
            Err(e) => match self.videos.get_video(&record.video.id).await {
                Ok(Some(now))
                    if now.version == renewed.version
                        && now.lease.as_ref().map(|l| &l.holder) == Some(&holder) =>
                {
                    Ok(Some(renewed))
                }
                _ => Err(e),
            },
        }
    }

    /// Gives the lease back after a failed write, so the client's retry need not wait for it to
    /// lapse. Best effort: a lease that stays held lapses anyway.
    pub async fn release(&self, held: &VideoRecord) {
        let mut released = held.clone();
        released.lease = None;
        released.version += 1;
        if let Err(e) = self.videos.update_video(&released, None).await {
            tracing::warn!(error = %ErrorChain(&e), video = %held.video.id, "write lease not released");
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
