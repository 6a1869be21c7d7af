//! The deterministic demo archive.
//!
//! Case `k` (0 is the newest) depends only on the seed and `k`: its own
//! ChaCha8 stream gives its tenant, time, category, texts and thread. So an
//! archive of N cases is the first N cases of any larger one, and numbers
//! are stable: running the demo again skips what is already there.
//! (Related-case references point at older cases inside the archive, so the
//! oldest few cases of a small archive may lack one that a larger archive
//! gives them.)
//!
//! Threads are made by the core lifecycle rules themselves ([`create`] and
//! [`transition`]), so every status, timestamp and recorded change is one
//! the store could have produced.

use caselog_core::{
    create, transition, Actor, Asin, AttachmentKind, AttachmentMeta, CaseEvent, CaseId, CaseNumber, CaseState,
    Category, ContentHash, LanguageTag, LifecyclePolicy, Marketplace, OrderId, PerformanceTier, References, Sku, Span,
    Status, TenantId, Timestamp, TransitionError, UserId, HOUR_MS,
};
use caselog_store::{Case, CaseLinks, ImportCase, StatusChange, ThreadEntry};
use rand::seq::IndexedRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::content::{chinese, english, Replies, CHINESE_REPLIES, ENGLISH_REPLIES};

/// The demo's "now": the newest case is a couple of hours before it.
pub const ANCHOR: &str = "2026-03-31T18:00:00Z";

/// Minutes between consecutive cases (so 50,000 cases span about 590 days).
const SPACING_MINUTES: i64 = 17;

/// Number of tenants; the first [`BIG_TENANTS`] get 30% of all cases.
pub const TENANTS: u32 = 600;
const BIG_TENANTS: u32 = 12;

/// How far back a case looks for an older case of its tenant to reference.
const LOOKBACK: u64 = 3_000;

/// The generator of one demo archive.
#[derive(Debug, Clone)]
pub struct Generator {
    seed: u64,
    cases: u64,
    anchor: Timestamp,
    policy: LifecyclePolicy,
}

/// What the first draws of a case's stream decide.
struct Head {
    tenant: u32,
    created_at: Timestamp,
}

/// A random element of one of this module's constant lists.
fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    items.choose(rng).expect("the demo's lists are non-empty constants")
}

/// A random text of one of this module's constant lists.
fn pick_str(rng: &mut ChaCha8Rng, items: &[&'static str]) -> &'static str {
    items.choose(rng).copied().unwrap_or_default()
}

/// The tenant id of tenant `index`.
pub fn tenant_id(index: u32) -> TenantId {
    TenantId::parse(&format!("seller-{:04}", index + 1)).expect("seller-NNNN is a valid tenant id")
}

fn user(name: &str) -> UserId {
    UserId::parse(name).expect("the demo's user names are valid")
}

/// Whether tenant `index` is a Chinese-speaking seller (30% of tenants).
fn chinese_tenant(index: u32) -> bool {
    index % 10 < 3
}

/// The number of case `k`: 11 digits, newer cases higher, unique per `k`.
pub fn number(k: u64) -> CaseNumber {
    let value = 17_999_999_999u64
        .saturating_sub(k.saturating_mul(7))
        .saturating_sub((k % 7 * 5 + 3) % 7);
    CaseNumber::parse(&value.to_string()).expect("the demo's numbers have 11 digits up to --cases' limit")
}

const MARKETPLACES: &[(&str, u32)] = &[
    ("US", 50),
    ("UK", 12),
    ("DE", 12),
    ("JP", 8),
    ("FR", 6),
    ("IT", 4),
    ("ES", 4),
    ("CA", 4),
];

const PRODUCTS: &[&str] = &[
    "MUG", "TEE", "CASE", "LAMP", "BOTTLE", "BAG", "SOCK", "CABLE", "TOWEL", "PEN",
];
const COLOURS: &[&str] = &["RED", "BLU", "BLK", "WHT", "GRN", "GRY"];
const ORDER_PREFIXES: &[&str] = &[
    "111", "112", "113", "114", "171", "202", "203", "249", "302", "303", "305", "402", "701",
];
const ASIN_CHARS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ0123456789";
const AGENTS: u32 = 40;

/// Category weights (all twelve appear).
const CATEGORY_WEIGHTS: &[(Category, u32)] = &[
    (Category::AccountHealth, 8),
    (Category::IdentityVerification, 4),
    (Category::Listing, 16),
    (Category::BrandRegistry, 5),
    (Category::Orders, 12),
    (Category::FbaInventory, 14),
    (Category::ShippingReturns, 11),
    (Category::Payments, 9),
    (Category::Tax, 4),
    (Category::Advertising, 6),
    (Category::Pricing, 5),
    (Category::Other, 6),
];

fn weighted<T: Copy>(rng: &mut ChaCha8Rng, items: &[(T, u32)]) -> Option<T> {
    let total: u32 = items.iter().map(|(_, w)| *w).sum();
    let mut roll = rng.random_range(0..total.max(1));
    for (item, w) in items {
        if roll < *w {
            return Some(*item);
        }
        roll -= w;
    }
    items.first().map(|(i, _)| *i)
}

/// The status a case ends in, by its age: recent cases are still being
/// worked on; after two weeks a case is closed or merged (the system's
/// timers close resolved cases after the reopen window and resolve cases
/// whose reply deadline passed) but for a few long-running ones, and after
/// two months every case is.
fn target_status(rng: &mut ChaCha8Rng, age_days: i64) -> Status {
    use Status::*;
    let mix: &[(Status, u32)] = if age_days < 2 {
        &[
            (Open, 30),
            (InProgress, 25),
            (NeedsAttention, 15),
            (Resolved, 15),
            (Closed, 10),
            (Merged, 5),
        ]
    } else if age_days < 14 {
        &[
            (Open, 8),
            (InProgress, 20),
            (NeedsAttention, 17),
            (Resolved, 25),
            (Closed, 24),
            (Merged, 6),
        ]
    } else if age_days < 60 {
        &[(InProgress, 2), (Closed, 90), (Merged, 8)]
    } else {
        &[(Closed, 92), (Merged, 8)]
    };
    weighted(rng, mix).unwrap_or(Closed)
}

/// The references of one case and the values its texts use.
#[derive(Clone)]
struct Refs {
    order: OrderId,
    asin: Asin,
    sku: Sku,
    n: u32,
    refs: References,
}

fn order_id(rng: &mut ChaCha8Rng) -> OrderId {
    let prefix = pick(rng, ORDER_PREFIXES);
    let a: u32 = rng.random_range(0..10_000_000);
    let b: u32 = rng.random_range(0..10_000_000);
    OrderId::parse(&format!("{prefix}-{a:07}-{b:07}")).expect("3-7-7 digits make an order id")
}

fn asin(rng: &mut ChaCha8Rng) -> Asin {
    let mut s = String::from("B0");
    for _ in 0..8 {
        s.push(char::from(*pick(rng, ASIN_CHARS)));
    }
    Asin::parse(&s).expect("B0 and 8 letters or digits make an ASIN")
}

fn sku(rng: &mut ChaCha8Rng) -> Sku {
    let p = pick(rng, PRODUCTS);
    let c = pick(rng, COLOURS);
    Sku::parse(&format!("{p}-{c}-{:02}", rng.random_range(1..40))).expect("PRODUCT-COLOUR-NN is a SKU")
}

/// Fills a template's placeholders and records the references it names.
fn fill(template: &str, r: &mut Refs, case: &str, days: i64) -> String {
    let mut text = template.to_owned();
    if text.contains("{order}") {
        text = text.replace("{order}", r.order.as_str());
        if !r.refs.orders.contains(&r.order) {
            r.refs.orders.push(r.order.clone());
        }
    }
    if text.contains("{asin}") {
        text = text.replace("{asin}", r.asin.as_str());
        if !r.refs.asins.contains(&r.asin) {
            r.refs.asins.push(r.asin.clone());
        }
    }
    if text.contains("{sku}") {
        text = text.replace("{sku}", r.sku.as_str());
        if !r.refs.skus.contains(&r.sku) {
            r.refs.skus.push(r.sku.clone());
        }
    }
    text.replace("{n}", &r.n.to_string())
        .replace("{case}", case)
        .replace("{days}", &days.to_string())
}

/// Builds a thread step by step through the lifecycle rules.
struct Thread<'g> {
    policy: &'g LifecyclePolicy,
    state: CaseState,
    entries: Vec<ThreadEntry>,
    /// The time of the last step.
    at: Timestamp,
    /// Factor applied to every wait.
    scale: f64,
}

/// What a case's thread is made from.
struct Plan<'a> {
    seller: &'a Actor,
    agent: &'a Actor,
    agent_id: &'a UserId,
    replies: &'a Replies,
    target: Status,
    merge_into: Option<(u64, Timestamp)>,
    created_at: Timestamp,
    description: String,
}

impl Thread<'_> {
    fn step(&mut self, actor: &Actor, event: CaseEvent, body: String) -> Result<(), TransitionError> {
        let t = transition(&self.state, actor, &event, self.at, self.policy)?;
        let changed = t.record.from != Some(t.record.to);
        self.entries.push(ThreadEntry {
            at: self.at,
            actor: actor.clone(),
            // As the store records it: a reply without a status change is
            // a plain message.
            change: (changed || event != CaseEvent::Reply).then(|| StatusChange {
                event: t.record.event.clone(),
                from: t.record.from,
                to: t.record.to,
            }),
            body,
            attachments: Vec::new(),
        });
        self.state = t.state;
        Ok(())
    }

    fn wait(&mut self, rng: &mut ChaCha8Rng, min_hours: i64, max_hours: i64) {
        let ms = rng.random_range(min_hours * HOUR_MS..=max_hours * HOUR_MS);
        let scaled = (ms as f64 * self.scale) as i64;
        self.at = self.at.saturating_add(Span(scaled - scaled.rem_euclid(1000)));
    }
}

fn attachment(rng: &mut ChaCha8Rng, name: &str, kind: AttachmentKind) -> AttachmentMeta {
    let mut hash = [0u8; 32];
    rng.fill(&mut hash);
    AttachmentMeta {
        name: name.to_owned(),
        kind,
        size: rng.random_range(20_000..2_000_000),
        sha256: ContentHash(hash),
    }
}

/// One generated case, with what the tour wants to know about it.
pub struct Generated {
    /// The case to import.
    pub case: ImportCase,
    /// The tenant index.
    pub tenant: u32,
}

impl Generator {
    /// A generator of `cases` cases from `seed`.
    pub fn new(seed: u64, cases: u64) -> Generator {
        Generator {
            seed,
            cases,
            anchor: Timestamp::parse_rfc3339(ANCHOR).unwrap_or(Timestamp::EPOCH),
            policy: LifecyclePolicy::default(),
        }
    }

    /// The demo's "now".
    pub fn anchor(&self) -> Timestamp {
        self.anchor
    }

    fn rng(&self, k: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(self.seed ^ k.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    /// Tenant and creation time of case `k`: the first draws of its stream.
    fn head(&self, k: u64, rng: &mut ChaCha8Rng) -> Head {
        let tenant = if rng.random_bool(0.3) {
            rng.random_range(0..BIG_TENANTS)
        } else {
            rng.random_range(BIG_TENANTS..TENANTS)
        };
        let spacing = SPACING_MINUTES * 60_000;
        // Whole seconds, as people's clocks show them.
        let jitter = rng.random_range(0..spacing) / 1000 * 1000;
        let back = (k as i64)
            .saturating_mul(spacing)
            .saturating_add(jitter)
            .saturating_add(2 * HOUR_MS);
        Head {
            tenant,
            created_at: self.anchor.saturating_sub(Span(back)),
        }
    }

    fn head_of(&self, k: u64) -> Head {
        self.head(k, &mut self.rng(k))
    }

    /// The nearest case in `range` (in order) of the same tenant.
    fn same_tenant(&self, tenant: u32, range: impl Iterator<Item = u64>) -> Option<(u64, Head)> {
        range
            .take(LOOKBACK as usize)
            .map(|j| (j, self.head_of(j)))
            .find(|(_, h)| h.tenant == tenant)
    }

    /// Case `k` (0 is the newest).
    pub fn case(&self, k: u64) -> Result<Generated, TransitionError> {
        let mut rng = self.rng(k);
        let head = self.head(k, &mut rng);
        let tenant = tenant_id(head.tenant);
        let zh = chinese_tenant(head.tenant) && rng.random_bool(0.8);
        let category = weighted(&mut rng, CATEGORY_WEIGHTS).unwrap_or(Category::Other);
        let texts = if zh { chinese(category) } else { english(category) };
        let replies: &Replies = if zh { &CHINESE_REPLIES } else { &ENGLISH_REPLIES };
        let users: &[&str] = if chinese_tenant(head.tenant) {
            &["li.na", "wang.fang", "ops"]
        } else {
            &["ops", "owner", "support"]
        };
        let creator = user(&format!("{}@{}.example", pick(&mut rng, users), tenant));
        let seller = Actor::Seller(creator.clone());
        let agent_id = user(&format!("agent-{:02}", rng.random_range(1..=AGENTS)));
        let agent = Actor::Support(agent_id.clone());
        let marketplace = weighted(&mut rng, MARKETPLACES).unwrap_or("US");
        let mut refs = Refs {
            order: order_id(&mut rng),
            asin: asin(&mut rng),
            sku: sku(&mut rng),
            n: rng.random_range(2..120),
            refs: References::default(),
        };
        // Extra references beyond what the texts name.
        if rng.random_bool(0.25) {
            refs.refs.orders.push(order_id(&mut rng));
        }
        if rng.random_bool(0.2) {
            refs.refs.skus.push(sku(&mut rng));
        }
        if rng.random_bool(0.05) {
            if let Some((j, _)) = self.same_tenant(head.tenant, k + 1..self.cases) {
                refs.refs.cases.push(number(j));
            }
        }
        // A title and the description written for it (descriptions are
        // paired with titles by position).
        let which = rng.random_range(0..texts.titles.len().max(1));
        let title_text = texts.titles.get(which).copied().unwrap_or_default();
        let description_text = texts
            .descriptions
            .get(which % texts.descriptions.len().max(1))
            .copied()
            .unwrap_or_default();
        let title = fill(title_text, &mut refs, "", 0);
        let description = fill(description_text, &mut refs, "", 0);
        let age_days = self.anchor.since(head.created_at).as_millis() / caselog_core::DAY_MS;
        let mut target = target_status(&mut rng, age_days);
        let merge_into = if target == Status::Merged {
            // Folded into a newer case of the same seller (it always exists
            // in the archive, whatever its size).
            let found = self.same_tenant(head.tenant, (0..k).rev());
            if found.is_none() {
                target = Status::Closed;
            }
            found
        } else {
            None
        };

        let plan = Plan {
            seller: &seller,
            agent: &agent,
            agent_id: &agent_id,
            replies,
            target,
            merge_into: merge_into.map(|(j, h)| (j, h.created_at)),
            created_at: head.created_at,
            description,
        };
        // Recent cases must not run past the demo's "now": if the thread
        // does, it is made again from the same draws with shorter waits.
        let (thread_rng, refs_before) = (rng.clone(), refs.clone());
        let (mut th, mut assignee) = self.thread(&mut rng, &plan, &mut refs, 1.0)?;
        let limit = self.anchor.saturating_sub(Span::hours(1));
        if th.at > limit {
            let room = limit.since(head.created_at).as_millis().max(0) as f64;
            let used = th.at.since(head.created_at).as_millis().max(1) as f64;
            rng = thread_rng;
            refs = refs_before;
            // Spread the shortened threads' ends over the room left rather
            // than stacking them all just before the limit.
            let spread = 0.5 + 0.45 * ((k.wrapping_mul(37) % 101) as f64 / 100.0);
            (th, assignee) = self.thread(&mut rng, &plan, &mut refs, room / used * spread)?;
        }
        let Thread { state, entries, .. } = th;
        let case = Case {
            id: CaseId(0),
            number: number(k),
            tenant,
            created_by: creator,
            assignee,
            handler: None,
            marketplace: Marketplace::parse(marketplace).expect("the demo's marketplaces are valid"),
            language: LanguageTag::parse(if zh { "zh" } else { "en" }).expect("en and zh are language tags"),
            category,
            title,
            refs: refs.refs.normalised().unwrap_or_default(),
            state,
            complex: rng.random_bool(0.03),
            tier: PerformanceTier::Standard,
            links: CaseLinks::default(),
            entries: 0,
            imported: true,
        };
        Ok(Generated {
            case: ImportCase { case, thread: entries },
            tenant: head.tenant,
        })
    }

    /// The thread of a case, made through the lifecycle rules; waits are
    /// multiplied by `scale`. Returns it with the assignee.
    fn thread<'p>(
        &'p self,
        rng: &mut ChaCha8Rng,
        plan: &Plan<'_>,
        refs: &mut Refs,
        scale: f64,
    ) -> Result<(Thread<'p>, Option<UserId>), TransitionError> {
        let created = create(plan.seller, plan.created_at)?;
        let mut first = ThreadEntry {
            at: plan.created_at,
            actor: plan.seller.clone(),
            change: Some(StatusChange {
                event: CaseEvent::Create,
                from: None,
                to: Status::Open,
            }),
            body: plan.description.clone(),
            attachments: Vec::new(),
        };
        if rng.random_bool(0.15) {
            let (name, kind) = *pick(
                rng,
                &[
                    ("invoice.pdf", AttachmentKind::Pdf),
                    ("screenshot.png", AttachmentKind::Png),
                    ("proof_of_delivery.pdf", AttachmentKind::Pdf),
                    ("photo.jpg", AttachmentKind::Jpeg),
                ],
            );
            first.attachments.push(attachment(rng, name, kind));
        }
        let mut th = Thread {
            policy: &self.policy,
            state: created.state,
            entries: vec![first],
            at: plan.created_at,
            scale,
        };
        let messages: usize = rng.random_range(1..=8);
        let min = match plan.target {
            Status::Open => 1,
            Status::InProgress | Status::NeedsAttention | Status::Resolved | Status::Merged => 2,
            Status::Closed => 3,
        };
        let mut fillers = messages.saturating_sub(min);
        let days = rng.random_range(3..=7);
        let mut assignee = None;
        if plan.target == Status::Open {
            for _ in 0..fillers.min(2) {
                th.wait(rng, 6, 72);
                th.step(
                    plan.seller,
                    CaseEvent::Reply,
                    pick(rng, plan.replies.seller).to_string(),
                )?;
            }
        } else {
            // Support picks the case up when there is room for it.
            let pick_up = plan.target == Status::InProgress || fillers > 0;
            if pick_up {
                th.wait(rng, 1, 30);
                th.step(
                    plan.agent,
                    CaseEvent::PickUp,
                    pick(rng, plan.replies.pick_up).to_string(),
                )?;
                assignee = Some(plan.agent_id.clone());
                if plan.target != Status::InProgress {
                    fillers -= 1;
                }
            }
            while fillers > 0 {
                th.wait(rng, 1, 48);
                if fillers >= 2 && rng.random_bool(0.4) {
                    let body = fill(pick_str(rng, plan.replies.request_info), refs, "", days);
                    let deadline = th.at.saturating_add(Span::days(days));
                    th.step(plan.agent, CaseEvent::RequestInfo { deadline }, body)?;
                    th.wait(rng, 2, 60);
                    let mut answer = pick(rng, plan.replies.seller_answer).to_string();
                    if answer.contains("invoice") || answer.contains("文件") {
                        answer = fill(&answer, refs, "", days);
                    }
                    th.step(plan.seller, CaseEvent::Reply, answer)?;
                    if let Some(last) = th.entries.last_mut() {
                        last.attachments
                            .push(attachment(rng, "invoice.pdf", AttachmentKind::Pdf));
                    }
                    fillers -= 2;
                } else if th.entries.len() % 2 == 0 {
                    th.step(
                        plan.seller,
                        CaseEvent::Reply,
                        pick(rng, plan.replies.seller).to_string(),
                    )?;
                    fillers -= 1;
                } else {
                    th.step(
                        plan.agent,
                        CaseEvent::Reply,
                        pick(rng, plan.replies.support).to_string(),
                    )?;
                    fillers -= 1;
                }
            }
            match plan.target {
                Status::NeedsAttention => {
                    th.wait(rng, 1, 24);
                    let body = fill(pick_str(rng, plan.replies.request_info), refs, "", days);
                    let deadline = th.at.saturating_add(Span::days(days));
                    th.step(plan.agent, CaseEvent::RequestInfo { deadline }, body)?;
                }
                Status::Resolved | Status::Closed => {
                    th.wait(rng, 1, 48);
                    th.step(
                        plan.agent,
                        CaseEvent::Resolve,
                        pick(rng, plan.replies.resolve).to_string(),
                    )?;
                    if plan.target == Status::Closed {
                        // Auto-close waits out the reopen window, which a
                        // shortened (recent) thread has no room for.
                        if rng.random_bool(0.5) || scale < 1.0 {
                            th.wait(rng, 1, 72);
                            th.step(plan.seller, CaseEvent::Close, pick(rng, plan.replies.close).to_string())?;
                        } else {
                            let window = self.policy.reopen_window.as_millis();
                            th.at = th.at.saturating_add(Span(window + rng.random_range(1..48) * HOUR_MS));
                            th.step(&Actor::System, CaseEvent::AutoClose, plan.replies.auto_close.to_owned())?;
                        }
                    }
                }
                Status::Merged => {
                    if let Some((j, target_created)) = &plan.merge_into {
                        th.wait(rng, 1, 24);
                        // Not before the surviving case exists.
                        th.at = th.at.max(target_created.saturating_add(Span::hours(1)));
                        let target = number(*j);
                        let body = plan.replies.merge.replace("{case}", target.as_str());
                        th.step(plan.agent, CaseEvent::MergeInto { target }, body)?;
                    }
                }
                Status::Open | Status::InProgress => {}
            }
        }
        Ok((th, assignee))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn the_archive_is_deterministic_and_prefix_stable() {
        let small = Generator::new(42, 50);
        let large = Generator::new(42, 5_000);
        for k in [0, 1, 7, 20] {
            let a = small.case(k).unwrap().case;
            let b = large.case(k).unwrap().case;
            assert_eq!(a.case.number, b.case.number);
            assert_eq!(a.thread, b.thread);
            assert_eq!(a.case.state, b.case.state);
        }
        assert_ne!(
            Generator::new(1, 50).case(3).unwrap().case.thread,
            Generator::new(2, 50).case(3).unwrap().case.thread
        );
    }

    #[test]
    fn covers_every_category_and_status_with_valid_threads() {
        let g = Generator::new(42, 2_000);
        let mut categories = BTreeSet::new();
        let mut statuses = BTreeSet::new();
        let mut numbers = BTreeSet::new();
        let mut chinese = 0;
        for k in 0..2_000 {
            let c = g.case(k).unwrap().case;
            categories.insert(c.case.category);
            statuses.insert(c.case.status());
            assert!(numbers.insert(c.case.number.clone()), "duplicate number");
            assert!((1..=8).contains(&c.thread.len()), "{} entries", c.thread.len());
            // The recorded trail replays to the stored state under the rules.
            let trail: Vec<caselog_core::RecordedEvent> = c
                .thread
                .iter()
                .filter_map(|e| {
                    e.change.as_ref().map(|ch| caselog_core::RecordedEvent {
                        at: e.at,
                        actor: e.actor.clone(),
                        event: ch.event.clone(),
                        from: ch.from,
                        to: ch.to,
                    })
                })
                .collect();
            let replayed = caselog_core::replay(&trail, &LifecyclePolicy::default()).unwrap();
            assert_eq!(replayed.status, c.case.status());
            if c.case.language.as_str() == "zh" {
                chinese += 1;
            }
            // Every generated line is valid interchange.
            let line = caselog_store::interchange::to_line(&c.case, &c.thread);
            caselog_store::interchange::parse_line(&line).unwrap();
        }
        assert_eq!(categories.len(), 12);
        assert_eq!(statuses.len(), 6);
        assert!(chinese > 100, "{chinese} Chinese cases");
    }
}
