//! Case categories: what a case is about, which routes it and sets its
//! default priority class.

use crate::ident_enum::ident_enum;
use crate::queue::PriorityClass;

ident_enum! {
    /// What a case is about. The identifiers are used in every interface.
    Category, "category" {
        /// Account suspension or deactivation.
        AccountHealth = "account_health",
        /// Identity verification.
        IdentityVerification = "identity_verification",
        /// A suppressed or blocked listing (ASIN).
        Listing = "listing",
        /// Brand registry.
        BrandRegistry = "brand_registry",
        /// Orders.
        Orders = "orders",
        /// FBA inventory (lost, damaged, stranded).
        FbaInventory = "fba_inventory",
        /// Shipping and returns.
        ShippingReturns = "shipping_returns",
        /// Payments and disbursements.
        Payments = "payments",
        /// Tax.
        Tax = "tax",
        /// Advertising.
        Advertising = "advertising",
        /// Pricing.
        Pricing = "pricing",
        /// Anything else.
        Other = "other",
    }
}

impl Category {
    /// The priority class SPEC.md assigns to the category by default.
    pub const fn default_class(self) -> PriorityClass {
        match self {
            Category::AccountHealth | Category::IdentityVerification => PriorityClass::Critical,
            Category::Listing | Category::FbaInventory | Category::Payments => PriorityClass::High,
            Category::Orders | Category::ShippingReturns | Category::BrandRegistry | Category::Tax => {
                PriorityClass::Normal
            }
            Category::Advertising | Category::Pricing | Category::Other => PriorityClass::Low,
        }
    }
}
