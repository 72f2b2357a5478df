//! The bytes of one chunk, received whole before they are judged: the upload rules need the
//! chunk's size and SHA-256 before a write lease is taken, so a chunk is read to its end first.
//! Small chunks stay in memory; larger ones are spooled to an unnamed file of the local
//! server's spool directory as they arrive, so a request's memory stays bounded whatever the
//! chunk size. Either way the chunk can be read again (a retry after a lost race), in pieces.
//!
//! Lambda functions receive their bodies whole (≤ 6 MB) and never spool.

use super::StoreError;
use crate::internal::InternalError;
use bytes::{Bytes, BytesMut};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Largest chunk kept in memory when a spool directory is available: larger ones go to disk.
/// With the S3 part being built from it (at most 8 MiB more, plus a staged remainder), an
/// upload request stays within 32 MiB.
pub const IN_MEMORY_BYTES: usize = 16 * 1024 * 1024;

/// The bytes of one received chunk, with their size and SHA-256. Cheap to clone.
#[derive(Clone)]
pub struct ChunkData {
    len: u64,
    sha256: String,
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    /// The pieces as they arrived (a body's frames), in order: never joined into one copy.
    Memory(Arc<Vec<Bytes>>),
    Spooled(Arc<Mutex<File>>),
}

impl std::fmt::Debug for ChunkData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkData")
            .field("len", &self.len)
            .field("sha256", &self.sha256)
            .field(
                "spooled",
                &matches!(self.inner, Inner::Spooled(_)).to_string(),
            )
            .finish()
    }
}

impl From<Bytes> for ChunkData {
    fn from(bytes: Bytes) -> Self {
        Self {
            len: bytes.len() as u64,
            sha256: hex(&Sha256::digest(&bytes)),
            inner: Inner::Memory(Arc::new(vec![bytes])),
        }
    }
}

impl From<&'static [u8]> for ChunkData {
    fn from(bytes: &'static [u8]) -> Self {
        Bytes::from_static(bytes).into()
    }
}

impl From<Vec<u8>> for ChunkData {
    fn from(bytes: Vec<u8>) -> Self {
        Bytes::from(bytes).into()
    }
}

impl ChunkData {
    /// Its size in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether it has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Hex SHA-256 of its bytes.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// Whether its bytes are on disk rather than in memory.
    pub fn is_spooled(&self) -> bool {
        matches!(self.inner, Inner::Spooled(_))
    }

    /// `len` bytes from offset `from` (within the chunk): a view of the memory, or read from the
    /// spool file.
    pub async fn read(&self, from: u64, len: usize) -> Result<Bytes, StoreError> {
        let end = from.checked_add(len as u64).filter(|&end| end <= self.len);
        if end.is_none() {
            return Err(InternalError::new(format!(
                "read of {len} bytes at {from} past a chunk of {} bytes",
                self.len
            ))
            .into());
        }
        match &self.inner {
            Inner::Memory(pieces) => Ok(gather(pieces, from as usize, len)),
            Inner::Spooled(file) => {
                let file = Arc::clone(file);
                tokio::task::spawn_blocking(move || {
                    let mut file = lock(&file);
                    file.seek(SeekFrom::Start(from))?;
                    let mut buffer = BytesMut::zeroed(len);
                    file.read_exact(&mut buffer)?;
                    Ok::<_, std::io::Error>(buffer.freeze())
                })
                .await
                .map_err(StoreError::backend)?
                .map_err(StoreError::backend)
            }
        }
    }

    /// Writes all its bytes to `dest` at `dest`'s position. Blocking: for blocking tasks. A
    /// spooled chunk is copied file to file (by the kernel where it can).
    pub fn write_into(&self, dest: &mut File) -> std::io::Result<()> {
        match &self.inner {
            Inner::Memory(pieces) => pieces.iter().try_for_each(|piece| dest.write_all(piece)),
            Inner::Spooled(file) => {
                let mut file = lock(file);
                file.seek(SeekFrom::Start(0))?;
                let copied = std::io::copy(&mut (&*file).take(self.len), dest)?;
                if copied != self.len {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        format!("spooled chunk: {copied} of {} bytes", self.len),
                    ));
                }
                Ok(())
            }
        }
    }
}

/// `len` bytes from `from` of `pieces` (within bounds): a view of one piece when the range lies
/// in one, else one copy.
fn gather(pieces: &[Bytes], from: usize, len: usize) -> Bytes {
    let mut start = 0;
    let mut out: Option<BytesMut> = None;
    let end = from + len;
    for piece in pieces {
        let piece_end = start + piece.len();
        if piece_end > from && start < end {
            let a = from.max(start) - start;
            let b = end.min(piece_end) - start;
            // The first piece the range meets holds its start: if it holds its end too, a view.
            if out.is_none() && end <= piece_end {
                return piece.slice(a..b);
            }
            out.get_or_insert_with(|| BytesMut::with_capacity(len))
                .extend_from_slice(&piece[a..b]);
        }
        if piece_end >= end {
            break;
        }
        start = piece_end;
    }
    out.map_or_else(Bytes::new, BytesMut::freeze)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Gathers a chunk's bytes as they arrive, hashing them on the way: in memory up to
/// [`IN_MEMORY_BYTES`], then (with a spool directory) in an unnamed file there.
pub struct Spool {
    dir: Option<PathBuf>,
    pieces: Vec<Bytes>,
    buffered: usize,
    file: Option<File>,
    hasher: Sha256,
    len: u64,
}

impl Spool {
    /// A spool that writes to `dir` past [`IN_MEMORY_BYTES`], or keeps everything in memory
    /// without one (bodies whose size is bounded elsewhere, as Lambda's are).
    pub fn new(dir: Option<&Path>) -> Self {
        Self {
            dir: dir.map(Path::to_owned),
            pieces: Vec::new(),
            buffered: 0,
            file: None,
            hasher: Sha256::new(),
            len: 0,
        }
    }

    /// Bytes gathered so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was gathered yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds the next bytes.
    pub async fn push(&mut self, bytes: Bytes) -> Result<(), StoreError> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.hasher.update(&bytes);
        self.len += bytes.len() as u64;
        self.buffered += bytes.len();
        self.pieces.push(bytes);
        let spill = match (&self.dir, &self.file) {
            (_, Some(_)) => self.buffered >= SPOOL_WRITE_BYTES,
            (Some(_), None) => self.buffered > IN_MEMORY_BYTES,
            (None, None) => false,
        };
        if spill {
            self.spill().await?;
        }
        Ok(())
    }

    /// Writes the pieces held in memory to the spool file (created on first use).
    async fn spill(&mut self) -> Result<(), StoreError> {
        let pieces = std::mem::take(&mut self.pieces);
        self.buffered = 0;
        let file = self.file.take();
        let dir = self.dir.clone();
        let file = tokio::task::spawn_blocking(move || {
            let mut file = match file {
                Some(file) => file,
                None => unnamed_file(dir.as_deref())?,
            };
            for piece in &pieces {
                file.write_all(piece)?;
            }
            Ok::<_, std::io::Error>(file)
        })
        .await
        .map_err(StoreError::backend)?
        .map_err(StoreError::backend)?;
        self.file = Some(file);
        Ok(())
    }

    /// The whole chunk.
    pub async fn finish(mut self) -> Result<ChunkData, StoreError> {
        let sha256 = hex(&std::mem::take(&mut self.hasher).finalize());
        let len = self.len;
        if self.file.is_some() {
            self.spill().await?;
        }
        let inner = match self.file.take() {
            Some(file) => Inner::Spooled(Arc::new(Mutex::new(file))),
            None => Inner::Memory(Arc::new(std::mem::take(&mut self.pieces))),
        };
        Ok(ChunkData { len, sha256, inner })
    }
}

/// Bytes written to the spool file at a time.
const SPOOL_WRITE_BYTES: usize = 1024 * 1024;

/// A new file in `dir` that no name refers to once opened (removed at once): nothing is left
/// behind when the request ends, whatever way it ends. Mode 0600.
fn unnamed_file(dir: Option<&Path>) -> std::io::Result<File> {
    let dir = dir.ok_or_else(|| std::io::Error::other("no spool directory"))?;
    let path = dir.join(format!(
        "chunk-{}.spool",
        crate::domain::random_alphanumeric(20)
    ));
    let file = super::private::private_file_options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;
    std::fs::remove_file(&path)?;
    Ok(file)
}

/// Removes what a crash may have left in a spool directory (a file opened but not yet
/// unlinked), and creates the directory (0700) if missing.
pub fn prepare_spool_dir(dir: &Path) -> std::io::Result<()> {
    super::private::create_private_dir(dir)?;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().ends_with(".spool") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(())
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 % 251) as u8).collect()
    }

    async fn gather(dir: Option<&Path>, bytes: &[u8], piece: usize) -> ChunkData {
        let mut spool = Spool::new(dir);
        for p in bytes.chunks(piece) {
            spool.push(Bytes::copy_from_slice(p)).await.expect("push");
        }
        spool.finish().await.expect("finish")
    }

    #[tokio::test]
    async fn small_chunks_stay_in_memory_and_hash_like_a_whole_read() {
        let bytes = data(100_000);
        let chunk = gather(None, &bytes, 777).await;
        assert!(!chunk.is_spooled());
        assert_eq!(chunk.len(), 100_000);
        assert_eq!(chunk.sha256(), hex(&Sha256::digest(&bytes)));
        assert_eq!(ChunkData::from(bytes.clone()).sha256(), chunk.sha256());
        for (from, len) in [
            (10, 20),
            (770, 20),
            (0, 100_000),
            (99_999, 1),
            (776, 1),
            (777, 777),
        ] {
            assert_eq!(
                &chunk.read(from, len).await.expect("read")[..],
                &bytes[from as usize..from as usize + len],
                "{from}+{len}"
            );
        }
        let mut out = tempfile::tempfile().expect("tempfile");
        chunk.write_into(&mut out).expect("written");
        out.seek(SeekFrom::Start(0)).expect("seek");
        let mut back = Vec::new();
        out.read_to_end(&mut back).expect("read");
        assert!(back == bytes);
    }

    #[tokio::test]
    async fn large_chunks_go_to_an_unnamed_file_and_read_back_whole_and_in_ranges() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bytes = data(IN_MEMORY_BYTES + 3 * SPOOL_WRITE_BYTES + 5);
        let chunk = gather(Some(dir.path()), &bytes, 64 * 1024 + 3).await;
        assert!(chunk.is_spooled());
        assert_eq!(chunk.len(), bytes.len() as u64);
        assert_eq!(chunk.sha256(), hex(&Sha256::digest(&bytes)));
        assert_eq!(
            std::fs::read_dir(dir.path()).expect("dir").count(),
            0,
            "the spool file has no name"
        );
        let at = IN_MEMORY_BYTES as u64 - 10;
        assert_eq!(
            &chunk.read(at, 1000).await.expect("read")[..],
            &bytes[at as usize..at as usize + 1000]
        );
        // Twice, as a retry reads it again.
        for _ in 0..2 {
            let mut out = tempfile::tempfile().expect("tempfile");
            chunk.write_into(&mut out).expect("copied");
            out.seek(SeekFrom::Start(0)).expect("seek");
            let mut back = Vec::new();
            out.read_to_end(&mut back).expect("read");
            assert!(back == bytes, "copied byte for byte");
        }
        assert!(chunk.read(bytes.len() as u64 - 1, 2).await.is_err());
    }

    #[test]
    fn leftovers_of_a_crash_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("chunk-x.spool"), b"x").expect("write");
        std::fs::write(dir.path().join("keep"), b"x").expect("write");
        prepare_spool_dir(dir.path()).expect("prepared");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("keep")]);
    }
}
