//! Containment of a damaged store file.
//!
//! redb trusts the pages it reads: a file damaged outside redb can make it
//! panic (an `unreachable!` in its B-tree cursor, an index out of bounds)
//! instead of returning an error. Every public read of the store runs
//! inside [`Damage::guard`], which turns such a panic — and redb's own
//! "corrupted" errors — into [`StoreError::Damaged`], remembers that the
//! store is damaged, and lets the process go on serving other reads. A
//! store that has shown damage is never written again by this process
//! ([`Damage::refuse_writes`]): writing through a damaged B-tree could
//! spread the damage, and a crash after it would leave redb a repair that
//! fails on the damaged pages (losing the whole file).
//!
//! While a guarded read runs, the process's panic hook stays quiet for
//! that thread (the panic is reported as a typed error, not as a trace on
//! stderr); panics elsewhere reach the hook that was installed before.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Once, OnceLock};

use crate::error::{Result, StoreError};

thread_local! {
    /// Guarded sections open on this thread (they nest).
    static QUIET: Cell<u32> = const { Cell::new(0) };
    /// Where the last quiet panic on this thread happened.
    static LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Wraps the panic hook once per process: quiet inside guarded sections,
/// the previous hook everywhere else.
fn install_quiet_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET.with(Cell::get) > 0 {
                let at = info.location().map(|l| format!("{}:{}", l.file(), l.line()));
                LOCATION.with(|l| *l.borrow_mut() = at);
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs `f`, turning a panic into its message (with where it happened).
///
/// `AssertUnwindSafe` is sound here because nothing `f` touches outlives a
/// panic in a broken state that a later caller would trust: read
/// transactions and tables are created inside `f` and dropped by the
/// unwinding, and a lock redb held while panicking is poisoned, so a later
/// read through it panics again and is reported the same way.
pub(crate) fn quietly<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    install_quiet_hook();
    QUIET.with(|q| q.set(q.get() + 1));
    let outcome = catch_unwind(AssertUnwindSafe(f));
    let still_quiet = QUIET.with(|q| {
        q.set(q.get().saturating_sub(1));
        q.get() > 0
    });
    outcome.map_err(|payload| {
        // The caller's own panic goes on unwinding, through every guard.
        let payload = match payload.downcast::<CallerPanic>() {
            Ok(carried) if still_quiet => resume_unwind(carried),
            Ok(carried) => resume_unwind(carried.0),
            Err(payload) => payload,
        };
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_owned());
        match LOCATION.with(|l| l.borrow_mut().take()) {
            Some(at) => format!("internal check failed: {message} at {at}"),
            None => format!("internal check failed: {message}"),
        }
    })
}

/// A panic of the caller's own code (a progress callback) inside a guarded
/// section: carried through the guards, not taken for damage.
struct CallerPanic(Box<dyn Any + Send>);

/// Runs the caller's code `f` from inside a guarded section: its panics
/// reach the panic hook as usual and unwind to the caller unchanged.
pub(crate) fn caller<T>(f: impl FnOnce() -> T) -> T {
    let saved = QUIET.with(|q| q.replace(0));
    let outcome = catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|q| q.set(saved));
    outcome.unwrap_or_else(|payload| resume_unwind(Box::new(CallerPanic(payload))))
}

/// Whether `e` says the stored bytes are not what was written.
fn shows_damage(e: &StoreError) -> bool {
    match e {
        StoreError::Damaged { .. } | StoreError::Corrupt { .. } => true,
        StoreError::Storage { error, .. } => {
            matches!(error.as_ref(), redb::Error::Corrupted(_))
        }
        _ => false,
    }
}

/// The damage one open store has shown, shared by its reads and writes.
#[derive(Debug, Clone)]
pub(crate) struct Damage {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The store file.
    path: PathBuf,
    /// The first damage seen, as text.
    first: OnceLock<String>,
}

impl Damage {
    pub fn new(path: &Path) -> Self {
        Damage {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                first: OnceLock::new(),
            }),
        }
    }

    /// The store file these reads are of.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs a read. A panic inside it becomes [`StoreError::Damaged`]
    /// naming `action`; that, or an error showing damage, marks the store
    /// damaged.
    pub fn guard<T>(&self, action: &'static str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let result = quietly(f).unwrap_or_else(|detail| {
            Err(StoreError::Damaged {
                action,
                path: self.inner.path.clone(),
                detail,
            })
        });
        if let Err(e) = &result {
            self.observe(e);
        }
        result
    }

    /// Marks the store damaged if `e` shows damage.
    pub fn observe(&self, e: &StoreError) {
        if shows_damage(e) {
            self.record(e);
        }
    }

    /// Marks the store damaged (the first damage is the one reported).
    pub fn record(&self, e: &StoreError) {
        if self.inner.first.set(e.to_string()).is_ok() {
            tracing::error!("the store is damaged; it accepts no more writes: {e}");
        }
    }

    /// The first damage seen, if any.
    pub fn seen(&self) -> Option<&str> {
        self.inner.first.get().map(String::as_str)
    }

    /// `Err` once the store has shown damage.
    pub fn refuse_writes(&self) -> Result<()> {
        match self.seen() {
            Some(first) => Err(StoreError::WritesRefused {
                path: self.inner.path.clone(),
                first: first.to_owned(),
            }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_a_typed_error_and_refuses_writes() {
        let damage = Damage::new(Path::new("cases.redb"));
        assert!(damage.refuse_writes().is_ok());
        let r: Result<()> = damage.guard("reading a case", || panic!("entered unreachable code"));
        match r {
            Err(StoreError::Damaged { action, detail, .. }) => {
                assert_eq!(action, "reading a case");
                assert!(detail.contains("entered unreachable code"), "{detail}");
                assert!(detail.contains("guard.rs"), "{detail}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(damage.refuse_writes(), Err(StoreError::WritesRefused { .. })));
        // The guard holds for the next read too.
        assert_eq!(damage.guard("reading", || Ok(7)).unwrap(), 7);
    }

    #[test]
    fn a_panic_of_the_callers_code_unwinds_to_the_caller_unchanged() {
        let damage = Damage::new(Path::new("cases.redb"));
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            damage.guard("opening", || {
                damage.guard("rebuilding", || {
                    caller(|| -> Result<()> { panic!("the host's own bug") })
                })
            })
        }));
        let payload = outcome.expect_err("the caller's panic reaches the caller");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"the host's own bug"));
        assert!(damage.seen().is_none());
    }

    #[test]
    fn ordinary_errors_do_not_mark_damage() {
        let damage = Damage::new(Path::new("cases.redb"));
        let r: Result<()> = damage.guard("reading", || Err(StoreError::CaseNotFound("1".into())));
        assert!(r.is_err());
        assert!(damage.seen().is_none());
        let r: Result<()> = damage.guard("reading", || {
            Err(StoreError::Corrupt {
                table: "cases",
                key: "1".into(),
                detail: "bad".into(),
            })
        });
        assert!(r.is_err());
        assert!(damage.seen().is_some());
    }
}
