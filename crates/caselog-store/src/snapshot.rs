//! Snapshots: the store as of one commit, for export and backup.
//!
//! [`Store::snapshot`] opens one redb read transaction: everything read
//! through the [`Snapshot`] is the store as of one commit, however long the
//! export takes and whatever the writer commits meanwhile (redb's readers
//! see a fixed committed version; the writer never changes pages a live
//! reader can see). [`Snapshot::copy_to`] writes that version, table by
//! table, into a new store file: a consistent backup taken while the store
//! is in use.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use redb::{Database, MultimapTableHandle, ReadOnlyTable, ReadTransaction, ReadableTable, TableHandle};

use crate::error::{io, st, Result, StoreError};
use crate::guard::Damage;
use crate::model::{Case, Scope, ThreadEntry};
use crate::records;
use crate::store::{Store, STORE_FILE};
use crate::stored::thread_entries;
use crate::tables;

/// The store as of one commit: one redb read transaction. Reads through it
/// never wait for the writer and never see a later write.
pub struct Snapshot {
    /// The directory of the store the snapshot reads.
    source: PathBuf,
    txn: ReadTransaction,
    cases: ReadOnlyTable<u64, &'static [u8]>,
    thread: ReadOnlyTable<(u64, u32), &'static [u8]>,
    /// Every read through the snapshot is guarded (see `guard.rs`).
    damage: Damage,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot").finish_non_exhaustive()
    }
}

impl Store {
    /// Opens a [`Snapshot`]: a consistent view of the whole store for
    /// exports, checks and backups. Hold it only as long as needed: the
    /// pages it sees cannot be reused by the writer until it is dropped.
    pub fn snapshot(&self) -> Result<Snapshot> {
        self.damage.guard("opening a snapshot", || {
            Snapshot::open(&*self.db, &self.damage, &self.dir)
        })
    }
}

impl Snapshot {
    /// A snapshot of `db` as of now (unguarded: callers guard).
    pub(crate) fn open(db: &crate::store::ReadDb, damage: &Damage, source: &Path) -> Result<Snapshot> {
        let txn = db.begin_read().map_err(|e| StoreError::storage("starting a read", e))?;
        let o = &st::<redb::TableError>("opening a snapshot");
        let cases = txn.open_table(tables::CASES).map_err(o)?;
        let thread = txn.open_table(tables::THREAD).map_err(o)?;
        Ok(Snapshot {
            source: source.to_owned(),
            txn,
            cases,
            thread,
            damage: damage.clone(),
        })
    }

    /// The case with internal id `id` and its checked thread, if there is
    /// one (unguarded: callers guard).
    pub(crate) fn case_by_id(&self, id: u64) -> Result<Option<(Case, Vec<ThreadEntry>)>> {
        let Some(case) = crate::stored::load_case(&self.cases, id)? else {
            return Ok(None);
        };
        let thread = self.thread_unguarded(&case)?;
        Ok(Some((case, thread)))
    }
}

/// What [`Snapshot::copy_to`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopySummary {
    /// The new store file.
    pub path: PathBuf,
    /// Cases copied.
    pub cases: u64,
    /// Rows copied over all tables.
    pub rows: u64,
}

impl Snapshot {
    /// Number of cases in the store (all tenants).
    pub fn case_count(&self) -> Result<u64> {
        use redb::ReadableTableMetadata;
        self.damage
            .guard("counting cases", || self.cases.len().map_err(st("counting cases")))
    }

    /// Every case of `scope` with its whole thread, in id order (the order
    /// cases were created or imported in).
    ///
    /// Each item is checked as it is read: a record that does not decode,
    /// or a thread whose entries do not run 0, 1, 2, … up to the case's
    /// entry count, is a [`StoreError::Corrupt`] item, and iteration goes on
    /// with the next case.
    pub fn cases(&self, scope: &Scope) -> Result<SnapshotCases<'_>> {
        let range = self.damage.guard("listing cases", || {
            self.cases.range::<u64>(..).map_err(st("listing cases"))
        })?;
        Ok(SnapshotCases {
            snapshot: self,
            range,
            scope: scope.clone(),
            broken: false,
        })
    }

    /// One case's whole thread, checked as in [`Snapshot::cases`].
    pub fn thread(&self, case: &Case) -> Result<Vec<ThreadEntry>> {
        self.damage.guard("reading a thread", || self.thread_unguarded(case))
    }

    fn thread_unguarded(&self, case: &Case) -> Result<Vec<ThreadEntry>> {
        let id = case.id.0;
        let mut out = Vec::with_capacity(case.entries as usize);
        for (seq, entry) in thread_entries(&self.thread, id)? {
            if seq as usize != out.len() {
                return Err(StoreError::Corrupt {
                    table: "thread",
                    key: format!("({id}, {seq})"),
                    detail: format!("entry {} of case {} is missing", out.len(), case.number),
                });
            }
            out.push(entry);
        }
        if out.len() != case.entries as usize {
            return Err(StoreError::Corrupt {
                table: "thread",
                key: format!("({id}, ..)"),
                detail: format!(
                    "case {} records {} thread entries, the thread holds {}",
                    case.number,
                    case.entries,
                    out.len()
                ),
            });
        }
        Ok(out)
    }

    /// Writes this snapshot as a new store in directory `dest`: every table
    /// copied row by row in one write transaction, committed durably, into
    /// `cases.redb.partial`, which is then renamed to `cases.redb`. So the
    /// copy is the source as of one commit (the snapshot's), complete or
    /// absent, never half-written. It keeps everything, including internal
    /// ids, counters, tenant tiers, attachment bytes and the change log;
    /// the full-text index is not copied (rebuild it at the destination).
    ///
    /// Refuses a destination that is not a new or empty directory or lies
    /// inside the source store's directory ([`check_backup_destination`]),
    /// and a source holding a table this release does not know (so a copy
    /// is never silently incomplete).
    pub fn copy_to(&self, dest: &Path) -> Result<CopySummary> {
        self.damage.guard("copying the store", || self.copy_to_unguarded(dest))
    }

    fn copy_to_unguarded(&self, dest: &Path) -> Result<CopySummary> {
        check_backup_destination(&self.source, dest)?;
        std::fs::create_dir_all(dest).map_err(io("creating the backup directory", dest))?;
        let target = dest.join(STORE_FILE);
        let partial = dest.join(PARTIAL_BACKUP);
        // A leftover from an interrupted backup is never a valid store.
        if partial.exists() {
            std::fs::remove_file(&partial).map_err(io("removing an interrupted backup", &partial))?;
        }
        self.check_known_tables()?;
        let db = Database::builder()
            .set_cache_size(crate::store::ONE_PASS_CACHE_BYTES)
            .create(&partial)
            .map_err(|e| StoreError::storage("creating the backup", e))?;
        let txn = db
            .begin_write()
            .map_err(|e| StoreError::storage("writing the backup", e))?;
        let mut rows = 0u64;
        macro_rules! copy {
            ($t:ident) => {
                rows += copy_table(&self.txn, &txn, tables::$t)?;
            };
        }
        tables::for_each_table!(copy);
        // The backup is whole in its file: it has no log to replay.
        crate::wal::forget_session(&txn)?;
        // redb's default durability is immediate: commit returns after fsync.
        txn.commit()
            .map_err(|e| StoreError::storage("committing the backup", e))?;
        drop(db);
        crate::files::install(&partial, &target)?;
        Ok(CopySummary {
            path: target,
            cases: self.case_count()?,
            rows,
        })
    }

    /// The tables [`Snapshot::copy_to`] copies; any other table in the
    /// source is an error, except those of earlier releases that a
    /// read-write open deletes (they are left out of the copy).
    fn check_known_tables(&self) -> Result<()> {
        let mut known: BTreeSet<&str> = tables::table_names().into_iter().collect();
        known.insert(tables::LEGACY_FEED_SEEN.name());
        let unknown = |name: String| StoreError::Corrupt {
            table: "(table list)",
            key: name,
            detail: "the backup does not know how to copy this table".into(),
        };
        let s = &st::<redb::StorageError>("listing tables");
        for t in self.txn.list_tables().map_err(s)? {
            if !known.contains(t.name()) {
                return Err(unknown(t.name().to_owned()));
            }
        }
        if let Some(t) = self.txn.list_multimap_tables().map_err(s)?.next() {
            return Err(unknown(t.name().to_owned()));
        }
        Ok(())
    }
}

/// The file a backup is written to before it is renamed to `cases.redb`.
const PARTIAL_BACKUP: &str = "cases.redb.partial";

/// Checks that `dest` may receive a backup of the store in `source`: it
/// is a new directory or an empty one (a leftover `cases.redb.partial` of
/// an interrupted backup aside), and it is not `source` or inside it. A
/// backup into a non-empty directory could mix with or be mistaken for
/// other files, and one inside the live store (its `index/` directory,
/// say) is deleted by the store itself. Symbolic links are resolved, so
/// a link pointing into the store is refused too.
pub fn check_backup_destination(source: &Path, dest: &Path) -> Result<()> {
    let refuse = |reason: &'static str| StoreError::BackupDestination {
        path: dest.to_owned(),
        reason,
    };
    if resolve_path(dest).starts_with(resolve_path(source)) {
        return Err(refuse(
            "it is the store's own directory or lies inside it, where the backup would be lost",
        ));
    }
    match std::fs::symlink_metadata(dest) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io("inspecting the backup destination", dest)(e)),
        Ok(_) if !dest.is_dir() => return Err(refuse("it exists and is not a directory")),
        Ok(_) => {
            let entries = std::fs::read_dir(dest).map_err(io("listing the backup destination", dest))?;
            for entry in entries {
                let entry = entry.map_err(io("listing the backup destination", dest))?;
                let name = entry.file_name();
                if name.as_os_str() == std::ffi::OsStr::new(STORE_FILE) {
                    return Err(refuse(
                        "it already holds a caselog store; back up into a new or empty directory",
                    ));
                }
                if name.as_os_str() != std::ffi::OsStr::new(PARTIAL_BACKUP) {
                    return Err(refuse(
                        "the directory is not empty; back up into a new or empty directory",
                    ));
                }
            }
        }
    }
    Ok(())
}

/// `path` made absolute with symbolic links resolved, as far as it exists
/// (the part that does not exist yet is appended as given).
fn resolve_path(path: &Path) -> PathBuf {
    let mut missing = Vec::new();
    let mut existing = path;
    loop {
        if let Ok(found) = std::fs::canonicalize(existing) {
            let mut out = found;
            for part in missing.iter().rev() {
                out.push(part);
            }
            return out;
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                missing.push(name.to_owned());
                existing = if parent.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    parent
                };
            }
            // Nothing of the path exists (or it ends in `..`): compare it
            // as given, made absolute.
            _ => return std::path::absolute(path).unwrap_or_else(|_| path.to_owned()),
        }
    }
}

/// Copies every row of one table from a read transaction into a write
/// transaction. The value bytes are copied as stored, so records of any
/// version survive unchanged.
fn copy_table<K: redb::Key + 'static, V: redb::Value + 'static>(
    from: &ReadTransaction,
    to: &redb::WriteTransaction,
    def: redb::TableDefinition<K, V>,
) -> Result<u64> {
    let source = match from.open_table(def) {
        Ok(t) => t,
        // A store from before a table existed simply has nothing to copy.
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(0),
        Err(e) => return Err(StoreError::storage("reading a table for the backup", e)),
    };
    let mut target = to
        .open_table(def)
        .map_err(|e| StoreError::storage("creating a table in the backup", e))?;
    let mut rows = 0;
    for item in source.iter().map_err(st("reading a table for the backup"))? {
        let (k, v) = item.map_err(st("reading a table for the backup"))?;
        target
            .insert(k.value(), v.value())
            .map_err(st("writing a table in the backup"))?;
        rows += 1;
    }
    Ok(rows)
}

/// The cases of a [`Snapshot`], in id order. See [`Snapshot::cases`].
pub struct SnapshotCases<'s> {
    snapshot: &'s Snapshot,
    range: redb::Range<'static, u64, &'static [u8]>,
    scope: Scope,
    /// Set after a read panicked: the range's position is not to be trusted.
    broken: bool,
}

impl std::fmt::Debug for SnapshotCases<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotCases")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl Iterator for SnapshotCases<'_> {
    type Item = Result<(Case, Vec<ThreadEntry>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.broken {
            return None;
        }
        let damage = self.snapshot.damage.clone();
        match damage.guard("listing cases", || Ok(self.next_unguarded())) {
            Ok(item) => {
                if let Some(Err(e)) = &item {
                    damage.observe(e);
                }
                item
            }
            Err(e) => {
                self.broken = true;
                Some(Err(e))
            }
        }
    }
}

impl SnapshotCases<'_> {
    fn next_unguarded(&mut self) -> Option<Result<(Case, Vec<ThreadEntry>)>> {
        loop {
            let (k, v) = match self.range.next()? {
                Ok(kv) => kv,
                Err(e) => return Some(Err(StoreError::storage("listing cases", e))),
            };
            let case = match records::decode_case(v.value(), k.value()) {
                Ok(c) => c,
                Err(e) => return Some(Err(e)),
            };
            if !self.scope.allows(&case.tenant) {
                continue;
            }
            return Some(self.snapshot.thread_unguarded(&case).map(|thread| (case, thread)));
        }
    }
}

#[cfg(test)]
mod tests {
    use caselog_core::*;

    use super::*;
    use crate::interchange::*;
    use crate::model::{ImportCase, NewCase, NewMessage};
    use crate::options::Options;
    use crate::CaseRef;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    fn opts() -> Options {
        Options::default()
    }

    fn export_all(store: &Store) -> Vec<String> {
        let snap = store.snapshot().unwrap();
        snap.cases(&Scope::AllTenants)
            .unwrap()
            .map(|r| {
                let (c, t) = r.unwrap();
                to_line(&c, &t)
            })
            .collect()
    }

    /// A store with native (not imported) cases in several states.
    fn native_store(dir: &Path) -> Store {
        let store = Store::open(dir, opts()).unwrap();
        let tenant = TenantId::parse("seller-0042").unwrap();
        let scope = Scope::Tenant(tenant.clone());
        let agent = UserId::parse("agent-7").unwrap();
        let mut numbers = Vec::new();
        for (i, title) in ["Refund delayed", "我的账户被停用了", "ASIN B08XYZ1234 suppressed"]
            .iter()
            .enumerate()
        {
            let created = store
                .create_case(
                    NewCase::new(
                        tenant.clone(),
                        UserId::parse("ops@example.com").unwrap(),
                        Marketplace::parse("US").unwrap(),
                        LanguageTag::parse("en").unwrap(),
                        Category::ALL[i * 3],
                        *title,
                        format!("Case {i}\nsecond line"),
                    )
                    .with_time(ts("2026-01-16T08:30:00Z").saturating_add(Span::hours(i as i64 * 5))),
                )
                .unwrap();
            numbers.push(created.number);
        }
        let r = |n: &CaseNumber| CaseRef::Number(n.clone());
        let at = |h| Some(ts("2026-01-17T00:00:00Z").saturating_add(Span::hours(h)));
        store
            .apply_event(
                &Scope::AllTenants,
                &r(&numbers[0]),
                Actor::Support(agent.clone()),
                CaseEvent::PickUp,
                "On it",
                at(1),
            )
            .unwrap();
        store
            .apply_event(
                &Scope::AllTenants,
                &r(&numbers[0]),
                Actor::Support(agent.clone()),
                CaseEvent::RequestInfo {
                    deadline: at(72).unwrap(),
                },
                "Send the invoice",
                at(2),
            )
            .unwrap();
        store
            .reply(
                &scope,
                &r(&numbers[0]),
                NewMessage::new(Actor::Seller(UserId::parse("ops@example.com").unwrap()), "Attached.").with_time(at(5)),
            )
            .unwrap();
        store
            .apply_event(
                &Scope::AllTenants,
                &r(&numbers[1]),
                Actor::Support(agent.clone()),
                CaseEvent::Resolve,
                "",
                at(3),
            )
            .unwrap();
        // Routing events, and the fields they set, go through the format too.
        let routing = [
            (
                1,
                Actor::Support(agent.clone()),
                CaseEvent::SetComplex { complex: true },
                4,
            ),
            (
                0,
                Actor::Support(agent.clone()),
                CaseEvent::Transfer {
                    category: Category::Payments,
                    marketplace: Some(Marketplace::parse("DE").unwrap()),
                },
                6,
            ),
            (
                0,
                Actor::Support(agent.clone()),
                CaseEvent::Assign {
                    to: UserId::parse("agent-9").unwrap(),
                },
                7,
            ),
            (
                0,
                Actor::Seller(UserId::parse("ops@example.com").unwrap()),
                CaseEvent::Assign {
                    to: UserId::parse("finance@example.com").unwrap(),
                },
                8,
            ),
        ];
        for (i, actor, event, h) in routing {
            let scope = match actor {
                Actor::Seller(_) => scope.clone(),
                _ => Scope::AllTenants,
            };
            store
                .apply_event(&scope, &r(&numbers[i]), actor, event, "routed", at(h))
                .unwrap();
        }
        store.merge(&r(&numbers[2]), &numbers[0], agent, "same issue").unwrap();
        store
    }

    #[test]
    fn export_import_export_is_identical_and_the_stores_equal() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let src = native_store(a.path());
        let first = export_all(&src);
        assert_eq!(first.len(), 3);
        let dst = Store::open(b.path(), opts()).unwrap();
        let items: Vec<ImportCase> = first.iter().map(|l| parse_line(l).unwrap()).collect();
        let outcomes = dst.import(items).unwrap();
        assert!(outcomes
            .iter()
            .all(|o| matches!(o, Ok(crate::ImportOutcome::Imported { .. }))));
        let second = export_all(&dst);
        assert_eq!(first, second);

        let normalise = |mut c: Case| {
            c.id = CaseId(0);
            c.imported = false;
            c
        };
        let (s1, s2) = (src.snapshot().unwrap(), dst.snapshot().unwrap());
        let all = |s: &Snapshot| {
            s.cases(&Scope::AllTenants)
                .unwrap()
                .map(|r| r.unwrap())
                .collect::<Vec<_>>()
        };
        for ((c1, t1), (c2, t2)) in all(&s1).into_iter().zip(all(&s2)) {
            assert_eq!(t1, t2);
            assert_eq!(normalise(c1), normalise(c2));
        }
        // Importing the same archive again skips every case.
        let again = dst.import(first.iter().map(|l| parse_line(l).unwrap())).unwrap();
        assert!(again
            .iter()
            .all(|o| matches!(o, Ok(crate::ImportOutcome::Skipped { .. }))));
    }

    #[test]
    fn snapshot_is_not_affected_by_later_writes_and_copies_exactly() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let src = native_store(a.path());
        let snap = src.snapshot().unwrap();
        let before = snap.case_count().unwrap();
        let tenant = TenantId::parse("seller-0001").unwrap();
        src.set_tenant_tier(&tenant, PerformanceTier::High).unwrap();
        src.create_case(NewCase::new(
            tenant,
            UserId::parse("u1").unwrap(),
            Marketplace::parse("DE").unwrap(),
            LanguageTag::parse("de").unwrap(),
            Category::Tax,
            "written after the snapshot",
            "x",
        ))
        .unwrap();
        assert_eq!(snap.cases(&Scope::AllTenants).unwrap().count() as u64, before);
        let summary = snap.copy_to(b.path()).unwrap();
        assert_eq!(summary.cases, before);
        drop(snap);
        // The copy holds what the snapshot saw, with the same ids.
        let copy = Store::open(b.path(), opts()).unwrap();
        let lines = export_all(&copy);
        assert_eq!(lines.len() as u64, before);
        let src_lines = export_all(&src);
        assert_eq!(lines[..], src_lines[..lines.len()]);
        assert_eq!(copy.case_ids().unwrap(), src.case_ids().unwrap()[..lines.len()]);
        // A second backup into the same place is refused, not merged.
        let snap = src.snapshot().unwrap();
        assert!(snap.copy_to(b.path()).is_err());
    }

    /// Issue: `backup` accepted a non-empty destination and even the live
    /// store's own `index/` directory, where the store later deleted it.
    #[test]
    fn backups_go_only_into_new_or_empty_directories_outside_the_store() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let src = native_store(a.path());
        let refused = |dest: &Path| match src.snapshot().unwrap().copy_to(dest) {
            Err(StoreError::BackupDestination { path, reason }) => {
                assert_eq!(path, dest);
                reason
            }
            other => panic!("{}: expected a refused destination, got {other:?}", dest.display()),
        };
        // Inside the live store: its index directory, a new directory in
        // it, the store directory itself, and a link that points into it.
        assert!(refused(&a.path().join("index")).contains("store's own directory"));
        assert!(refused(&a.path().join("backups/today")).contains("store's own directory"));
        assert!(refused(a.path()).contains("store's own directory"));
        #[cfg(unix)]
        {
            let link = b.path().join("link");
            std::os::unix::fs::symlink(a.path().join("index"), &link).unwrap();
            assert!(refused(&link.join("copy")).contains("store's own directory"));
            std::fs::remove_file(&link).unwrap();
        }
        // Not empty, or not a directory.
        let full = b.path().join("full");
        std::fs::create_dir(&full).unwrap();
        std::fs::write(full.join("notes.txt"), "keep me").unwrap();
        assert!(refused(&full).contains("not empty"));
        assert_eq!(std::fs::read_to_string(full.join("notes.txt")).unwrap(), "keep me");
        let file = b.path().join("file");
        std::fs::write(&file, "x").unwrap();
        assert!(refused(&file).contains("not a directory"));
        // Another store is never overwritten.
        let other = b.path().join("other");
        std::fs::create_dir(&other).unwrap();
        std::fs::write(other.join(STORE_FILE), "a store").unwrap();
        assert!(refused(&other).contains("already holds a caselog store"));
        // An empty directory, or one holding only an interrupted backup, is fine.
        let resumed = b.path().join("resumed");
        std::fs::create_dir(&resumed).unwrap();
        std::fs::write(resumed.join(PARTIAL_BACKUP), "half a backup").unwrap();
        let summary = src.snapshot().unwrap().copy_to(&resumed).unwrap();
        assert_eq!(summary.cases, 3);
        assert!(!resumed.join(PARTIAL_BACKUP).exists());
    }

    /// SPEC.md: a UTF-8 BOM at the start of a file is ignored. Elsewhere it
    /// is named, not reported as "not valid JSON".
    #[test]
    fn byte_order_marks() {
        let dir = tempfile::tempdir().unwrap();
        let store = native_store(dir.path());
        let line = export_all(&store).remove(0);
        let with_bom = [UTF8_BOM, line.as_bytes()].concat();
        assert_eq!(strip_bom(&with_bom), line.as_bytes());
        assert_eq!(strip_bom(line.as_bytes()), line.as_bytes());
        let text = std::str::from_utf8(&with_bom).unwrap();
        assert_eq!(parse_line(text).unwrap_err(), InterchangeError::ByteOrderMark);
        assert!(parse_line(std::str::from_utf8(strip_bom(&with_bom)).unwrap()).is_ok());
        assert!(foreign_bom(&[0xFF, 0xFE, b'{', 0]).unwrap().contains("UTF-16"));
        assert!(foreign_bom(&[0xFE, 0xFF, 0, b'{']).unwrap().contains("UTF-16"));
        assert!(foreign_bom(&[0xFF, 0xFE, 0, 0]).unwrap().contains("UTF-32"));
        assert_eq!(foreign_bom(b"{\"tenant\""), None);
        assert_eq!(foreign_bom(UTF8_BOM), None);
    }

    #[test]
    fn tenant_scope_is_respected() {
        let a = tempfile::tempdir().unwrap();
        let src = native_store(a.path());
        let snap = src.snapshot().unwrap();
        let other = Scope::Tenant(TenantId::parse("seller-0001").unwrap());
        assert_eq!(snap.cases(&other).unwrap().count(), 0);
        let own = Scope::Tenant(TenantId::parse("seller-0042").unwrap());
        assert_eq!(snap.cases(&own).unwrap().count(), 3);
    }
}
