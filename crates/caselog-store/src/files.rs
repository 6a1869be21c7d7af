//! The file-system steps that must be durable, written once: a finished
//! file installed whole by a rename, and a directory whose entries
//! (creations, renames, removals) are synced. The store's creation, the
//! backup and the index's swap use these, so they cannot drift apart.

use std::path::Path;

use crate::error::{io, Result};

/// Makes the creations, renames and removals of `dir`'s entries durable.
/// (Only Unix can sync a directory; elsewhere this does nothing.)
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("syncing a directory", dir))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Moves the finished file `tmp` to `dest` so that `dest` is never seen
/// half-written: `tmp` is synced, renamed over `dest`, and the directory
/// synced, after which the new file is what a crash leaves.
pub(crate) fn install(tmp: &Path, dest: &Path) -> Result<()> {
    std::fs::File::open(tmp)
        .and_then(|f| f.sync_all())
        .map_err(io("syncing a new file", tmp))?;
    std::fs::rename(tmp, dest).map_err(io("moving a new file into place", dest))?;
    sync_dir(dest.parent().unwrap_or(Path::new(".")))
}
