//! The deterministic workload of the kill -9 crash test, shared by the child
//! binary (`src/bin/crash_child.rs`, which performs it) and the parent test
//! (`tests/crash_kill.rs`, which regenerates it from the child's ack lines).
//!
//! Every writer thread of the child owns the cases it creates: nobody else
//! touches them, so a thread's cases evolve only through its own sequence of
//! operations. Operation `seq` of thread `t` in round `r` is a pure function
//! of the seed, `(r, t, seq)` and the thread's [`ThreadModel`] after the
//! operations before it; its content carries unique searchable tokens. So
//! the parent can replay the acknowledged operations to get the exact
//! expected state, and compute the one operation that may have been in
//! flight when the child was killed.

use caselog_core::{
    Actor, CaseEvent, CaseId, CaseNumber, CaseState, Category, LanguageTag, Marketplace, PerformanceTier, References,
    Sku, Span, Status, TenantId, Timestamp, UserId,
};
use caselog_store::{Case, CaseLinks, ImportCase, NewCase, NewFollowUp, NewMessage, ThreadEntry};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Writer threads of the child.
pub const THREADS: u32 = 4;

/// The tenants the workload spreads cases over.
pub const TENANTS: [&str; 3] = ["seller-c01", "seller-c02", "seller-c03"];

/// Reply deadline of every information request: far in the future, so it
/// is always valid and deterministic.
pub const DEADLINE: &str = "2099-01-01T00:00:00Z";

/// How the child's threads spend their operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Creates, replies, lifecycle events, merges, follow-ups and small
    /// imports, with default store options.
    Mixed,
    /// Thread 0 runs bulk imports of several chunks (some committed without
    /// fsync); the other threads run the mixed workload.
    Bulk,
}

impl Mode {
    /// The command-line name.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Mixed => "mixed",
            Mode::Bulk => "bulk",
        }
    }

    /// Parses the command-line name.
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "mixed" => Some(Mode::Mixed),
            "bulk" => Some(Mode::Bulk),
            _ => None,
        }
    }
}

/// Cases per import chunk in bulk mode, and how often a chunk is durable:
/// small, so an import spans many chunks and most of them commit without
/// fsync (the store's import pipeline; plain writes stay `Immediate`).
pub const BULK_CHUNK: usize = 40;
/// See [`BULK_CHUNK`].
pub const BULK_DURABLE_EVERY: usize = 4;

/// splitmix64 over the parts: a stable seed for each operation.
pub fn mix(parts: &[u64]) -> u64 {
    let mut h: u64 = 0x9E37_79B9_7F4A_7C15;
    for &p in parts {
        h ^= p;
        h = h.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = h;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        h = z ^ (z >> 31);
    }
    h
}

fn letters(mut n: u64, width: usize, out: &mut String) {
    let mut buf = vec![b'a'; width];
    for slot in buf.iter_mut().rev() {
        *slot = b'a' + (n % 26) as u8;
        n /= 26;
    }
    out.push_str(std::str::from_utf8(&buf).expect("ascii"));
}

/// A unique, letters-only search token. Letters only, framed by `zq`/`qz`,
/// so the analyzers keep it one word and the stemmer leaves it alone.
pub fn token(kind: char, round: u32, thread: u32, seq: u32, sub: u32) -> String {
    let mut s = String::from("zq");
    s.push(kind);
    letters(u64::from(round), 2, &mut s);
    letters(u64::from(thread), 1, &mut s);
    letters(u64::from(seq), 4, &mut s);
    letters(u64::from(sub), 3, &mut s);
    s.push_str("qz");
    s
}

const WORDS: &[&str] = &[
    "refund",
    "delayed",
    "listing",
    "suppressed",
    "payment",
    "account",
    "inventory",
    "shipment",
    "invoice",
    "review",
    "please",
    "help",
    "urgent",
    "warehouse",
    "customer",
    "return",
    "label",
    "brand",
    "pricing",
    "tax",
];

fn sentence(rng: &mut ChaCha8Rng, max_words: usize) -> String {
    let n = rng.random_range(3..=max_words);
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(WORDS[rng.random_range(0..WORDS.len())]);
    }
    out.join(" ")
}

/// A long body now and then makes a transaction span many pages.
fn body_text(rng: &mut ChaCha8Rng, tok: &str) -> String {
    let words = if rng.random_bool(0.1) { 1500 } else { 40 };
    format!("Message {tok}: {}.", sentence(rng, words))
}

/// The seller user of a thread.
pub fn seller_user(thread: u32) -> UserId {
    UserId::parse(&format!("seller{thread}@example.com")).expect("valid user")
}

/// The support agent of a thread.
pub fn agent_user(thread: u32) -> UserId {
    UserId::parse(&format!("agent-{thread}")).expect("valid user")
}

/// A lifecycle event the workload applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ev {
    /// Support picks the case up.
    PickUp,
    /// Support asks for information (deadline [`DEADLINE`]).
    RequestInfo,
    /// Support resolves.
    Resolve,
    /// The seller closes.
    Close,
}

impl Ev {
    /// The core event.
    pub fn event(self) -> CaseEvent {
        match self {
            Ev::PickUp => CaseEvent::PickUp,
            Ev::RequestInfo => CaseEvent::RequestInfo {
                deadline: Timestamp::parse_rfc3339(DEADLINE).expect("valid deadline"),
            },
            Ev::Resolve => CaseEvent::Resolve,
            Ev::Close => CaseEvent::Close,
        }
    }

    /// Whether a seller (rather than support) applies it.
    pub fn by_seller(self) -> bool {
        self == Ev::Close
    }
}

/// One operation of a writer thread. Case indexes are into
/// [`ThreadModel::cases`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// A new case.
    Create,
    /// A message from the seller or from support.
    Reply { case: usize, seller: bool },
    /// A lifecycle event with a note.
    Event { case: usize, ev: Ev },
    /// Support merges `case` into `into` (one write, two threads change).
    Merge { case: usize, into: usize },
    /// A follow-up to a closed case (one write, two cases change).
    FollowUp { of: usize },
    /// Support marks a case complex or not.
    SetComplex { case: usize, complex: bool },
    /// Imports `count` archived cases (numbers `IMP-…`).
    Import { count: u32 },
}

impl Op {
    /// Short name used in ack lines.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Create => "create",
            Op::Reply { .. } => "reply",
            Op::Event { .. } => "event",
            Op::Merge { .. } => "merge",
            Op::FollowUp { .. } => "follow_up",
            Op::SetComplex { .. } => "complex",
            Op::Import { .. } => "import",
        }
    }
}

/// A thread entry as expected (times are the store's and not compared).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpEntry {
    pub actor: Actor,
    pub body: String,
    /// Event, status before, status after.
    pub change: Option<(CaseEvent, Option<Status>, Status)>,
}

impl ExpEntry {
    /// Whether a stored entry is this one.
    pub fn matches(&self, e: &ThreadEntry) -> bool {
        let change = e.change.as_ref().map(|c| (c.event.clone(), c.from, c.to));
        e.actor == self.actor && e.body == self.body && change == self.change && e.attachments.is_empty()
    }
}

/// A case created through the API, as expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelCase {
    /// The operation that created it.
    pub seq: u32,
    /// Its number; `None` for the in-flight create, whose number nobody
    /// was told (it is found by its title token).
    pub number: Option<String>,
    pub tenant: TenantId,
    pub created_by: UserId,
    pub marketplace: Marketplace,
    pub language: LanguageTag,
    pub category: Category,
    pub title: String,
    pub title_token: String,
    pub refs: References,
    pub complex: bool,
    pub status: Status,
    pub assignee: Option<UserId>,
    pub entries: Vec<ExpEntry>,
    pub follow_up_of: Option<String>,
    pub follow_ups: Vec<String>,
    pub merged_into: Option<String>,
    /// Tokens of its texts (title, description, messages).
    pub tokens: Vec<String>,
}

impl ModelCase {
    fn number(&self) -> &str {
        self.number.as_deref().unwrap_or("")
    }
}

/// An import as expected: the archived cases it carries.
#[derive(Debug, Clone)]
pub struct ModelImport {
    pub seq: u32,
    pub cases: Vec<ImportCase>,
}

/// What one writer thread has written, as far as it knows.
#[derive(Debug, Clone)]
pub struct ThreadModel {
    pub seed: u64,
    pub round: u32,
    pub thread: u32,
    pub mode: Mode,
    pub cases: Vec<ModelCase>,
    pub imports: Vec<ModelImport>,
    /// Operations applied so far (the next one is `next_seq`).
    pub next_seq: u32,
}

impl ThreadModel {
    pub fn new(seed: u64, round: u32, thread: u32, mode: Mode) -> Self {
        ThreadModel {
            seed,
            round,
            thread,
            mode,
            cases: Vec::new(),
            imports: Vec::new(),
            next_seq: 0,
        }
    }

    fn rng(&self, seq: u32, purpose: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(mix(&[
            self.seed,
            u64::from(self.round),
            u64::from(self.thread),
            u64::from(seq),
            purpose,
        ]))
    }

    /// The token of kind `kind` of operation `seq` of this thread.
    pub fn tok(&self, kind: char, seq: u32, sub: u32) -> String {
        token(kind, self.round, self.thread, seq, sub)
    }

    /// Whether this thread runs bulk imports.
    pub fn bulk(&self) -> bool {
        self.mode == Mode::Bulk && self.thread == 0
    }

    /// The operation `seq` (which must be `next_seq`), given the state.
    pub fn next_op(&self) -> Op {
        let seq = self.next_seq;
        let mut rng = self.rng(seq, 1);
        if self.bulk() {
            return Op::Import {
                count: rng.random_range(150..=400),
            };
        }
        // Recent live cases only, so threads grow long and events apply.
        let live: Vec<usize> = self
            .cases
            .iter()
            .enumerate()
            .rev()
            .filter(|(_, c)| !c.status.is_final())
            .map(|(i, _)| i)
            .take(12)
            .collect();
        let roll: u32 = rng.random_range(0..100);
        if live.is_empty() || roll < 28 {
            return Op::Create;
        }
        let case = live[rng.random_range(0..live.len())];
        let status = self.cases[case].status;
        match roll {
            28..=57 => Op::Reply {
                case,
                seller: rng.random_bool(0.5),
            },
            58..=84 => {
                let choices: &[Ev] = match status {
                    Status::Open => &[Ev::PickUp, Ev::PickUp, Ev::RequestInfo, Ev::Resolve, Ev::Close],
                    Status::InProgress => &[Ev::RequestInfo, Ev::Resolve, Ev::Resolve, Ev::Close],
                    Status::NeedsAttention => &[Ev::Resolve, Ev::Close],
                    _ => &[Ev::Close],
                };
                Op::Event {
                    case,
                    ev: choices[rng.random_range(0..choices.len())],
                }
            }
            85..=89 => {
                let tenant = &self.cases[case].tenant;
                let targets: Vec<usize> = live
                    .iter()
                    .copied()
                    .filter(|&i| i != case && &self.cases[i].tenant == tenant)
                    .collect();
                if targets.is_empty() {
                    Op::Create
                } else {
                    Op::Merge {
                        case,
                        into: targets[rng.random_range(0..targets.len())],
                    }
                }
            }
            90..=94 => {
                let closed: Vec<usize> = (0..self.cases.len())
                    .filter(|&i| self.cases[i].status == Status::Closed)
                    .collect();
                if closed.is_empty() {
                    Op::Reply { case, seller: true }
                } else {
                    Op::FollowUp {
                        of: closed[rng.random_range(0..closed.len())],
                    }
                }
            }
            95..=97 => Op::SetComplex {
                case,
                complex: !self.cases[case].complex,
            },
            _ => Op::Import {
                count: rng.random_range(1..=12),
            },
        }
    }

    /// The new case of a create or follow-up operation `seq`.
    pub fn new_case(&self, seq: u32) -> NewCase {
        let mut rng = self.rng(seq, 2);
        let title_token = self.tok('t', seq, 0);
        let desc_token = self.tok('d', seq, 0);
        let mut refs = References::default();
        if rng.random_bool(0.4) {
            refs.skus
                .push(Sku::parse(&format!("SKU-{}", self.tok('s', seq, 0))).expect("valid sku"));
        }
        NewCase::new(
            TenantId::parse(TENANTS[rng.random_range(0..TENANTS.len())]).expect("valid tenant"),
            seller_user(self.thread),
            Marketplace::parse(["US", "DE", "JP"][rng.random_range(0..3)]).expect("valid marketplace"),
            LanguageTag::parse(["en", "de"][rng.random_range(0..2)]).expect("valid language"),
            Category::ALL[rng.random_range(0..Category::ALL.len())],
            format!("Crash case {title_token} {}", sentence(&mut rng, 6)),
            body_text(&mut rng, &desc_token),
        )
        .with_refs(refs)
    }

    /// The follow-up of operation `seq`: what [`Self::new_case`] gives,
    /// less what a follow-up takes from the case it continues.
    pub fn follow_up(&self, seq: u32) -> NewFollowUp {
        let new = self.new_case(seq);
        NewFollowUp::new(new.created_by.clone(), new.title, new.description)
    }

    /// The message (reply body or event note) of operation `seq`.
    pub fn message(&self, seq: u32, actor: Actor) -> NewMessage {
        let mut rng = self.rng(seq, 3);
        NewMessage::new(actor, body_text(&mut rng, &self.tok('r', seq, 0)))
    }

    /// Seller or support actor of this thread.
    pub fn actor(&self, seller: bool) -> Actor {
        if seller {
            Actor::Seller(seller_user(self.thread))
        } else {
            Actor::Support(agent_user(self.thread))
        }
    }

    /// The archived cases of import operation `seq`.
    pub fn import_cases(&self, seq: u32, count: u32) -> Vec<ImportCase> {
        (0..count).map(|i| self.import_case(seq, i)).collect()
    }

    fn import_case(&self, seq: u32, i: u32) -> ImportCase {
        let mut rng = self.rng(seq, 100 + u64::from(i));
        let t0 = Timestamp::parse_rfc3339("2025-06-01T00:00:00Z").expect("valid time");
        let at = t0.saturating_add(Span::hours(i64::from(rng.random_range(0..5000u32))));
        let status = [Status::Open, Status::InProgress, Status::Resolved, Status::Closed][rng.random_range(0..4)];
        let mut state = CaseState::new(at);
        state.status = status;
        if status == Status::Closed {
            state.closed_at = Some(at);
        }
        let seller = seller_user(self.thread);
        let entries = rng.random_range(1..=3u32);
        let thread = (0..entries)
            .map(|e| ThreadEntry {
                at,
                actor: if e % 2 == 0 {
                    Actor::Seller(seller.clone())
                } else {
                    Actor::Support(agent_user(self.thread))
                },
                change: None,
                body: body_text(&mut rng, &self.tok('j', seq, i * 4 + e)),
                attachments: vec![],
            })
            .collect();
        ImportCase {
            case: Case {
                id: CaseId(0),
                number: CaseNumber::parse_imported(&format!("IMP-{}-{}-{seq}-{i}", self.round, self.thread))
                    .expect("valid imported number"),
                tenant: TenantId::parse(TENANTS[rng.random_range(0..TENANTS.len())]).expect("valid tenant"),
                created_by: seller,
                assignee: None,
                handler: None,
                marketplace: Marketplace::parse("UK").expect("valid marketplace"),
                language: LanguageTag::parse("en").expect("valid language"),
                category: Category::ALL[rng.random_range(0..Category::ALL.len())],
                title: format!("Archived {}", self.tok('i', seq, i)),
                refs: References::default(),
                state,
                complex: false,
                tier: PerformanceTier::Standard,
                links: CaseLinks::default(),
                entries: 0,
                imported: false,
            },
            thread,
        }
    }

    /// The status the store must answer for a case after `op` (for the
    /// cases the op names), per the lifecycle rules.
    pub fn status_after(&self, op: &Op) -> Option<Status> {
        match *op {
            Op::Reply { case, seller } => Some(reply_status(self.cases[case].status, seller)),
            Op::Event { ev, .. } => Some(match ev {
                Ev::PickUp => Status::InProgress,
                Ev::RequestInfo => Status::NeedsAttention,
                Ev::Resolve => Status::Resolved,
                Ev::Close => Status::Closed,
            }),
            Op::Merge { .. } => Some(Status::Merged),
            _ => None,
        }
    }

    fn model_case(&self, seq: u32, new: NewCase, number: Option<String>) -> ModelCase {
        let desc_token = self.tok('d', seq, 0);
        ModelCase {
            seq,
            number,
            tenant: new.tenant.clone(),
            created_by: new.created_by.clone(),
            marketplace: new.marketplace.clone(),
            language: new.language.clone(),
            category: new.category,
            title: new.title.to_owned(),
            title_token: self.tok('t', seq, 0),
            refs: new.refs.clone(),
            complex: false,
            status: Status::Open,
            assignee: None,
            entries: vec![ExpEntry {
                actor: Actor::Seller(new.created_by.clone()),
                body: new.description.to_owned(),
                change: Some((CaseEvent::Create, None, Status::Open)),
            }],
            follow_up_of: None,
            follow_ups: Vec::new(),
            merged_into: None,
            tokens: vec![self.tok('t', seq, 0), desc_token],
        }
    }

    /// Applies operation `next_seq` (as returned by [`Self::next_op`]);
    /// `number` is the number the store gave a created case (`None` when
    /// the answer was never seen).
    pub fn apply(&mut self, op: &Op, number: Option<String>) {
        let seq = self.next_seq;
        match *op {
            Op::Create => {
                let new = self.new_case(seq);
                let case = self.model_case(seq, new, number);
                self.cases.push(case);
            }
            Op::Reply { case, seller } => {
                let msg = self.message(seq, self.actor(seller));
                let tok = self.tok('r', seq, 0);
                let c = &mut self.cases[case];
                let to = reply_status(c.status, seller);
                c.entries.push(ExpEntry {
                    actor: msg.actor.clone(),
                    body: msg.body.to_owned(),
                    change: (to != c.status).then_some((CaseEvent::Reply, Some(c.status), to)),
                });
                c.status = to;
                c.tokens.push(tok);
            }
            Op::Event { case, ev } => {
                let msg = self.message(seq, self.actor(ev.by_seller()));
                let tok = self.tok('r', seq, 0);
                let to = self.status_after(op).expect("event status");
                let c = &mut self.cases[case];
                c.entries.push(ExpEntry {
                    actor: msg.actor.clone(),
                    body: msg.body.to_owned(),
                    change: Some((ev.event(), Some(c.status), to)),
                });
                if ev == Ev::PickUp {
                    c.assignee = msg.actor.user().cloned();
                }
                c.status = to;
                c.tokens.push(tok);
            }
            Op::Merge { case, into } => {
                let msg = self.message(seq, self.actor(false));
                let tok = self.tok('r', seq, 0);
                let target = self.cases[into].number().to_owned();
                let merged = self.cases[case].number().to_owned();
                let c = &mut self.cases[case];
                let event = CaseEvent::MergeInto {
                    target: CaseNumber::parse(&target).expect("generated number"),
                };
                c.entries.push(ExpEntry {
                    actor: msg.actor.clone(),
                    body: msg.body.to_owned(),
                    change: Some((event, Some(c.status), Status::Merged)),
                });
                c.status = Status::Merged;
                c.merged_into = Some(target);
                c.tokens.push(tok);
                self.cases[into].entries.push(ExpEntry {
                    actor: Actor::System,
                    body: format!("Case {merged} was merged into this case."),
                    change: None,
                });
            }
            Op::FollowUp { of } => {
                let asked = self.new_case(seq);
                let old = &self.cases[of];
                let mut refs = old.refs.clone();
                refs.cases
                    .push(CaseNumber::parse(old.number()).expect("generated number"));
                // A follow-up takes tenant, marketplace, language, category
                // and references from the case it continues.
                let new = NewCase::new(
                    old.tenant.clone(),
                    asked.created_by.clone(),
                    old.marketplace.clone(),
                    old.language.clone(),
                    old.category,
                    asked.title,
                    asked.description,
                )
                .with_refs(refs);
                let mut case = self.model_case(seq, new, number.clone());
                case.follow_up_of = old.number.clone();
                if let Some(n) = number {
                    self.cases[of].follow_ups.push(n);
                }
                self.cases.push(case);
            }
            Op::SetComplex { case, complex } => {
                // Recorded in the thread with the agent, no status change.
                let actor = self.actor(false);
                let c = &mut self.cases[case];
                c.complex = complex;
                c.entries.push(ExpEntry {
                    actor,
                    body: String::new(),
                    change: Some((CaseEvent::SetComplex { complex }, Some(c.status), c.status)),
                });
            }
            Op::Import { count } => {
                let cases = self.import_cases(seq, count);
                self.imports.push(ModelImport { seq, cases });
            }
        }
        self.next_seq += 1;
    }
}

/// A reply's effect on the status (within the reopen window, as every
/// reply of the workload is).
pub fn reply_status(status: Status, seller: bool) -> Status {
    match (status, seller) {
        (Status::NeedsAttention | Status::Resolved, true) => Status::InProgress,
        (s, _) => s,
    }
}

/// The test switch `CASELOG_CRASH_NO_OPEN_CHECK=1`: child and parent open
/// the store without the open-time duplicate check, so a case indexed twice
/// is not quietly re-indexed at open but shows in the index counters (and,
/// were the counters silent, in `verify`). The child inherits it.
pub fn open_check_disabled() -> bool {
    std::env::var("CASELOG_CRASH_NO_OPEN_CHECK").is_ok_and(|v| v.trim() == "1")
}

/// The test switch `CASELOG_CRASH_MERGE_MIN_SEGMENTS=N`: the child's index
/// merges N segments of a size class at once (2: after almost every
/// commit) instead of the default 8, so kills land among merges more often.
pub fn merge_min_segments() -> Option<usize> {
    std::env::var("CASELOG_CRASH_MERGE_MIN_SEGMENTS")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The options the child opens the store with: the defaults (durable,
/// `Immediate`), except no timer thread and the import chunking in bulk
/// mode.
pub fn child_options(mode: Mode) -> caselog_store::Options {
    let base = caselog_store::Options::default();
    let defaults = caselog_store::Options {
        index_merge_min_segments: merge_min_segments().unwrap_or(base.index_merge_min_segments),
        index_open_duplicate_check: !open_check_disabled(),
        // The workload's model has no timers: none run behind its back.
        timer_interval: None,
        // Checkpoints of the write-ahead log every 50 ms, so kills land in
        // log appends, in checkpoints and (at the next open) in replay.
        checkpoint_interval: std::time::Duration::from_millis(50),
        ..base
    };
    match mode {
        Mode::Mixed => defaults,
        Mode::Bulk => caselog_store::Options {
            import_chunk: BULK_CHUNK,
            import_durable_every: BULK_DURABLE_EVERY,
            ..defaults
        },
    }
}

/// One line the child writes on stdout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChildLine {
    /// The process runs and is about to open the store.
    Started,
    /// Progress of the index rebuild open started (in the background):
    /// done, total.
    Progress(u64, u64),
    /// The rebuilt index is installed.
    IndexReady,
    /// The index's self-check counters changed: cases the open-time check
    /// found indexed twice, commits after which the document count was
    /// wrong, searcher generations published with stale documents.
    Counters(u64, u64, u64),
    /// The store is open.
    Opened,
    /// Operation `seq` of `thread` was acknowledged; its kind, and the
    /// number of the case it created, if any.
    Ack {
        thread: u32,
        seq: u32,
        kind: String,
        number: Option<String>,
    },
    /// Something the child did not expect.
    Failed(String),
}

impl ChildLine {
    /// The line, without its newline.
    pub fn render(&self) -> String {
        match self {
            ChildLine::Started => "S".into(),
            ChildLine::Progress(d, t) => format!("P {d} {t}"),
            ChildLine::IndexReady => "I".into(),
            ChildLine::Counters(d, m, s) => format!("C {d} {m} {s}"),
            ChildLine::Opened => "O".into(),
            ChildLine::Ack {
                thread,
                seq,
                kind,
                number,
            } => format!("A {thread} {seq} {kind} {}", number.as_deref().unwrap_or("-")),
            ChildLine::Failed(why) => format!("F {}", why.replace('\n', " ")),
        }
    }

    /// Parses a line written by [`Self::render`].
    pub fn parse(line: &str) -> Option<ChildLine> {
        let mut parts = line.splitn(2, ' ');
        let tag = parts.next()?;
        let rest = parts.next().unwrap_or("");
        match tag {
            "S" => Some(ChildLine::Started),
            "O" => Some(ChildLine::Opened),
            "I" => Some(ChildLine::IndexReady),
            "C" => {
                let mut it = rest.split(' ');
                Some(ChildLine::Counters(
                    it.next()?.parse().ok()?,
                    it.next()?.parse().ok()?,
                    it.next()?.parse().ok()?,
                ))
            }
            "F" => Some(ChildLine::Failed(rest.to_owned())),
            "P" => {
                let mut it = rest.split(' ');
                Some(ChildLine::Progress(it.next()?.parse().ok()?, it.next()?.parse().ok()?))
            }
            "A" => {
                let f: Vec<&str> = rest.split(' ').collect();
                if f.len() != 4 {
                    return None;
                }
                Some(ChildLine::Ack {
                    thread: f[0].parse().ok()?,
                    seq: f[1].parse().ok()?,
                    kind: f[2].to_owned(),
                    number: (f[3] != "-").then(|| f[3].to_owned()),
                })
            }
            _ => None,
        }
    }
}
