//! Reading `--body-file` and `--attach`: never more than the limit + 1
//! byte, whatever the path names. A size from `metadata` is only a hint —
//! a FIFO, a device (`/dev/zero`), `/proc` files or standard input report
//! none or a wrong one — so the read itself is bounded (`Read::take`) and a
//! read that reaches the extra byte is refused.

use std::io::Read;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// Why an input file was refused.
#[derive(Debug, Error)]
pub enum InputError {
    /// The input holds more than the limit.
    #[error("{path} holds more than {limit} bytes, the most {what} may be")]
    TooLarge {
        /// The file (or `standard input`).
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
        /// What the bytes were for ("a message", "a PDF attachment", ...).
        what: String,
    },
    /// The input could not be read.
    #[error("reading {path}: {error}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
}

/// Reads all of `reader` if it holds at most `limit` bytes.
pub fn read_bounded(reader: impl Read, path: &Path, limit: u64, what: &str) -> Result<Vec<u8>, InputError> {
    let mut bytes = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|source| InputError::Read {
            path: path.to_owned(),
            error: source,
        })?;
    if bytes.len() as u64 > limit {
        return Err(InputError::TooLarge {
            path: path.to_owned(),
            limit,
            what: what.to_owned(),
        });
    }
    Ok(bytes)
}

/// Opens `path` and reads it if it holds at most `limit` bytes. A regular
/// file's size is checked first, so a large one is refused without being
/// read; anything else is read up to the limit + 1 byte.
pub fn read_file(path: &Path, limit: u64, what: &str) -> Result<Vec<u8>, InputError> {
    let read_err = |source| InputError::Read {
        path: path.to_owned(),
        error: source,
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let meta = file.metadata().map_err(read_err)?;
    if meta.is_dir() {
        return Err(read_err(std::io::Error::other("it is a directory")));
    }
    if meta.is_file() && meta.len() > limit {
        return Err(InputError::TooLarge {
            path: path.to_owned(),
            limit,
            what: what.to_owned(),
        });
    }
    read_bounded(file, path, limit, what)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_up_to_the_limit_and_refuses_one_byte_more() {
        let p = Path::new("input");
        assert_eq!(read_bounded(&b"abcd"[..], p, 4, "x").unwrap(), b"abcd");
        let err = read_bounded(&b"abcde"[..], p, 4, "a message").unwrap_err();
        assert!(matches!(err, InputError::TooLarge { limit: 4, .. }));
        assert_eq!(
            err.to_string(),
            "input holds more than 4 bytes, the most a message may be"
        );
    }

    #[test]
    fn an_endless_stream_is_refused_after_limit_plus_one_bytes() {
        // An endless reader that counts what was taken from it.
        struct Endless(u64);
        impl Read for Endless {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                buf.fill(0);
                self.0 += buf.len() as u64;
                Ok(buf.len())
            }
        }
        let mut src = Endless(0);
        let err = read_bounded(&mut src, Path::new("/dev/zero"), 1 << 20, "a message").unwrap_err();
        assert!(matches!(err, InputError::TooLarge { .. }));
        assert!(src.0 <= (1 << 20) + 1, "read {} bytes", src.0);
    }

    #[cfg(unix)]
    #[test]
    fn dev_zero_is_refused() {
        let zero = Path::new("/dev/zero");
        if zero.exists() {
            let err = read_file(zero, 10 << 20, "a PDF attachment").unwrap_err();
            assert!(matches!(err, InputError::TooLarge { limit, .. } if limit == 10 << 20));
        }
    }
}
