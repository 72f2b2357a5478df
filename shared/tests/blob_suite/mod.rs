//! One behavioural suite for every `BlobStore` adapter. A test file implements [`Harness`] for
//! its adapter (how to read a completed blob back, what is left in the backend) and expands
//! `blob_suite!(setup)`, where `setup` is an `async fn() -> Option<H>` (`None`: the backend is
//! not available here, the test is skipped).
//!
//! Data is pseudo-random (an LCG), never zeros, so misordered or misplaced bytes are caught.

use bytes::Bytes;
use std::future::Future;
use upload_tokens_core::store::blob::{BlobProgress, BlobStore, MIN_PART_BYTES};
use upload_tokens_core::store::chunk_data::{ChunkData, Spool};

/// One mebibyte.
pub const MIB: usize = 1024 * 1024;

/// A store under test and a view of its backend.
pub trait Harness: Send + Sync {
    /// The adapter under test.
    type Store: BlobStore;

    /// Whether the adapter stages remainders and reports them in `BlobProgress::staged` (and
    /// counts parts in `BlobProgress::parts`), or just counts bytes written.
    const STAGES: bool;

    /// The adapter.
    fn store(&self) -> &Self::Store;

    /// The completed blob under `key`, read back from the backend itself.
    fn read(&self, key: &str) -> impl Future<Output = Vec<u8>> + Send;

    /// Everything the backend holds for `key` or under it as a prefix: objects, files,
    /// unfinished multipart uploads.
    fn leftovers(&self, key: &str) -> impl Future<Output = Vec<String>> + Send;

    /// Whether the staged remainder `progress` refers to exists; `None` if the adapter does
    /// not stage remainders.
    fn staged_exists(
        &self,
        key: &str,
        progress: &BlobProgress,
    ) -> impl Future<Output = Option<bool>> + Send;

    /// The sizes of the parts the completed blob under `key` was assembled from, in order, as
    /// the backend reports them; `None` if the backend has no parts.
    fn part_sizes(&self, key: &str) -> impl Future<Output = Option<Vec<u64>>> + Send;

    /// Checks what `download_url` returned for the completed blob holding `expected`.
    fn check_download_url(
        &self,
        key: &str,
        url: Option<String>,
        expected: &[u8],
    ) -> impl Future<Output = ()> + Send;
}

/// `len` deterministic pseudo-random bytes; `seed` tells blobs apart.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 56) as u8
        })
        .collect()
}

/// Whether `h`'s adapter stages remainders ([`Harness::STAGES`]).
pub fn stages<H: Harness>(_h: &H) -> bool {
    H::STAGES
}

/// Asserts two blobs are equal without printing megabytes.
pub fn assert_same(actual: &[u8], expected: &[u8]) {
    assert_eq!(actual.len(), expected.len(), "blob length");
    if let Some(at) = actual.iter().zip(expected).position(|(a, b)| a != b) {
        panic!("blobs differ from byte {at} on");
    }
}

/// Checks the invariants of a progress returned after appending `written` bytes in all. Part
/// sizes are not in the progress (only their ETags); that every part but the last holds at
/// least `MIN_PART_BYTES` shows as `parts × MIN ≤ bytes in parts`, and S3 itself (moto too)
/// refuses to complete an upload with a smaller non-final part.
pub fn check_progress(stages: bool, progress: &BlobProgress, written: u64, completed: bool) {
    assert_eq!(progress.written, written, "written");
    assert_eq!(progress.completed, completed, "completed");
    if !stages {
        assert_eq!(progress.staged, 0, "no staging");
        assert!(progress.parts.is_empty(), "no parts");
        return;
    }
    let parts = progress.parts.len() as u64;
    if completed {
        assert_eq!(progress.staged, 0, "nothing staged once complete");
        assert!(
            parts.saturating_sub(1) * MIN_PART_BYTES <= written,
            "{parts} parts cannot hold only {written} bytes with full parts"
        );
    } else {
        assert!(
            progress.staged < MIN_PART_BYTES,
            "staged remainder below a part"
        );
        assert!(
            parts * MIN_PART_BYTES <= written - progress.staged,
            "every part so far is full"
        );
    }
    assert_eq!(
        progress.upload_id.is_some(),
        !progress.parts.is_empty(),
        "an upload id exactly when there are parts"
    );
}

/// Appends `blob` in chunks of `sizes` as the upload handler does (append, commit, release),
/// checking every progress; with `lost`, every append is first made once and thrown away, as
/// when its progress loses the conditional write to a concurrent writer. Returns the final
/// progress.
pub async fn upload<H: Harness>(
    h: &H,
    key: &str,
    blob: &[u8],
    sizes: &[usize],
    lost: bool,
) -> BlobProgress {
    assert_eq!(sizes.iter().sum::<usize>(), blob.len(), "chunk sizes");
    let mut progress = BlobProgress::default();
    let mut offset = 0;
    for (i, &size) in sizes.iter().enumerate() {
        let last = i + 1 == sizes.len();
        let chunk = chunk_data(&blob[offset..offset + size]).await;
        if lost && !last {
            h.store()
                .append(key, &progress, &chunk, last)
                .await
                .expect("lost append");
        }
        let next = h
            .store()
            .append(key, &progress, &chunk, last)
            .await
            .expect("append");
        offset += size;
        check_progress(H::STAGES, &next, offset as u64, last);
        h.store()
            .release(key, &progress, &next)
            .await
            .expect("release");
        assert_ne!(
            h.staged_exists(key, &progress).await,
            Some(true),
            "the old staged remainder is released"
        );
        if let Some(exists) = h.staged_exists(key, &next).await {
            assert_eq!(
                exists,
                next.staged > 0,
                "the current staged remainder is kept"
            );
        }
        progress = next;
    }
    progress
}

/// `bytes` as the upload handlers gather a chunk: through a [`Spool`], in 64 KiB pieces, so a
/// chunk over 8 MiB is read back from an unnamed spool file.
pub async fn chunk_data(bytes: &[u8]) -> ChunkData {
    let dir = tempfile::tempdir().expect("spool dir");
    let mut spool = Spool::new(Some(dir.path()));
    for piece in bytes.chunks(64 * 1024) {
        spool
            .push(Bytes::copy_from_slice(piece))
            .await
            .expect("spooled");
    }
    spool.finish().await.expect("spooled")
}

/// Uploads `blob` in chunks of `sizes` and checks what is read back.
pub async fn round_trip<H: Harness>(
    h: &H,
    key: &str,
    blob: &[u8],
    sizes: &[usize],
    lost: bool,
) -> BlobProgress {
    let progress = upload(h, key, blob, sizes, lost).await;
    assert_same(&h.read(key).await, blob);
    if let Some(parts) = h.part_sizes(key).await {
        check_part_sizes(&parts, &progress, blob.len());
    }
    // (A lost append may have started a multipart upload of its own: abandoned, it is left to
    // the bucket's lifecycle rule.)
    if !lost {
        assert_eq!(
            h.leftovers(key).await,
            vec![key.to_owned()],
            "only the blob itself is left"
        );
    }
    progress
}

/// Checks the part sizes the backend reports for a completed blob of `len` bytes: as many as
/// the progress counts, none but the last below `MIN_PART_BYTES`, adding up to the blob.
pub fn check_part_sizes(parts: &[u64], progress: &BlobProgress, len: usize) {
    if progress.parts.is_empty() {
        // A single PutObject: one part, or none reported.
        assert!(parts.len() <= 1, "a single put has no parts: {parts:?}");
        return;
    }
    assert_eq!(parts.len(), progress.parts.len(), "parts: {parts:?}");
    assert_eq!(parts.iter().sum::<u64>(), len as u64, "parts: {parts:?}");
    if let Some((_, full)) = parts.split_last() {
        assert!(
            full.iter().all(|&size| size >= MIN_PART_BYTES),
            "a part but the last is below the minimum: {parts:?}"
        );
    }
}

/// `n` chunks of `size` bytes then one of `rest` (if not 0).
pub fn chunks(n: usize, size: usize, rest: usize) -> Vec<usize> {
    let mut sizes = vec![size; n];
    if rest > 0 {
        sizes.push(rest);
    }
    sizes
}

/// Expands to one `#[tokio::test]` per behaviour of the blob store `setup` returns.
#[macro_export]
macro_rules! blob_suite {
    ($setup:path) => {
        mod suite {
            // Not every adapter's test file uses every import.
            #![allow(unused_imports)]
            use super::*;
            use bytes::Bytes;
            use std::time::Duration;
            use upload_tokens_core::store::blob::{BlobProgress, BlobStore as _, MIN_PART_BYTES};
            use $crate::blob_suite::{
                Harness as _, MIB, chunk_data, chunks, data, round_trip, upload,
            };

            #[tokio::test]
            async fn one_shot_small_blob() {
                let Some(h) = $setup().await else { return };
                let blob = data(1000, 1);
                let progress = round_trip(&h, "videos/vi1", &blob, &[blob.len()], false).await;
                assert!(
                    progress.parts.is_empty(),
                    "no multipart upload for one chunk"
                );
            }

            #[tokio::test]
            async fn twelve_mib_in_five_mib_chunks() {
                let Some(h) = $setup().await else { return };
                let blob = data(12 * MIB, 2);
                let progress =
                    round_trip(&h, "videos/vi2", &blob, &chunks(2, 5 * MIB, 2 * MIB), false).await;
                if $crate::blob_suite::stages(&h) {
                    assert_eq!(progress.parts.len(), 3, "5 + 5 + 2 MiB");
                }
                if let Some(sizes) = h.part_sizes("videos/vi2").await {
                    let mib = MIB as u64;
                    assert_eq!(sizes, [5 * mib, 5 * mib, 2 * mib]);
                }
            }

            #[tokio::test]
            async fn small_chunks_are_staged_into_full_parts() {
                let Some(h) = $setup().await else { return };
                let blob = data(11 * MIB + 123, 3);
                let progress =
                    round_trip(&h, "videos/vi3", &blob, &chunks(11, MIB, 123), false).await;
                if $crate::blob_suite::stages(&h) {
                    // 5 MiB, 5 MiB, then the last 1 MiB + 123 B.
                    assert_eq!(progress.parts.len(), 3, "two full parts and the rest");
                }
                if let Some(sizes) = h.part_sizes("videos/vi3").await {
                    let mib = MIB as u64;
                    assert_eq!(sizes, [5 * mib, 5 * mib, mib + 123]);
                }
            }

            #[tokio::test]
            async fn one_byte_chunks_then_large_ones() {
                let Some(h) = $setup().await else { return };
                let blob = data(9 * MIB + 2, 4);
                round_trip(&h, "videos/vi4", &blob, &[1, 1, 6 * MIB, 3 * MIB], false).await;
                let blob = data(7 * MIB + 1, 5);
                round_trip(&h, "videos/vi5", &blob, &[1, 7 * MIB], false).await;
            }

            #[tokio::test]
            async fn large_spooled_chunks_are_cut_into_bounded_parts() {
                let Some(h) = $setup().await else { return };
                // 3 MiB staged, then 37 MiB from a spool file (with the staged bytes before it:
                // five 8 MiB parts), then a last chunk of 20 MiB (8 + 12 MiB).
                let blob = data(60 * MIB, 17);
                let key = "videos/vi17";
                let progress =
                    round_trip(&h, key, &blob, &[3 * MIB, 37 * MIB, 20 * MIB], false).await;
                if let Some(sizes) = h.part_sizes(key).await {
                    let mib = MIB as u64;
                    assert_eq!(
                        sizes,
                        [
                            8 * mib,
                            8 * mib,
                            8 * mib,
                            8 * mib,
                            8 * mib,
                            8 * mib,
                            12 * mib
                        ]
                    );
                    assert_eq!(progress.parts.len(), 7);
                }
                // The same, every append made twice (the first thrown away, as a lost race).
                let key = "videos/vi18";
                round_trip(&h, key, &blob, &[3 * MIB, 37 * MIB, 20 * MIB], true).await;
                // A whole file in one spooled request: parts, not one PutObject of 30 MiB.
                let key = "videos/vi19";
                let blob = data(30 * MIB + 5, 18);
                round_trip(&h, key, &blob, &[blob.len()], false).await;
                if let Some(sizes) = h.part_sizes(key).await {
                    let mib = MIB as u64;
                    assert_eq!(sizes, [8 * mib, 8 * mib, 14 * mib + 5]);
                }
            }

            #[tokio::test]
            async fn lost_appends_leave_the_committed_progress_intact() {
                let Some(h) = $setup().await else { return };
                // Every append is made twice from the same progress, the first result thrown
                // away: through staging, part creation, and the multipart upload's creation.
                let blob = data(11 * MIB + 123, 6);
                round_trip(&h, "videos/vi6", &blob, &chunks(11, MIB, 123), true).await;
                let blob = data(12 * MIB, 7);
                round_trip(&h, "videos/vi7", &blob, &chunks(2, 5 * MIB, 2 * MIB), true).await;
            }

            #[tokio::test]
            async fn a_lost_longer_append_does_not_leak_into_the_blob() {
                let Some(h) = $setup().await else { return };
                let key = "videos/vi8";
                let blob = data(3 * MIB, 8);
                let other = data(4 * MIB, 9);
                let p1 = h
                    .store()
                    .append(
                        key,
                        &BlobProgress::default(),
                        &ChunkData::from(Bytes::copy_from_slice(&blob[..MIB])),
                        false,
                    )
                    .await
                    .expect("append 1");
                // A concurrent writer appends more (other bytes) from p1 and loses the race.
                h.store()
                    .append(key, &p1, &ChunkData::from(Bytes::from(other)), false)
                    .await
                    .expect("lost append");
                let p2 = h
                    .store()
                    .append(
                        key,
                        &p1,
                        &ChunkData::from(Bytes::copy_from_slice(&blob[MIB..])),
                        true,
                    )
                    .await
                    .expect("append");
                $crate::blob_suite::check_progress(
                    $crate::blob_suite::stages(&h),
                    &p2,
                    blob.len() as u64,
                    true,
                );
                h.store().release(key, &p1, &p2).await.expect("release");
                $crate::blob_suite::assert_same(&h.read(key).await, &blob);
            }

            #[tokio::test]
            async fn release_removes_the_old_staged_remainder_only() {
                let Some(h) = $setup().await else { return };
                let key = "videos/vi9";
                let blob = data(2 * MIB + 10, 10);
                let p0 = BlobProgress::default();
                let p1 = h
                    .store()
                    .append(
                        key,
                        &p0,
                        &ChunkData::from(Bytes::copy_from_slice(&blob[..MIB])),
                        false,
                    )
                    .await
                    .expect("append 1");
                let p2 = h
                    .store()
                    .append(
                        key,
                        &p1,
                        &ChunkData::from(Bytes::copy_from_slice(&blob[MIB..2 * MIB])),
                        false,
                    )
                    .await
                    .expect("append 2");
                if h.staged_exists(key, &p1).await.is_some() {
                    assert_eq!(
                        h.staged_exists(key, &p1).await,
                        Some(true),
                        "not released yet"
                    );
                    assert_eq!(h.staged_exists(key, &p2).await, Some(true), "staged");
                }
                h.store().release(key, &p1, &p2).await.expect("release");
                // Releasing again, or with nothing replaced, is harmless.
                h.store()
                    .release(key, &p1, &p2)
                    .await
                    .expect("release again");
                h.store()
                    .release(key, &p2, &p2)
                    .await
                    .expect("release current");
                if h.staged_exists(key, &p1).await.is_some() {
                    assert_eq!(h.staged_exists(key, &p1).await, Some(false), "old released");
                    assert_eq!(h.staged_exists(key, &p2).await, Some(true), "current kept");
                }
                let p3 = h
                    .store()
                    .append(
                        key,
                        &p2,
                        &ChunkData::from(Bytes::copy_from_slice(&blob[2 * MIB..])),
                        true,
                    )
                    .await
                    .expect("append 3");
                h.store().release(key, &p2, &p3).await.expect("release 3");
                $crate::blob_suite::assert_same(&h.read(key).await, &blob);
                assert_eq!(h.leftovers(key).await, vec![key.to_owned()]);
            }

            #[tokio::test]
            async fn remove_an_upload_in_progress() {
                let Some(h) = $setup().await else { return };
                let key = "videos/vi10";
                let blob = data(6 * MIB + 5, 11);
                // One full part, then a staged remainder; not completed.
                let mut progress = BlobProgress::default();
                let mut offset = 0;
                for size in [6 * MIB, 5] {
                    let chunk = chunk_data(&blob[offset..offset + size]).await;
                    let next = h
                        .store()
                        .append(key, &progress, &ChunkData::from(chunk), false)
                        .await
                        .expect("append");
                    h.store()
                        .release(key, &progress, &next)
                        .await
                        .expect("release");
                    offset += size;
                    progress = next;
                }
                assert!(!progress.completed);
                assert!(!h.leftovers(key).await.is_empty(), "something was stored");
                h.store().remove(key, &progress).await.expect("remove");
                assert_eq!(h.leftovers(key).await, Vec::<String>::new(), "nothing left");
                h.store()
                    .remove(key, &progress)
                    .await
                    .expect("remove again");
                assert_eq!(
                    h.leftovers(key).await,
                    Vec::<String>::new(),
                    "still nothing"
                );
            }

            #[tokio::test]
            async fn remove_a_completed_blob() {
                let Some(h) = $setup().await else { return };
                // Completed by a multipart upload, then by a single put.
                for (key, sizes, seed) in [
                    ("videos/vi12", vec![5 * MIB, MIB], 13),
                    ("videos/vi13", vec![100, 100], 14),
                ] {
                    let blob = data(sizes.iter().sum(), seed);
                    let progress = round_trip(&h, key, &blob, &sizes, false).await;
                    h.store().remove(key, &progress).await.expect("remove");
                    assert_eq!(h.leftovers(key).await, Vec::<String>::new(), "nothing left");
                    h.store()
                        .remove(key, &progress)
                        .await
                        .expect("remove again");
                }
                // Never stored at all: nothing to do, not an error.
                h.store()
                    .remove("videos/vi14", &BlobProgress::default())
                    .await
                    .expect("remove unknown");
            }

            #[tokio::test]
            async fn appending_to_a_completed_blob_is_refused() {
                let Some(h) = $setup().await else { return };
                let key = "videos/vi15";
                let blob = data(10, 15);
                let progress = round_trip(&h, key, &blob, &[10], false).await;
                let err = h
                    .store()
                    .append(
                        key,
                        &progress,
                        &ChunkData::from(Bytes::from_static(b"more")),
                        true,
                    )
                    .await;
                assert!(err.is_err(), "append after completion");
                $crate::blob_suite::assert_same(&h.read(key).await, &blob);
            }

            #[tokio::test]
            async fn download_url_of_a_completed_blob() {
                let Some(h) = $setup().await else { return };
                let key = "videos/vi16";
                let blob = data(MIB + 7, 16);
                round_trip(&h, key, &blob, &[MIB, 7], false).await;
                let url = h
                    .store()
                    .download_url(key, Duration::from_secs(600))
                    .await
                    .expect("download url");
                h.check_download_url(key, url, &blob).await;
            }

            // The suite's constants stay in step with the trait's.
            const _: () = assert!(MIN_PART_BYTES == 5 * MIB as u64);
        }
    };
}
