//! The demo's texts: titles, descriptions and replies per category, in
//! English and Chinese. Placeholders: `{order}`, `{asin}`, `{sku}`, `{n}`,
//! `{case}`, `{days}`.

use caselog_core::Category;

/// Texts of one category in one language.
pub struct CategoryTexts {
    /// Titles (subject lines).
    pub titles: &'static [&'static str],
    /// Descriptions (the first message).
    pub descriptions: &'static [&'static str],
}

/// Texts of one language that do not depend on the category.
pub struct Replies {
    /// Support's first answer when picking a case up.
    pub pick_up: &'static [&'static str],
    /// Support asking for information.
    pub request_info: &'static [&'static str],
    /// Support replies while working on it.
    pub support: &'static [&'static str],
    /// Seller follow-ups.
    pub seller: &'static [&'static str],
    /// Seller answers to a request for information.
    pub seller_answer: &'static [&'static str],
    /// Support resolving.
    pub resolve: &'static [&'static str],
    /// Seller closing.
    pub close: &'static [&'static str],
    /// The system closing after the reopen window.
    pub auto_close: &'static str,
    /// Support merging into `{case}`.
    pub merge: &'static str,
}

/// English texts of a category.
pub fn english(c: Category) -> CategoryTexts {
    let (titles, descriptions): (&[&str], &[&str]) = match c {
        Category::AccountHealth => (
            &[
                "Account deactivated - appeal with plan of action",
                "Seller account suspended for order defect rate",
                "Account health: suspension after late shipment rate warning",
            ],
            &[
                "Our account has been deactivated after the order defect rate went above 1%. We submitted a plan of action with the root cause and the steps we took; please review it. Affected order: {order}.",
                "The seller account was suspended today. The notification mentions inauthentic complaints about {asin}, but we buy directly from the brand and have the invoices. Please reinstate the account.",
            ],
        ),
        Category::IdentityVerification => (
            &["Identity verification keeps failing", "Verification documents rejected without a reason"],
            &[
                "We uploaded the business license and the passport of the primary contact twice, but identity verification still fails without a reason. Selling is blocked until this is done.",
                "The video call for identity verification was cancelled and now the documents are rejected. Please tell us which document is missing.",
            ],
        ),
        Category::Listing => (
            &["ASIN {asin} suppressed", "Listing {asin} blocked for policy violation", "Search suppressed for {sku}"],
            &[
                "I am unable to remove a suppressed ASIN {asin} (SKU {sku}). The listing was blocked for a policy violation but the detail page has not changed in months.",
                "The listing {asin} is suppressed from search because of a missing main image, but the image is there and meets the requirements. Please check the listing quality dashboard.",
            ],
        ),
        Category::BrandRegistry => (
            &["Brand registry application rejected", "Cannot add a new brand to brand registry"],
            &[
                "Our brand registry application was rejected although the trademark is registered. Please tell us what is missing.",
                "We want to protect our brand on {asin}; another seller changed the title and images of our listing.",
            ],
        ),
        Category::Orders => (
            &["Order {order} marked delivered but not received", "Buyer cancelled order {order} after shipment"],
            &[
                "The buyer of order {order} says the package never arrived, but tracking shows delivered. The buyer requested a refund and opened an A-to-z claim.",
                "Order {order} was cancelled by the buyer after we shipped it. Please help us get the parcel back or stop the refund.",
            ],
        ),
        Category::FbaInventory => (
            &[
                "FBA inventory lost at fulfillment center",
                "Reimbursement for {n} lost units of {sku}",
                "Inbound shipment received short",
            ],
            &[
                "{n} units of {sku} were received but the inventory was lost at the fulfillment center. Please investigate and reimburse.",
                "Our shipment for {asin} shows {n} units fewer than we sent; the inventory was lost or misplaced during receiving. Proof of delivery attached.",
            ],
        ),
        Category::ShippingReturns => (
            &["Refund delayed for returned order {order}", "Return received damaged", "Return label not working"],
            &[
                "The buyer returned order {order} two weeks ago and the refund is delayed. Please process the refund so the buyer stops contacting us.",
                "The returned item from order {order} came back damaged and used, but the buyer was refunded in full. We ask for a reimbursement.",
            ],
        ),
        Category::Payments => (
            &["Disbursement on hold", "Payment delayed for two weeks", "Reserve on account balance"],
            &[
                "Our disbursement has been on hold for two weeks and the payment is delayed. Please release the funds; there are no open claims.",
                "A reserve was placed on our balance without notice. We need the funds to pay our supplier for {sku}.",
            ],
        ),
        Category::Tax => (
            &["Tax interview not accepted", "VAT number rejected"],
            &[
                "We completed the tax interview again but the tax information is still marked invalid.",
                "Our VAT number is valid in the EU register but the account shows it as rejected.",
            ],
        ),
        Category::Advertising => (
            &["Sponsored Products campaign not serving", "Advertising invoice charged twice"],
            &[
                "Our campaign for {asin} is enabled but has had no impressions for five days.",
                "We were charged twice for the advertising invoice of last month. Please refund the duplicate charge.",
            ],
        ),
        Category::Pricing => (
            &["Buy Box suppressed due to pricing alert", "Price error flagged on {asin}"],
            &[
                "The Buy Box for {asin} is suppressed by a pricing alert although our price matches the list price.",
                "Our listing {asin} was deactivated for a potential pricing error. The price is correct.",
            ],
        ),
        Category::Other => (
            &["Question about changing the store name", "How to add a second user"],
            &[
                "How can we change the display name of our store?",
                "We want to give our accountant access to reports only. How do we add a user with limited permissions?",
            ],
        ),
    };
    CategoryTexts { titles, descriptions }
}

/// Chinese texts of a category.
pub fn chinese(c: Category) -> CategoryTexts {
    let (titles, descriptions): (&[&str], &[&str]) = match c {
        Category::AccountHealth => (
            &["我的账户被停用了，请协助申诉", "账户被停用，申请恢复销售权限"],
            &[
                "您好，我的账户被停用了，原因是订单缺陷率过高。我们已经提交了行动计划，请尽快审核。相关订单：{order}。",
                "我们的卖家账户今天被停用了，通知里说商品 {asin} 有真实性投诉，但我们有品牌授权和发票。请尽快恢复账户。",
            ],
        ),
        Category::IdentityVerification => (
            &["身份验证一直未通过", "身份验证文件被拒绝"],
            &["我们已经上传了营业执照和法人身份证，但身份验证仍然显示失败。请告诉我们还需要提供哪些文件。"],
        ),
        Category::Listing => (
            &["商品 {asin} 被下架", "ASIN {asin} 的商品页面被屏蔽"],
            &["我们的商品 {asin}（SKU {sku}）突然被下架，系统提示违反了商品政策，但我们没有修改过详情页。请帮忙恢复。"],
        ),
        Category::BrandRegistry => (
            &["品牌备案申请被拒绝"],
            &["我们提交的品牌备案申请被拒绝了，商标已经在美国专利商标局注册。请说明拒绝原因。"],
        ),
        Category::Orders => (
            &["订单 {order} 显示已送达但买家未收到"],
            &["买家说没有收到订单 {order} 的包裹，但物流显示已送达。买家要求退款，请协助处理。"],
        ),
        Category::FbaInventory => (
            &["FBA 库存丢失，申请赔偿", "入库货件数量不符"],
            &["我们发往仓库的货件中有 {n} 件商品 {sku} 丢失了，库存报告显示已接收但不可售。请调查并赔偿。"],
        ),
        Category::ShippingReturns => (
            &["退货订单 {order} 退款延迟", "退货商品被损坏"],
            &["买家在两周前退回了订单 {order} 的商品，但是退款一直没有到账。请尽快处理退款。"],
        ),
        Category::Payments => (
            &["结算款项被暂扣", "付款延迟两周"],
            &["我们的结算款项已经延迟了两周，卖家账户显示资金被暂扣。请尽快处理退款和付款。"],
        ),
        Category::Tax => (&["税务信息审核未通过"], &["我们更新了税务信息，但系统仍然提示税务信息无效。请帮忙检查。"]),
        Category::Advertising => (
            &["广告活动无法投放"],
            &["我们的广告活动显示投放中但没有展示，商品 {asin} 符合广告条件。"],
        ),
        Category::Pricing => (
            &["价格提醒导致购买按钮消失"],
            &["商品 {asin} 因为价格提醒失去了购买按钮，但我们的价格是合理的。"],
        ),
        Category::Other => (&["如何修改店铺名称"], &["请问如何修改店铺的显示名称？"]),
    };
    CategoryTexts { titles, descriptions }
}

/// English replies.
pub const ENGLISH_REPLIES: Replies = Replies {
    pick_up: &[
        "Thank you for contacting Selling Partner Support. I am looking into this now.",
        "Hello, I have picked up your case and am reviewing the details.",
    ],
    request_info: &[
        "To continue, please send the invoice and the supply chain documents for {sku}.",
        "Please provide a copy of the invoice for order {order} within {days} days.",
        "We need a screenshot of the error and the affected ASIN to investigate further.",
    ],
    support: &[
        "We have escalated this to the responsible team and will update you.",
        "Thank you for the information; the team is still reviewing it.",
    ],
    seller: &[
        "Any update on this case? It has been several days.",
        "This is urgent for us, our sales have stopped.",
        "Please let us know if you need anything else.",
    ],
    seller_answer: &[
        "We have uploaded the requested documents. The invoice is attached.",
        "Attached is the invoice you asked for, and the tracking details.",
    ],
    resolve: &[
        "The issue has been resolved. If you have further questions, reply to this case.",
        "We have corrected the problem on our side; the change can take 24 hours to show.",
        "The reimbursement for the lost inventory has been issued to your account.",
    ],
    close: &[
        "Thanks, the problem is solved.",
        "Confirmed, everything works again. Closing.",
    ],
    auto_close: "This case was closed automatically because there was no reply within 7 days after it was resolved.",
    merge: "This case repeats case {case} and was merged into it; we will continue there.",
};

/// Chinese replies (support answers Chinese-speaking sellers in Chinese).
pub const CHINESE_REPLIES: Replies = Replies {
    pick_up: &["您好，感谢您联系卖家支持。我们正在调查这个问题。"],
    request_info: &[
        "请在 {days} 天内提供发票和供应链证明文件，以便我们继续处理。",
        "请提供订单 {order} 的发票复印件。",
    ],
    support: &["我们已经将问题转交给相关团队，请耐心等待。"],
    seller: &["请问有进展吗？已经等了很久了。", "这个问题非常紧急，请尽快处理退款。"],
    seller_answer: &["我们已经上传了所需文件，请查收。"],
    resolve: &["我们已经处理了您的问题，如有其他疑问请回复此案例。"],
    close: &["问题已解决，谢谢！"],
    auto_close: "该案例在解决后 7 天内没有回复，已自动关闭。",
    merge: "此案例与案例 {case} 重复，已合并到该案例中处理。",
};
