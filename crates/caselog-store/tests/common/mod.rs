//! Helpers shared by the store's integration tests.
#![allow(dead_code)]

use caselog_core::*;
use caselog_store::*;

pub fn ts(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap()
}

pub fn tenant(s: &str) -> TenantId {
    TenantId::parse(s).unwrap()
}

pub fn user(s: &str) -> UserId {
    UserId::parse(s).unwrap()
}

pub fn seller(s: &str) -> Actor {
    Actor::Seller(user(s))
}

pub fn agent(s: &str) -> Actor {
    Actor::Support(user(s))
}

pub fn new_case(tenant_id: &str, by: &str, category: Category, title: &str, at: Option<Timestamp>) -> NewCase {
    NewCase {
        tenant: tenant(tenant_id),
        created_by: user(by),
        marketplace: Marketplace::parse("US").unwrap(),
        language: LanguageTag::parse("en").unwrap(),
        category,
        title: title.into(),
        description: format!("Description of {title}"),
        attachments: vec![],
        refs: References::default(),
        complex: false,
        at,
    }
}

/// Options for tests that do many writes: deferred durability (each test
/// store is thrown away) and small caches.
pub fn fast_options() -> Options {
    Options {
        durability: Durability::Deferred,
        cache_bytes: 8 * 1024 * 1024,
        index_heap_bytes: 15_000_000,
        ..Options::default()
    }
}
