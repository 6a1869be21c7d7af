//! The child process of `tests/host_kill.rs`, killed with SIGKILL at random
//! moments. `host_child feed DIR LOG SEED`: a producer thread writes cases
//! and replies, printing `W <change>` after each acknowledged write, while a
//! consumer thread runs the notification loop (`caselog_tests::host`),
//! printing `A <position>` after each acknowledgement. `host_child erase
//! DIR SEED`: creates cases and erases the oldest, printing `C <id>` and
//! `E <id>` after each acknowledgement.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use caselog_core::CaseId;
use caselog_store::{CaseRef, NewMessage, Scope, Store, ViewKind, ViewQuery};
use caselog_tests::host::{consume_step, new_case, options};

fn say(out: &Mutex<std::io::Stdout>, line: String) {
    let mut o = out.lock().unwrap_or_else(|p| p.into_inner());
    let _ = writeln!(o, "{line}");
    let _ = o.flush();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map(String::as_str).unwrap_or("");
    let dir = PathBuf::from(args.get(2).expect("DIR"));
    let store = Store::open(&dir, options()).expect("opening the store");
    let out = Mutex::new(std::io::stdout());
    say(&out, "OPEN".into());
    match mode {
        "feed" => {
            let log = PathBuf::from(args.get(3).expect("LOG"));
            let seed: u64 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(0);
            std::thread::scope(|s| {
                s.spawn(|| {
                    for i in 0u64.. {
                        let tenant = if (i + seed) % 3 == 0 { "seller-b" } else { "seller-a" };
                        let c = store
                            .create_case(new_case(tenant, &format!("{seed}-{i}")))
                            .expect("create");
                        say(&out, format!("W {}", c.change));
                        if i % 2 == 0 {
                            let w = store
                                .reply(
                                    &Scope::AllTenants,
                                    &CaseRef::Id(c.id),
                                    NewMessage::new(
                                        caselog_core::Actor::Support(caselog_core::UserId::parse("bob").unwrap()),
                                        "noted",
                                    ),
                                )
                                .expect("reply");
                            say(&out, format!("W {}", w.change));
                        }
                    }
                });
                loop {
                    if let Some(p) = consume_step(&store, &log, Duration::from_millis(200)).expect("consuming") {
                        say(&out, format!("A {p}"));
                    }
                }
            });
        }
        "erase" => {
            let seed: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(0);
            for i in 0u64.. {
                let c = store
                    .create_case(new_case("seller-a", &format!("{seed}-{i}")))
                    .expect("create");
                say(&out, format!("C {}", c.id.0));
                let mut q = ViewQuery::new(ViewKind::All);
                q.descending = false;
                let oldest: Option<CaseId> = store
                    .view(&Scope::AllTenants, &q)
                    .expect("view")
                    .cases
                    .first()
                    .map(|c| c.id);
                if i % 3 != 2 {
                    if let Some(id) = oldest {
                        store.erase(&Scope::AllTenants, &CaseRef::Id(id)).expect("erase");
                        say(&out, format!("E {}", id.0));
                    }
                }
            }
        }
        other => panic!("unknown mode {other:?}"),
    }
}
