//! The log file: a ring of checksummed, length-prefixed records.
//!
//! Layout: a 4 KiB header (magic, the session's log id, the ring's size,
//! a checksum), then the ring. A record lives at a *position* (bytes since
//! the session's log began); it is stored at `HEADER + position % ring`,
//! wrapping at the end of the file, and is 8-byte aligned:
//!
//! ```text
//! crc32 u32 | length u32 | position u64 | payload (length bytes) | padding
//! ```
//!
//! The checksum covers the log id, the length, the position and the
//! payload, so bytes left over from an earlier lap of the ring or from an
//! earlier session (another id) never pass for a record. The file is
//! preallocated and reused, so a group commit's `fdatasync` writes data
//! blocks only, no file-size change.
//!
//! I/O goes through [`redb::StorageBackend`] (positioned reads and writes,
//! `sync_data`), the same small trait the store file uses, so the fault
//! injection's backends wrap the log exactly as they wrap the store.

use std::path::{Path, PathBuf};

use redb::StorageBackend;

use crate::error::StoreError;

/// Bytes before the ring.
pub(crate) const HEADER: u64 = 4_096;
const MAGIC: &[u8; 12] = b"caselog-wal1";
/// Bytes of a record's frame before its payload.
const FRAME: u64 = 16;

/// Why the log could not be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    /// The file's header is not a caselog log header, or is damaged.
    #[error("not a caselog write-ahead log header: {0}")]
    BadHeader(&'static str),
    /// The log belongs to another session than the one the store names.
    #[error("the log's id {found:#x} is not the store's ({expected:#x})")]
    ForeignLog {
        /// The id in the store.
        expected: u64,
        /// The id in the log.
        found: u64,
    },
    /// A damaged record before the log's last whole record: acknowledged
    /// writes follow it, so it is not a torn tail and is not skipped.
    #[error("record at log position {position} is damaged ({detail}) and whole records follow it")]
    CorruptRecord {
        /// Its position.
        position: u64,
        /// What was wrong.
        detail: &'static str,
    },
}

/// The record area as positions map onto the file.
#[derive(Debug, Clone, Copy)]
struct Ring {
    size: u64,
}

impl Ring {
    fn offset(self, position: u64) -> u64 {
        HEADER + position % self.size
    }
}

/// An open log file.
pub(crate) struct LogFile {
    file: Box<dyn StorageBackend>,
    path: PathBuf,
    id: u64,
    ring: Ring,
    /// Where the next record goes.
    end: u64,
    /// Scratch buffer for one framed record.
    frame: Vec<u8>,
}

fn crc(id: u64, len: u32, position: u64, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&id.to_le_bytes());
    h.update(&len.to_le_bytes());
    h.update(&position.to_le_bytes());
    h.update(payload);
    h.finalize()
}

fn padded(n: u64) -> u64 {
    n.div_ceil(8) * 8
}

/// The space a record with `payload` bytes takes in the ring.
pub(crate) fn record_span(payload: usize) -> u64 {
    padded(FRAME + payload as u64)
}

impl LogFile {
    fn io(&self, action: &'static str) -> impl Fn(std::io::Error) -> StoreError + '_ {
        move |e| StoreError::Io {
            action,
            path: self.path.clone(),
            error: std::sync::Arc::new(e),
        }
    }

    /// Starts a new session in `file`: a fresh id, the header written and
    /// synced, the ring (re)sized to `ring` bytes. Whatever the file held
    /// is abandoned; the caller has replayed it already.
    pub fn create(file: Box<dyn StorageBackend>, path: &Path, ring: u64) -> Result<LogFile, StoreError> {
        let ring = ring.max(64 * 1024).div_ceil(8) * 8;
        let id = uuid::Uuid::new_v4().as_u64_pair().0 | 1;
        let log = LogFile {
            file,
            path: path.to_owned(),
            id,
            ring: Ring { size: ring },
            end: 0,
            frame: Vec::new(),
        };
        let want = HEADER + ring;
        let len = log.file.len().map_err(log.io("sizing the log"))?;
        if len != want {
            log.file.set_len(want).map_err(log.io("sizing the log"))?;
        }
        let mut header = vec![0u8; HEADER as usize];
        header[..12].copy_from_slice(MAGIC);
        header[12..20].copy_from_slice(&id.to_le_bytes());
        header[20..28].copy_from_slice(&ring.to_le_bytes());
        let sum = crc32fast::hash(&header[..28]);
        header[28..32].copy_from_slice(&sum.to_le_bytes());
        log.file.write(0, &header).map_err(log.io("writing the log header"))?;
        log.file.sync_data().map_err(log.io("syncing the log header"))?;
        Ok(log)
    }

    /// The session's id (recorded in the store with each checkpoint).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Bytes in the ring.
    pub fn ring(&self) -> u64 {
        self.ring.size
    }

    /// Where the next record goes.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// Whether a record of `payload` bytes fits without overwriting
    /// anything after `checkpoint` (records before it are in the store).
    pub fn fits(&self, checkpoint: u64, payload: usize) -> bool {
        let span = record_span(payload);
        span <= self.ring.size / 2 && self.end + span - checkpoint.min(self.end) <= self.ring.size
    }

    /// Appends one record (one positioned write, wrapped in two at the
    /// ring's end) and syncs it when `sync`. Returns the bytes written.
    pub fn append(&mut self, payload: &[u8], sync: bool) -> Result<u64, StoreError> {
        let len = u32::try_from(payload.len()).map_err(|_| StoreError::Io {
            action: "appending to the log",
            path: self.path.clone(),
            error: std::sync::Arc::new(std::io::Error::other("record too large")),
        })?;
        let span = record_span(payload.len());
        let mut frame = std::mem::take(&mut self.frame);
        frame.clear();
        frame.extend_from_slice(&crc(self.id, len, self.end, payload).to_le_bytes());
        frame.extend_from_slice(&len.to_le_bytes());
        frame.extend_from_slice(&self.end.to_le_bytes());
        frame.extend_from_slice(payload);
        frame.resize(span as usize, 0);
        let result = self.write_at(self.end, &frame);
        self.frame = frame;
        result?;
        if sync {
            self.file.sync_data().map_err(self.io("syncing the log"))?;
        }
        self.end += span;
        Ok(span)
    }

    fn write_at(&self, position: u64, bytes: &[u8]) -> Result<(), StoreError> {
        let offset = self.ring.offset(position);
        let room = (HEADER + self.ring.size - offset) as usize;
        let (first, rest) = bytes.split_at(room.min(bytes.len()));
        self.file
            .write(offset, first)
            .map_err(self.io("appending to the log"))?;
        if !rest.is_empty() {
            self.file.write(HEADER, rest).map_err(self.io("appending to the log"))?;
        }
        Ok(())
    }
}

/// The log as found at open: its id and the whole records from a position.
#[derive(Debug)]
pub(crate) struct Scanned {
    /// The session's id.
    pub id: u64,
    /// Payloads of the whole records from the start position, in order.
    pub records: Vec<Vec<u8>>,
    /// Where the whole records end (a torn tail, if any, begins here).
    pub end: u64,
}

/// Reads the header of the log in `file`: its id and ring size.
fn read_header(file: &dyn StorageBackend) -> Result<Result<(u64, Ring), LogError>, std::io::Error> {
    if file.len()? < HEADER {
        return Ok(Err(LogError::BadHeader("the file is shorter than its header")));
    }
    let mut header = [0u8; 32];
    file.read(0, &mut header)?;
    if &header[..12] != MAGIC {
        return Ok(Err(LogError::BadHeader("no log marker")));
    }
    let word = |r: std::ops::Range<usize>| header.get(r).and_then(|b| <[u8; 8]>::try_from(b).ok());
    let (Some(id), Some(ring), Some(sum)) = (
        word(12..20),
        word(20..28),
        header.get(28..32).and_then(|b| <[u8; 4]>::try_from(b).ok()),
    ) else {
        return Ok(Err(LogError::BadHeader("short header")));
    };
    if crc32fast::hash(&header[..28]) != u32::from_le_bytes(sum) {
        return Ok(Err(LogError::BadHeader("header checksum mismatch")));
    }
    let ring = u64::from_le_bytes(ring);
    if ring == 0 || ring % 8 != 0 || file.len()? < HEADER + ring {
        return Ok(Err(LogError::BadHeader("ring size does not fit the file")));
    }
    Ok(Ok((u64::from_le_bytes(id), Ring { size: ring })))
}

/// What is at one position of the ring.
enum Slot {
    /// A whole record: its payload.
    Whole(Vec<u8>),
    /// A frame naming this position whose payload fails its checksum.
    Damaged(&'static str),
    /// Nothing of this session's (never written, another lap or session,
    /// a torn frame).
    Empty,
}

fn read_slot(buf: &[u8], id: u64, position: u64, limit: u64) -> Slot {
    let size = buf.len() as u64;
    // Copies `n` bytes from `position`, wrapping at the ring's end.
    let read = |position: u64, n: usize| -> Vec<u8> {
        let offset = (position % size) as usize;
        let mut out = Vec::with_capacity(n);
        let first = buf.get(offset..).unwrap_or_default();
        out.extend_from_slice(first.get(..n).unwrap_or(first));
        if out.len() < n {
            let rest = n - out.len();
            out.extend_from_slice(buf.get(..rest).unwrap_or(buf));
        }
        out
    };
    let frame = read(position, FRAME as usize);
    let word = |r: std::ops::Range<usize>| {
        frame
            .get(r)
            .map(|b| b.iter().rev().fold(0u64, |a, &x| a << 8 | u64::from(x)))
    };
    let (Some(sum), Some(len), Some(at)) = (word(0..4), word(4..8), word(8..16)) else {
        return Slot::Empty;
    };
    if at != position {
        return Slot::Empty;
    }
    let span = record_span(len as usize);
    if span > size / 2 || position + span > limit {
        return Slot::Damaged("length beyond the log");
    }
    let payload = read(position + FRAME, len as usize);
    if u64::from(crc(id, len as u32, position, &payload)) != sum {
        return Slot::Damaged("checksum mismatch");
    }
    Slot::Whole(payload)
}

/// Reads every whole record from `from` on. A damaged or torn record ends
/// the log unless a whole record of the session follows it anywhere in
/// the rest of the ring: then it is [`LogError::CorruptRecord`].
pub(crate) fn scan(file: &dyn StorageBackend, from: u64) -> std::io::Result<Result<Scanned, LogError>> {
    let (id, ring) = match read_header(file)? {
        Ok(h) => h,
        Err(e) => return Ok(Err(e)),
    };
    let limit = from + ring.size;
    // The whole ring in memory: a torn tail is told from corruption by
    // probing every aligned position after it.
    let mut buf = vec![0u8; ring.size as usize];
    file.read(HEADER, &mut buf)?;
    let mut records = Vec::new();
    let mut at = from;
    loop {
        if at + FRAME > limit {
            break;
        }
        match read_slot(&buf, id, at, limit) {
            Slot::Whole(payload) => {
                at += record_span(payload.len());
                records.push(payload);
            }
            bad => {
                let detail = match bad {
                    Slot::Damaged(d) => d,
                    _ => "no record where one was expected",
                };
                // A tail torn by a crash is the last thing written: no
                // whole record of this session can follow it.
                let mut probe = at + 8;
                while probe + FRAME <= limit {
                    if let Slot::Whole(_) = read_slot(&buf, id, probe, limit) {
                        return Ok(Err(LogError::CorruptRecord { position: at, detail }));
                    }
                    probe += 8;
                }
                break;
            }
        }
    }
    Ok(Ok(Scanned { id, records, end: at }))
}
