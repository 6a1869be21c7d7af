//! The process the kill -9 crash test spawns and kills (see
//! `tests/crash_kill.rs`).
//!
//! `crash_child DIR SEED ROUND MODE` opens the store in DIR and runs
//! [`caselog_tests::crash::THREADS`] writer threads, each performing its
//! deterministic workload through the public API. After every
//! acknowledged write it prints one flushed `A` line on stdout; nothing is
//! printed for a write before the store has answered it. It runs until it
//! is killed (or, as a safety net, for at most two minutes).

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use caselog_core::{CaseNumber, Status};
use caselog_store::{CaseRef, ImportOutcome, IndexStatus, Scope, Store};
use caselog_tests::crash::{child_options, ChildLine, Mode, Op, ThreadModel, THREADS};

/// A child nobody kills stops by itself after this long.
const MAX_RUN: Duration = Duration::from_secs(120);

static OUT: Mutex<()> = Mutex::new(());

/// Writes one line and flushes it; the parent may kill us right after.
fn emit(line: &ChildLine) {
    let _guard = OUT.lock().unwrap_or_else(|p| p.into_inner());
    let mut out = std::io::stdout().lock();
    let text = format!("{}\n", line.render());
    // One write of a short line: a kill cannot split it. A closed pipe
    // means the parent is gone; then there is no point going on.
    if out.write_all(text.as_bytes()).and_then(|()| out.flush()).is_err() {
        std::process::exit(2);
    }
}

fn fail(why: String) -> ! {
    emit(&ChildLine::Failed(why));
    std::process::exit(1);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        eprintln!("usage: crash_child DIR SEED ROUND MODE");
        std::process::exit(64);
    }
    let dir = &args[1];
    let seed: u64 = args[2].parse().expect("SEED is a number");
    let round: u32 = args[3].parse().expect("ROUND is a number");
    let mode = Mode::parse(&args[4]).expect("MODE is mixed or bulk");

    emit(&ChildLine::Started);
    // Open does not wait for an index rebuild: the writers start at once
    // and the rebuild runs beside them.
    let store = Store::open(dir, child_options(mode)).unwrap_or_else(|e| fail(format!("open: {e}")));
    emit(&ChildLine::Opened);
    let started = Instant::now();
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..THREADS)
            .map(|thread| {
                let store = &store;
                s.spawn(move || run_thread(store, ThreadModel::new(seed, round, thread, mode), started))
            })
            .collect();
        s.spawn(|| watch_index(&store, &done));
        for w in workers {
            let _ = w.join();
        }
        done.store(true, Ordering::Relaxed);
    });
    store.shutdown().unwrap_or_else(|e| fail(format!("shutdown: {e}")));
}

/// Reports the index's background rebuild and its self-check counters as
/// they change.
fn watch_index(store: &Store, done: &AtomicBool) {
    let mut last_progress = None;
    let mut rebuilding = false;
    let mut last_counters = (0, 0, 0);
    while !done.load(Ordering::Relaxed) {
        match store.index_status() {
            IndexStatus::Rebuilding { done, total, .. } => {
                rebuilding = true;
                if last_progress != Some((done, total)) {
                    last_progress = Some((done, total));
                    emit(&ChildLine::Progress(done, total));
                }
            }
            _ => {
                if rebuilding {
                    rebuilding = false;
                    emit(&ChildLine::IndexReady);
                }
            }
        }
        let c = store.index_counters();
        let counters = (c.open_duplicates, c.count_mismatches, c.stale_generations);
        if counters != last_counters {
            last_counters = counters;
            emit(&ChildLine::Counters(counters.0, counters.1, counters.2));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn run_thread(store: &Store, mut model: ThreadModel, started: Instant) {
    while started.elapsed() < MAX_RUN {
        let seq = model.next_seq;
        let op = model.next_op();
        let number = perform(store, &model, seq, &op)
            .unwrap_or_else(|e| fail(format!("thread {} op {seq} {op:?}: {e}", model.thread)));
        model.apply(&op, number.clone());
        emit(&ChildLine::Ack {
            thread: model.thread,
            seq,
            kind: op.kind().into(),
            number,
        });
    }
}

/// Performs `op` and returns the number of the case it created, if any.
/// Answers that contradict the model are errors: the workload only does
/// what the rules allow.
fn perform(store: &Store, m: &ThreadModel, seq: u32, op: &Op) -> Result<Option<String>, String> {
    let by_number = |i: usize| -> CaseRef {
        let n = m.cases[i].number.as_deref().expect("acked cases have numbers");
        CaseRef::Number(CaseNumber::parse(n).expect("generated number"))
    };
    let tenant_scope = |i: usize| Scope::Tenant(m.cases[i].tenant.clone());
    let check = |status: Status| -> Result<(), String> {
        let want = m.status_after(op).expect("op changes a status");
        if status == want {
            Ok(())
        } else {
            Err(format!("status {status}, the model expects {want}"))
        }
    };
    match *op {
        Op::Create => {
            let created = store.create_case(m.new_case(seq)).map_err(|e| e.to_string())?;
            if let Some(d) = created.duplicate_of {
                return Err(format!("unexpected duplicate of {d}"));
            }
            // Now and then wait for the index: that forces an index commit
            // right away, so kills also land in the middle of those.
            if m.thread == 1 && seq % 4 == 0 {
                store
                    .wait_indexed(created.change, Duration::from_secs(30))
                    .map_err(|e| e.to_string())?;
            }
            Ok(Some(created.number.to_string()))
        }
        Op::Reply { case, seller } => {
            let scope = if seller { tenant_scope(case) } else { Scope::AllTenants };
            let w = store
                .reply(&scope, &by_number(case), m.message(seq, m.actor(seller)))
                .map_err(|e| e.to_string())?;
            check(w.status).map(|()| None)
        }
        Op::Event { case, ev } => {
            let scope = if ev.by_seller() {
                tenant_scope(case)
            } else {
                Scope::AllTenants
            };
            let msg = m.message(seq, m.actor(ev.by_seller()));
            let w = store
                .apply_event(&scope, &by_number(case), msg.actor.clone(), ev.event(), msg.body, None)
                .map_err(|e| e.to_string())?;
            check(w.status).map(|()| None)
        }
        Op::Merge { case, into } => {
            let msg = m.message(seq, m.actor(false));
            let CaseRef::Number(target) = by_number(into) else {
                unreachable!()
            };
            let agent = msg.actor.user().expect("support has a user").clone();
            let w = store
                .merge(&by_number(case), &target, agent, msg.body)
                .map_err(|e| e.to_string())?;
            check(w.status).map(|()| None)
        }
        Op::FollowUp { of } => {
            let created = store
                .follow_up(&tenant_scope(of), &by_number(of), m.follow_up(seq))
                .map_err(|e| e.to_string())?;
            Ok(Some(created.number.to_string()))
        }
        Op::SetComplex { case, complex } => {
            store
                .set_complex(&by_number(case), caselog_tests::crash::agent_user(m.thread), complex)
                .map_err(|e| e.to_string())?;
            Ok(None)
        }
        Op::Import { count } => {
            let outcomes = store.import(m.import_cases(seq, count)).map_err(|e| e.to_string())?;
            for (i, o) in outcomes.iter().enumerate() {
                match o {
                    Ok(ImportOutcome::Imported { .. }) => {}
                    other => return Err(format!("import case {i}: {other:?}")),
                }
            }
            Ok(None)
        }
    }
}
