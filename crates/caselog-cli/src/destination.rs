//! Where an export is written: `--out FILE` checked, then the export
//! written to a temporary file beside it and renamed into place.
//!
//! SPEC.md: an export never replaces anything but a regular file. So:
//! - a path that does not exist gets a new file, readable by its owner
//!   only (0600: an export holds every case of a scope);
//! - an existing regular file is replaced only with `--force`, and the new
//!   file keeps its permissions (and, where allowed, its owner and group);
//! - a directory, FIFO, socket or device node is refused;
//! - a symbolic link is refused, not followed: replacing it would turn the
//!   link into a regular file, and following it would let whoever can plant
//!   a link in a shared directory aim an export (with `--force`) at any
//!   file the operator may write. Links in the directories leading to the
//!   file are followed as usual.
//!
//! The temporary file is synced before the rename and the directory after
//! it, so a crash leaves the old file or the complete new one. The check is
//! repeated just before the rename: a new file is moved in only if the name
//! is still free (no replace), an existing one only if it is still the same
//! regular file.

use std::fs::{File, Metadata};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;
use thiserror::Error;

/// Why `--out` was refused.
#[derive(Debug, Error)]
pub enum DestinationError {
    /// A regular file is there and `--force` was not given.
    #[error("{0} already exists; pass --force to replace it")]
    Exists(PathBuf),
    /// Something other than a regular file is there.
    #[error("{path} is {kind}; an export replaces only a regular file")]
    NotRegular {
        /// The path.
        path: PathBuf,
        /// What is there ("a directory", "a FIFO", ...).
        kind: &'static str,
    },
    /// The path is a symbolic link.
    #[error("{0} is a symbolic link; an export does not follow links: give the path of the file itself")]
    Symlink(PathBuf),
    /// What is at the path changed while the export ran.
    #[error("{0} changed while the export ran (another file was put there); nothing was replaced")]
    Changed(PathBuf),
}

/// What is at a path, as far as an export cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    Nothing,
    Regular(FileId),
}

/// Identity and access bits of an existing regular file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId {
    dev: u64,
    ino: u64,
    mode: u32,
    uid: u32,
    gid: u32,
}

#[cfg(unix)]
fn file_id(m: &Metadata) -> FileId {
    use std::os::unix::fs::MetadataExt;
    FileId {
        dev: m.dev(),
        ino: m.ino(),
        mode: m.mode() & 0o7777,
        uid: m.uid(),
        gid: m.gid(),
    }
}

#[cfg(not(unix))]
fn file_id(_: &Metadata) -> FileId {
    FileId {
        dev: 0,
        ino: 0,
        mode: 0o600,
        uid: 0,
        gid: 0,
    }
}

fn kind_of(m: &Metadata) -> &'static str {
    let t = m.file_type();
    if t.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_socket() {
            return "a socket";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device node";
        }
    }
    "not a regular file"
}

/// Looks at `path` without following a final symbolic link.
fn inspect(path: &Path) -> anyhow::Result<Found> {
    let m = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Found::Nothing),
        Err(e) => return Err(anyhow::Error::new(e).context(format!("inspecting {}", path.display()))),
    };
    if m.file_type().is_symlink() {
        return Err(DestinationError::Symlink(path.to_owned()).into());
    }
    if !m.file_type().is_file() {
        return Err(DestinationError::NotRegular {
            path: path.to_owned(),
            kind: kind_of(&m),
        }
        .into());
    }
    Ok(Found::Regular(file_id(&m)))
}

/// A checked `--out` path.
#[derive(Debug)]
pub struct Destination {
    path: PathBuf,
    dir: PathBuf,
    found: Found,
}

impl Destination {
    /// Checks `path` as the module says; `force` allows replacing a
    /// regular file.
    pub fn check(path: &Path, force: bool) -> anyhow::Result<Destination> {
        let found = inspect(path)?;
        if matches!(found, Found::Regular(_)) && !force {
            return Err(DestinationError::Exists(path.to_owned()).into());
        }
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        Ok(Destination {
            path: path.to_owned(),
            dir,
            found,
        })
    }

    /// A new temporary file in the destination's directory, with the
    /// permissions the finished file must have.
    pub fn temp_file(&self) -> anyhow::Result<NamedTempFile> {
        use anyhow::Context;
        let mut builder = tempfile::Builder::new();
        builder.prefix(".caselog-export");
        #[cfg(unix)]
        {
            let mode = match self.found {
                Found::Regular(id) => id.mode,
                Found::Nothing => 0o600,
            };
            builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(mode));
        }
        let tmp = builder
            .tempfile_in(&self.dir)
            .with_context(|| format!("creating a file in {}", self.dir.display()))?;
        #[cfg(unix)]
        if let Found::Regular(id) = self.found {
            use std::os::unix::fs::PermissionsExt;
            // The mode given at creation passes through the umask; set it
            // exactly. The owner is kept where the process may (as root,
            // or for the group when it is one of ours); otherwise the file
            // is ours, as any file we write.
            let file = tmp.as_file();
            file.set_permissions(std::fs::Permissions::from_mode(id.mode))
                .with_context(|| format!("setting the permissions of {}", tmp.path().display()))?;
            let _ = std::os::unix::fs::fchown(file, Some(id.uid), Some(id.gid));
            // chown clears set-id bits; put them back if they were set.
            let _ = file.set_permissions(std::fs::Permissions::from_mode(id.mode));
        }
        Ok(tmp)
    }

    /// Syncs the finished temporary file and moves it into place.
    pub fn commit(self, tmp: NamedTempFile) -> anyhow::Result<()> {
        use anyhow::Context;
        // Reopened by path: a writer (the XLSX one) may have replaced the
        // content through its own handle.
        File::open(tmp.path())
            .and_then(|f| f.sync_all())
            .with_context(|| format!("syncing {}", tmp.path().display()))?;
        let moved = match self.found {
            // No replace: if anything appeared at the path meanwhile, the
            // rename fails rather than replace it.
            Found::Nothing => tmp.persist_noclobber(&self.path).map(drop),
            Found::Regular(was) => {
                // Still the same file (a changed mode or owner is fine).
                let same =
                    matches!(inspect(&self.path), Ok(Found::Regular(now)) if (now.dev, now.ino) == (was.dev, was.ino));
                if !same {
                    return Err(DestinationError::Changed(self.path).into());
                }
                tmp.persist(&self.path).map(drop)
            }
        };
        moved.map_err(|e| {
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                anyhow::Error::new(DestinationError::Changed(self.path.clone()))
            } else {
                anyhow::Error::new(e.error).context(format!("moving the export into place at {}", self.path.display()))
            }
        })?;
        // The rename is durable once the directory is synced.
        #[cfg(unix)]
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("syncing the directory {}", self.dir.display()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write_through(dest: Destination, text: &str) -> anyhow::Result<()> {
        let mut tmp = dest.temp_file()?;
        tmp.write_all(text.as_bytes())?;
        dest.commit(tmp)
    }

    fn refusal(r: anyhow::Result<Destination>) -> DestinationError {
        match r {
            Ok(d) => panic!("accepted {d:?}"),
            Err(e) => e.downcast().expect("a DestinationError"),
        }
    }

    #[test]
    fn new_files_are_private_and_existing_ones_need_force() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        write_through(Destination::check(&path, false).unwrap(), "one").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        }
        assert!(matches!(
            refusal(Destination::check(&path, false)),
            DestinationError::Exists(_)
        ));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one");
        write_through(Destination::check(&path, true).unwrap(), "two").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o640, "the replaced file's permissions are kept");
        }
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn only_regular_files_are_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        assert!(matches!(
            refusal(Destination::check(&sub, true)),
            DestinationError::NotRegular {
                kind: "a directory",
                ..
            }
        ));
        #[cfg(unix)]
        {
            let target = dir.path().join("target.txt");
            std::fs::write(&target, "keep").unwrap();
            let link = dir.path().join("link.csv");
            std::os::unix::fs::symlink(&target, &link).unwrap();
            assert!(matches!(
                refusal(Destination::check(&link, true)),
                DestinationError::Symlink(_)
            ));
            assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
            let null = Path::new("/dev/null");
            if null.exists() {
                assert!(matches!(
                    refusal(Destination::check(null, true)),
                    DestinationError::NotRegular {
                        kind: "a device node",
                        ..
                    }
                ));
            }
        }
    }

    #[test]
    fn a_file_appearing_meanwhile_is_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        let dest = Destination::check(&path, false).unwrap();
        let mut tmp = dest.temp_file().unwrap();
        tmp.write_all(b"export").unwrap();
        std::fs::write(&path, "someone else's").unwrap();
        let err = dest.commit(tmp).unwrap_err();
        assert!(
            matches!(err.downcast_ref(), Some(DestinationError::Changed(_))),
            "{err}"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "someone else's");

        // With --force, the file checked is the only one replaced: another
        // file put in its place meanwhile is left alone.
        let dest = Destination::check(&path, true).unwrap();
        let mut tmp = dest.temp_file().unwrap();
        tmp.write_all(b"export").unwrap();
        // Made while the old file exists, so it cannot reuse its inode.
        let other = dir.path().join("other");
        std::fs::write(&other, "a new file").unwrap();
        std::fs::rename(&other, &path).unwrap();
        let err = dest.commit(tmp).unwrap_err();
        assert!(
            matches!(err.downcast_ref(), Some(DestinationError::Changed(_))),
            "{err}"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a new file");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "a temporary file was left"
        );
    }
}
