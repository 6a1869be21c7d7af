//! The command line: every command, its options, and its help text with an
//! example.

use std::path::PathBuf;

use caselog_core::{
    Asin, CaseNumber, Category, LanguageTag, Marketplace, OrderId, PerformanceTier, Sku, Status, TenantId, Timestamp,
    UserId,
};
use clap::{Args, Parser, Subcommand, ValueEnum};

/// Largest page of search and view results.
pub const MAX_PER_PAGE: u32 = 1000;

const TOP_EXAMPLES: &str = "\
Examples:
  caselog demo                                   # build a 50,000-case demo store and tour it
  caselog search --tenant seller-0042 refund delayed
  caselog search --all-tenants '\"inventory was lost\"' --json
  caselog show 17999999996 --all-tenants
  caselog queue --limit 10
  caselog export --all-tenants --format xlsx --out cases.xlsx 'created:2026-03-01..2026-03-31'

Exit status: 0 success, 1 error, 2 usage error, 3 import finished with rejected lines.";

/// caselog: the support-case log for marketplace sellers.
///
/// Stores cases and their threads durably, finds them again by keyword,
/// phrase, reference or date, and runs the support queue.
#[derive(Debug, Parser)]
#[command(name = "caselog", version, after_help = TOP_EXAMPLES, propagate_version = true)]
pub struct Cli {
    /// Store directory.
    #[arg(
        long,
        global = true,
        env = "CASELOG_DB",
        default_value = "./caselog-data",
        value_name = "DIR"
    )]
    pub db: PathBuf,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Every command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate a deterministic demo archive, import it, and tour it.
    #[command(after_help = "\
Example:
  caselog demo                 # 50,000 cases into ./caselog-data
  caselog --db /tmp/demo demo --cases 2000

The archive is the same on every run (seeded generator). Running demo again on
the same store adds nothing: cases whose numbers already exist are skipped, so
a larger --cases adds only the missing cases and existing data is never touched.")]
    Demo(DemoArgs),

    /// Import cases from a JSON Lines archive (a file or - for standard input).
    #[command(after_help = "\
Example:
  caselog import archive.jsonl
  zcat archive.jsonl.gz | caselog import - --json

Lines that are not valid are reported with their line number and reason and
the rest imports. A case whose number already exists with the same content is
skipped (importing an archive twice changes nothing); one whose number belongs
to another tenant's case or to a case with other content is rejected. A UTF-8
byte-order mark at the start of the file is ignored. Exit status 3 when some
lines were rejected.")]
    Import(ImportArgs),

    /// Full-text search within one tenant or explicitly across all tenants.
    #[command(after_help = "\
Query language: bare words are AND-ed; \"exact phrase\"; -word excludes; a OR b;
fields number: order: asin: sku: status: category: marketplace: by:
created:2026-01-01..2026-01-31 updated:>=2026-03-01. A bare case number, order
id or ASIN finds that case first. Options may come before or after the query;
a query word starting with - (an exclusion) goes after --, or quote the whole
query ('refund -spam').

Example:
  caselog search --tenant seller-0042 refund delayed
  caselog search --all-tenants '账户 停用' --sort created --per-page 50
  caselog search --all-tenants -- -spam status:open")]
    Search(SearchArgs),

    /// Show one case and its whole thread.
    #[command(after_help = "\
Example:
  caselog show 17999999996 --tenant seller-0042
  caselog show 17999999996 --all-tenants --json   # the interchange-format record")]
    Show(ShowArgs),

    /// The case-log tabs: all cases, my cases, cases needing attention.
    #[command(after_help = "\
Example:
  caselog view attention --tenant seller-0003
  caselog view mine --tenant seller-0042 --user ops@seller-0042.example --status open,in_progress
  caselog view all --tenant seller-0042 --category listing --created 2026-03-01..2026-03-31 --json")]
    View(ViewArgs),

    /// The support queue across all tenants, in working order.
    #[command(after_help = "\
Example:
  caselog queue --limit 10
  caselog queue --category account_health --json")]
    Queue(QueueArgs),

    /// Create a case, reply to one, or apply a lifecycle event.
    #[command(after_help = "\
Example:
  caselog case new --tenant seller-0042 --user ops@example.com --category listing \\
      --title 'ASIN B08XYZ1234 suppressed' --body 'The listing was blocked.' --asin B08XYZ1234
  caselog case reply 10000000000 --tenant seller-0042 --user ops@example.com --body 'Any update?'
  caselog case event 10000000000 pick-up --user agent-7
  caselog case event 10000000000 request-info --user agent-7 --days 3 --note 'Please send the invoice.'")]
    Case(CaseArgs),

    /// Export a search, a view or a whole scope to JSON Lines, CSV or XLSX.
    #[command(after_help = "\
Example:
  caselog export --all-tenants --format jsonl --out all.jsonl      # re-imports to the same archive
  caselog export --tenant seller-0042 --format xlsx --out cases.xlsx 'status:open'
  caselog export --tenant seller-0042 --format csv --out - --view attention
  caselog export --all-tenants --format csv --raw-csv --force --out feed.csv

CSV is for spreadsheets by default: a UTF-8 byte-order mark, and cells that a
spreadsheet would read as a formula (starting with = + - @, tab or carriage
return) prefixed with '. --raw-csv writes the cells as stored, without the mark.
An export never replaces anything but a regular file, and that only with --force.")]
    Export(ExportArgs),

    /// Take a consistent copy of the store into a new directory.
    #[command(after_help = "\
Example:
  caselog backup /backups/caselog-2026-03-31
  caselog --db /backups/caselog-2026-03-31 verify

The copy is the store as of one commit, taken through one read transaction
while writers may go on; it is written as a new store file and renamed into
place only when complete. The search index is rebuilt at the destination.")]
    Backup(BackupArgs),

    /// Check the store's records and the search index's agreement with them.
    #[command(after_help = "\
Example:
  caselog verify && echo ok

Exits non-zero, with a report, on any problem.")]
    Verify(VerifyArgs),

    /// Rebuild the search index from the store.
    #[command(after_help = "\
Example:
  caselog reindex")]
    Reindex,

    /// Counts of cases, messages and tenants, per status and per category.
    #[command(after_help = "\
Example:
  caselog stats
  caselog stats --json | jq .by_status")]
    Stats(StatsArgs),

    /// Export every case a damaged store still yields, listing the ones it does not.
    #[command(after_help = "\
Example:
  caselog salvage --out rescued.jsonl
  caselog --db /tmp/rescued import rescued.jsonl

The store is only read, never repaired or rewritten (a store that needs crash
recovery is recovered in a temporary copy). Cases are written as interchange
JSON Lines, so the output imports into a new store. Exit status 3 when some
cases could not be read; they are listed with their id, number and reason.")]
    Salvage(SalvageArgs),

    /// Print the change feed of a named consumer, acknowledging what was printed.
    #[command(after_help = "\
Examples:
  caselog feed --consumer mailer --all-tenants --json
  caselog feed --consumer portal --tenant seller-0042 --follow --json

The consumer is registered on first use (from the oldest change kept) and its
position is acknowledged durably after each page is written, so the next run
continues where this one stopped. One JSON object per line:
{\"seq\",\"case\",\"number\",\"tenant\",\"kind\",\"at\"} (plus \"entry\", \"from\",
\"to\", \"into\" where the kind has them). --follow waits for new changes until
interrupted. A consumer left behind the feed's cap exits with an error naming
the first change still available (resume with --from).")]
    Feed(FeedArgs),

    /// Erase a case permanently (thread, attachments only it used, views, queue, index).
    #[command(after_help = "\
Example:
  caselog erase 17281736451 --tenant seller-0042 && caselog scrub

The erasure is one durable transaction; feed consumers get an \"erased\" change
in place of the case's earlier changes. Its bytes leave the files at the next
`caselog scrub`.")]
    Erase(EraseArgs),

    /// Compact the store file and merge the index so no erased text remains in any file.
    #[command(after_help = "\
Example:
  caselog scrub --json

The store must not be open in another process. Prints the store file's size
before and after and the index segments merged.")]
    Scrub(ScrubArgs),

    /// Give the store file's free pages back to the disk (redb compaction).
    #[command(after_help = "\
Example:
  caselog compact --json

The store must not be open in another process. The search index is not touched.
Prints the store file's length and allocated size before and after. An import
into an empty store compacts by itself when it ends.")]
    Compact(CompactArgs),

    /// Apply the lifecycle timers once: expired reply deadlines, auto-close.
    #[command(after_help = "\
Example:
  caselog timers
  caselog timers --at 2026-04-01T00:00:00Z

A store a host keeps open applies them by itself (a timer thread); this runs one
pass by hand, as of now or --at.")]
    Timers(TimersArgs),

    /// Tenant settings: the performance tier the queue policy uses.
    #[command(after_help = "\
Example:
  caselog tenant tier seller-0042 high

The tenant's open cases move in the queue at once.")]
    Tenant(TenantArgs),
}

fn v<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<T, String> {
    r.map_err(|e| e.to_string())
}

/// clap value parsers that go through caselog-core's validation.
pub mod parse {
    use super::*;

    /// A tenant id.
    pub fn tenant(s: &str) -> Result<TenantId, String> {
        v(TenantId::parse(s))
    }
    /// A user id.
    pub fn user(s: &str) -> Result<UserId, String> {
        v(UserId::parse(s))
    }
    /// A case number (any stored number, including imported ones).
    pub fn number(s: &str) -> Result<CaseNumber, String> {
        v(CaseNumber::parse_imported(s))
    }
    /// A category identifier.
    pub fn category(s: &str) -> Result<Category, String> {
        v(Category::parse(s))
    }
    /// A status identifier.
    pub fn status(s: &str) -> Result<Status, String> {
        v(Status::parse(s))
    }
    /// A marketplace code.
    pub fn marketplace(s: &str) -> Result<Marketplace, String> {
        v(Marketplace::parse(s))
    }
    /// A performance tier.
    pub fn tier(s: &str) -> Result<PerformanceTier, String> {
        v(PerformanceTier::parse(s))
    }
    /// A language tag.
    pub fn language(s: &str) -> Result<LanguageTag, String> {
        v(LanguageTag::parse(s))
    }
    /// An order id.
    pub fn order(s: &str) -> Result<OrderId, String> {
        v(OrderId::parse(s))
    }
    /// An ASIN.
    pub fn asin(s: &str) -> Result<Asin, String> {
        v(Asin::parse(s))
    }
    /// A SKU.
    pub fn sku(s: &str) -> Result<Sku, String> {
        v(Sku::parse(s))
    }
    /// An RFC 3339 time, or a day (its first instant).
    pub fn time(s: &str) -> Result<Timestamp, String> {
        Timestamp::parse_rfc3339(s)
            .or_else(|_| Timestamp::parse_day(s))
            .map_err(|_| format!("{s:?} is not a time: expected 2026-01-16T08:30:00Z or 2026-01-16"))
    }
    /// A day range `FROM..TO` (inclusive UTC days; either side may be empty).
    pub fn day_range(s: &str) -> Result<DayRange, String> {
        let (from, to) = s.split_once("..").unwrap_or((s, s));
        let day = |t: &str| -> Result<Option<Timestamp>, String> {
            if t.trim().is_empty() {
                Ok(None)
            } else {
                v(Timestamp::parse_day(t)).map(Some)
            }
        };
        let range = DayRange {
            first: day(from)?,
            last: day(to)?,
        };
        if let (Some(a), Some(b)) = (range.first, range.last) {
            if a > b {
                return Err(format!("{s:?}: the first day is after the last"));
            }
        }
        Ok(range)
    }
    /// A page number from 1.
    pub fn page(s: &str) -> Result<u32, String> {
        match s.parse::<u32>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(format!("{s:?} is not a page number (1 or more)")),
        }
    }
    /// A page size from 1 to [`MAX_PER_PAGE`].
    pub fn per_page(s: &str) -> Result<u32, String> {
        match s.parse::<u32>() {
            Ok(n) if (1..=MAX_PER_PAGE).contains(&n) => Ok(n),
            _ => Err(format!("{s:?} is not a page size: 1 to {MAX_PER_PAGE}")),
        }
    }
}

/// Inclusive UTC days, either end open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayRange {
    /// The first day (its first instant).
    pub first: Option<Timestamp>,
    /// The last day (its first instant).
    pub last: Option<Timestamp>,
}

/// `--tenant T` or `--all-tenants`: exactly one is required.
#[derive(Debug, Clone, Args)]
#[group(required = true, multiple = false)]
pub struct ScopeArgs {
    /// Only this tenant's cases (the seller side).
    #[arg(long, value_parser = parse::tenant, value_name = "TENANT")]
    pub tenant: Option<TenantId>,
    /// Every tenant's cases (the support side).
    #[arg(long)]
    pub all_tenants: bool,
}

/// Options of `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Number of cases to generate (1 to 1,000,000; 17 minutes apart, newest just before 2026-03-31).
    #[arg(long, default_value_t = 50_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub cases: u64,
    /// Seed of the generator (the same seed gives the same archive).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Import only; skip the tour.
    #[arg(long)]
    pub no_tour: bool,
}

/// Options of `import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The archive: a JSON Lines file, or - for standard input.
    #[arg(value_name = "FILE|-")]
    pub file: PathBuf,
    /// Print the summary as JSON: {"imported":N,"skipped":N,"rejected":[{"line":N,"error":"..."}]};
    /// a rejected number conflict also has "conflict": "other_tenant" or "other_content".
    #[arg(long)]
    pub json: bool,
}

/// Result order of a search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SortArg {
    /// Best match first.
    Relevance,
    /// Newest first by creation.
    Created,
    /// Most recently updated first.
    Updated,
    /// By status, open first (then most recently updated).
    Status,
    /// By category, A to Z (then most recently updated).
    Category,
    /// By case number, lowest first.
    Number,
}

/// Options of `search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Page number, from 1.
    #[arg(long, default_value_t = 1, value_parser = parse::page)]
    pub page: u32,
    /// Results per page (1 to 1000).
    #[arg(long, default_value_t = 20, value_parser = parse::per_page)]
    pub per_page: u32,
    /// Result order.
    #[arg(long, value_enum, default_value_t = SortArg::Relevance)]
    pub sort: SortArg,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// The query, as a user types it (words are joined with spaces; empty: every case).
    #[arg(value_name = "QUERY")]
    pub query: Vec<String>,
}

/// Options of `show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The case number.
    #[arg(value_parser = parse::number)]
    pub number: CaseNumber,
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Print the case as one interchange-format JSON line.
    #[arg(long)]
    pub json: bool,
}

/// The case-log tab.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ViewKindArg {
    /// All cases.
    All,
    /// Cases created by or assigned to --user.
    Mine,
    /// Cases needing attention: waiting for the seller, soonest deadline first.
    Attention,
}

/// Sort field of a view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ViewSortArg {
    /// Last update.
    Updated,
    /// Creation.
    Created,
    /// Status, open first (then most recently updated).
    Status,
    /// Category, A to Z (then most recently updated).
    Category,
    /// Case number, lowest first.
    Number,
}

/// Filters shared by `view` and `export --view`.
#[derive(Debug, Clone, Args)]
pub struct FilterArgs {
    /// Only these statuses (comma-separated or repeated).
    #[arg(long, value_delimiter = ',', value_parser = parse::status)]
    pub status: Vec<Status>,
    /// Only these categories (comma-separated or repeated).
    #[arg(long, value_delimiter = ',', value_parser = parse::category)]
    pub category: Vec<Category>,
    /// Only these marketplaces (comma-separated or repeated).
    #[arg(long, value_delimiter = ',', value_parser = parse::marketplace)]
    pub marketplace: Vec<Marketplace>,
    /// Created on these UTC days: 2026-03-01..2026-03-31, 2026-03-01.., ..2026-03-31 or one day.
    #[arg(long, value_parser = parse::day_range, value_name = "FROM..TO")]
    pub created: Option<DayRange>,
    /// Updated on these UTC days (as --created).
    #[arg(long, value_parser = parse::day_range, value_name = "FROM..TO")]
    pub updated: Option<DayRange>,
}

/// Options of `view`.
#[derive(Debug, Args)]
pub struct ViewArgs {
    /// The tab.
    #[arg(value_enum)]
    pub kind: ViewKindArg,
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// The user of "mine".
    #[arg(long, value_parser = parse::user)]
    pub user: Option<UserId>,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Sort field ("attention" is always by reply deadline).
    #[arg(long, value_enum, default_value_t = ViewSortArg::Updated)]
    pub sort: ViewSortArg,
    /// Oldest first instead of newest first (with --sort status, category
    /// or number: the reverse of that order).
    #[arg(long)]
    pub oldest_first: bool,
    /// Page number, from 1.
    #[arg(long, default_value_t = 1, value_parser = parse::page)]
    pub page: u32,
    /// Cases per page (1 to 1000).
    #[arg(long, default_value_t = 20, value_parser = parse::per_page)]
    pub per_page: u32,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Options of `queue`.
#[derive(Debug, Args)]
pub struct QueueArgs {
    /// Most entries to show.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub limit: u64,
    /// Only this category.
    #[arg(long, value_parser = parse::category)]
    pub category: Option<Category>,
    /// Only this marketplace.
    #[arg(long, value_parser = parse::marketplace)]
    pub marketplace: Option<Marketplace>,
    /// Only this tenant's cases.
    #[arg(long, value_parser = parse::tenant)]
    pub tenant: Option<TenantId>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Options of `case`.
#[derive(Debug, Args)]
pub struct CaseArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: CaseAction,
}

/// Who acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// A user of the case's tenant (needs --tenant and --user).
    Seller,
    /// A support agent (needs --user).
    Support,
    /// The system (timers, automation).
    System,
}

/// A lifecycle event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EventArg {
    /// Support picks the case up (open → in_progress).
    PickUp,
    /// Support asks the seller for information (→ needs_attention; needs --deadline or --days).
    RequestInfo,
    /// Support resolves the case.
    Resolve,
    /// The seller closes the case.
    Close,
    /// Support merges the case into another of the same tenant (needs --into).
    Merge,
    /// The system closes a resolved case after the reopen window.
    AutoClose,
    /// The system resolves a case whose reply deadline passed.
    DeadlineExpired,
}

impl EventArg {
    /// Who normally applies the event.
    pub fn default_role(self) -> RoleArg {
        match self {
            EventArg::PickUp | EventArg::RequestInfo | EventArg::Resolve | EventArg::Merge => RoleArg::Support,
            EventArg::Close => RoleArg::Seller,
            EventArg::AutoClose | EventArg::DeadlineExpired => RoleArg::System,
        }
    }
}

/// Case actions.
#[derive(Debug, Subcommand)]
pub enum CaseAction {
    /// Open a new case as a seller.
    #[command(after_help = "\
Example:
  caselog case new --tenant seller-0042 --user ops@example.com --category fba_inventory \\
      --title 'Inventory lost at the fulfillment center' --body-file description.txt \\
      --sku MUG-RED-01 --attach invoice.pdf")]
    New(NewCaseArgs),
    /// Add a message to a case's thread.
    #[command(after_help = "\
Example:
  caselog case reply 10000000000 --tenant seller-0042 --user ops@example.com --body 'Invoice attached.' --attach invoice.pdf
  caselog case reply 10000000000 --as support --user agent-7 --body 'Thanks, we are checking.'")]
    Reply(ReplyArgs),
    /// Apply a lifecycle event; a refused transition is an error (exit 1).
    #[command(after_help = "\
Example:
  caselog case event 10000000000 pick-up --user agent-7
  caselog case event 10000000000 request-info --user agent-7 --days 3 --note 'Please send the invoice.'
  caselog case event 10000000000 close --tenant seller-0042 --user ops@example.com
  caselog case event 10000000001 merge --user agent-7 --into 10000000000

Who acts defaults by event: support for pick-up, request-info, resolve and merge;
the seller for close; the system for auto-close and deadline-expired. --as overrides.")]
    Event(EventArgs),
    /// Open a follow-up case that continues a closed one.
    #[command(after_help = "\
Example:
  caselog case follow-up 10000000000 --tenant seller-0042 --user ops@example.com \\
      --title 'Listing suppressed again' --body 'The same ASIN was suppressed again today.'")]
    FollowUp(FollowUpArgs),
    /// Transfer a misfiled case to another category (support).
    #[command(after_help = "\
Example:
  caselog case transfer 10000000000 --user agent-7 --category account_health --reason 'A deactivation, not an ads question.'
  caselog case transfer 10000000000 --user agent-7 --category listing --marketplace DE --reason 'German listing.'")]
    Transfer(TransferArgs),
    /// Assign a case to an agent (support), or hand it to a colleague (--as seller).
    #[command(after_help = "\
Example:
  caselog case assign 10000000000 --user lead-1 --to agent-7
  caselog case assign 10000000000 --as seller --tenant seller-0042 --user ops@example.com --to finance@example.com")]
    Assign(AssignArgs),
    /// Release a case back to the queue (support), or take a hand-over back (--as seller).
    #[command(after_help = "\
Example:
  caselog case release 10000000000 --user agent-7 --note 'Out until Monday.'")]
    Release(ReleaseArgs),
    /// Mark a case complex, or not (support): a longer first-response target.
    #[command(after_help = "\
Example:
  caselog case complex 10000000000 --user agent-7
  caselog case complex 10000000000 --user agent-7 --off")]
    Complex(ComplexArgs),
}

/// Who routes a case: support by default, the seller for a hand-over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RouterArg {
    /// A support agent (needs --user).
    Support,
    /// A user of the case's tenant (needs --tenant and --user).
    Seller,
}

/// What every routing action takes.
#[derive(Debug, Args)]
pub struct RoutingArgs {
    /// The case number.
    #[arg(value_parser = parse::number)]
    pub number: CaseNumber,
    #[command(flatten)]
    pub actor: ActorArgs,
    /// Time of the action (default: now).
    #[arg(long, value_parser = parse::time)]
    pub at: Option<Timestamp>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Options of `case transfer`.
#[derive(Debug, Args)]
pub struct TransferArgs {
    #[command(flatten)]
    pub case: RoutingArgs,
    /// The new category.
    #[arg(long, value_parser = parse::category)]
    pub category: Category,
    /// The new marketplace, if it changes too.
    #[arg(long, value_parser = parse::marketplace)]
    pub marketplace: Option<Marketplace>,
    /// Why (recorded in the thread; required).
    #[arg(long)]
    pub reason: String,
}

/// Options of `case assign`.
#[derive(Debug, Args)]
pub struct AssignArgs {
    #[command(flatten)]
    pub case: RoutingArgs,
    /// Who assigns: support (to an agent) or the seller (to a colleague).
    #[arg(long = "as", value_enum, default_value_t = RouterArg::Support)]
    pub role: RouterArg,
    /// The agent or colleague who takes the case.
    #[arg(long, value_parser = parse::user)]
    pub to: UserId,
    /// A note recorded with the assignment.
    #[arg(long, default_value = "")]
    pub note: String,
}

/// Options of `case release`.
#[derive(Debug, Args)]
pub struct ReleaseArgs {
    #[command(flatten)]
    pub case: RoutingArgs,
    /// Who releases: support (back to the queue) or the seller (takes a hand-over back).
    #[arg(long = "as", value_enum, default_value_t = RouterArg::Support)]
    pub role: RouterArg,
    /// A note recorded with the release.
    #[arg(long, default_value = "")]
    pub note: String,
}

/// Options of `case complex`.
#[derive(Debug, Args)]
pub struct ComplexArgs {
    #[command(flatten)]
    pub case: RoutingArgs,
    /// Clear the flag instead of setting it.
    #[arg(long)]
    pub off: bool,
    /// A note recorded with the change.
    #[arg(long, default_value = "")]
    pub note: String,
}

/// Options of `timers`.
#[derive(Debug, Args)]
pub struct TimersArgs {
    /// Apply the timers as of this time (default: now).
    #[arg(long, value_parser = parse::time)]
    pub at: Option<Timestamp>,
}

/// Options of `tenant`.
#[derive(Debug, Args)]
pub struct TenantArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: TenantAction,
}

/// Tenant actions.
#[derive(Debug, Subcommand)]
pub enum TenantAction {
    /// Set the tenant's performance tier (standard, good, high).
    #[command(after_help = "\
Example:
  caselog tenant tier seller-0042 high

The tenant's open cases are re-keyed in the queue in the same write.")]
    Tier {
        /// The tenant.
        #[arg(value_parser = parse::tenant)]
        tenant: TenantId,
        /// The tier.
        #[arg(value_parser = parse::tier)]
        tier: PerformanceTier,
    },
}

/// The text and attachments of a message.
#[derive(Debug, Clone, Args)]
pub struct MessageArgs {
    /// The message text.
    #[arg(long, conflicts_with = "body_file")]
    pub body: Option<String>,
    /// Read the message text from a file (- for standard input).
    #[arg(long, value_name = "FILE")]
    pub body_file: Option<PathBuf>,
    /// Attach a file (repeatable). Its type comes from the extension unless --content-type is given.
    #[arg(long, value_name = "FILE")]
    pub attach: Vec<PathBuf>,
    /// Content type for every --attach (e.g. application/pdf).
    #[arg(long)]
    pub content_type: Option<String>,
}

/// Options of `case new`.
#[derive(Debug, Args)]
pub struct NewCaseArgs {
    /// The tenant.
    #[arg(long, value_parser = parse::tenant)]
    pub tenant: TenantId,
    /// The seller user opening the case.
    #[arg(long, value_parser = parse::user)]
    pub user: UserId,
    /// Category.
    #[arg(long, value_parser = parse::category)]
    pub category: Category,
    /// Title (the subject line).
    #[arg(long)]
    pub title: String,
    #[command(flatten)]
    pub message: MessageArgs,
    /// Marketplace.
    #[arg(long, default_value = "US", value_parser = parse::marketplace)]
    pub marketplace: Marketplace,
    /// Language tag.
    #[arg(long, default_value = "en", value_parser = parse::language)]
    pub language: LanguageTag,
    /// Order ids the case concerns (repeatable).
    #[arg(long, value_parser = parse::order)]
    pub order: Vec<OrderId>,
    /// ASINs the case concerns (repeatable).
    #[arg(long, value_parser = parse::asin)]
    pub asin: Vec<Asin>,
    /// SKUs the case concerns (repeatable).
    #[arg(long, value_parser = parse::sku)]
    pub sku: Vec<Sku>,
    /// Related case numbers (repeatable).
    #[arg(long, value_parser = parse::number)]
    pub related: Vec<CaseNumber>,
    /// Creation time (default: now).
    #[arg(long, value_parser = parse::time)]
    pub at: Option<Timestamp>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Who acts on an existing case.
#[derive(Debug, Clone, Args)]
pub struct ActorArgs {
    /// The tenant (required when acting as the seller).
    #[arg(long, value_parser = parse::tenant)]
    pub tenant: Option<TenantId>,
    /// The acting user or agent.
    #[arg(long, value_parser = parse::user)]
    pub user: Option<UserId>,
}

/// Options of `case reply`.
#[derive(Debug, Args)]
pub struct ReplyArgs {
    /// The case number.
    #[arg(value_parser = parse::number)]
    pub number: CaseNumber,
    /// Who writes.
    #[arg(long = "as", value_enum, default_value_t = RoleArg::Seller)]
    pub role: RoleArg,
    #[command(flatten)]
    pub actor: ActorArgs,
    #[command(flatten)]
    pub message: MessageArgs,
    /// Time of the reply (default: now).
    #[arg(long, value_parser = parse::time)]
    pub at: Option<Timestamp>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Options of `case event`.
#[derive(Debug, Args)]
pub struct EventArgs {
    /// The case number.
    #[arg(value_parser = parse::number)]
    pub number: CaseNumber,
    /// The event.
    #[arg(value_enum)]
    pub event: EventArg,
    /// Who acts (default depends on the event).
    #[arg(long = "as", value_enum)]
    pub role: Option<RoleArg>,
    #[command(flatten)]
    pub actor: ActorArgs,
    /// Reply deadline for request-info.
    #[arg(long, value_parser = parse::time, conflicts_with = "days")]
    pub deadline: Option<Timestamp>,
    /// Reply deadline for request-info, in days from the event.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=365))]
    pub days: Option<u16>,
    /// The surviving case for merge.
    #[arg(long, value_parser = parse::number)]
    pub into: Option<CaseNumber>,
    /// A note recorded with the event.
    #[arg(long, default_value = "")]
    pub note: String,
    /// Time of the event (default: now).
    #[arg(long, value_parser = parse::time)]
    pub at: Option<Timestamp>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Options of `case follow-up`.
#[derive(Debug, Args)]
pub struct FollowUpArgs {
    /// The closed case to continue.
    #[arg(value_parser = parse::number)]
    pub number: CaseNumber,
    /// The tenant.
    #[arg(long, value_parser = parse::tenant)]
    pub tenant: TenantId,
    /// The seller user.
    #[arg(long, value_parser = parse::user)]
    pub user: UserId,
    /// Title of the new case.
    #[arg(long)]
    pub title: String,
    #[command(flatten)]
    pub message: MessageArgs,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Export file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// JSON Lines, the interchange format (re-imports to the same archive).
    Jsonl,
    /// Comma-separated values, one row per case.
    Csv,
    /// An Excel workbook, one row per case, with typed date cells.
    Xlsx,
}

/// Options of `export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// File format (default: from the --out extension).
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Output file (- for standard output, not for xlsx). A new file is created
    /// readable by its owner only; an existing one is replaced only with --force.
    /// Directories, FIFOs, devices and symbolic links are refused.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Replace --out if it is an existing regular file (its permissions are kept).
    #[arg(long)]
    pub force: bool,
    /// CSV for programs: cells exactly as stored and no byte-order mark. By default
    /// CSV is for spreadsheets: it starts with a UTF-8 byte-order mark, and a cell
    /// starting with = + - @, a tab or a carriage return gets a leading ' so that it
    /// is never run as a formula.
    #[arg(long)]
    pub raw_csv: bool,
    /// Export a case-log tab instead of a search.
    #[arg(long, value_enum, conflicts_with = "query")]
    pub view: Option<ViewKindArg>,
    /// The user of --view mine.
    #[arg(long, value_parser = parse::user)]
    pub user: Option<UserId>,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Search query; without one (and without --view), every case of the scope.
    #[arg(value_name = "QUERY")]
    pub query: Vec<String>,
}

/// Options of `backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The destination directory: new or empty, and outside the store's directory.
    pub dest: PathBuf,
}

/// Options of `verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Options of `salvage`.
#[derive(Debug, Args)]
pub struct SalvageArgs {
    /// The JSON Lines file to write (must not exist yet), or - for standard output.
    #[arg(long)]
    pub out: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Options of `feed`.
#[derive(Debug, Args)]
pub struct FeedArgs {
    /// The consumer's name (ASCII letters, digits, '.', '_', '-').
    #[arg(long)]
    pub consumer: String,
    /// Whose changes: a tenant's consumer sees only that tenant's changes.
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Start after this change instead of the consumer's acknowledged position.
    #[arg(long)]
    pub from: Option<u64>,
    /// Keep waiting for new changes (until interrupted).
    #[arg(long)]
    pub follow: bool,
    /// Print without acknowledging (the next run prints the same changes).
    #[arg(long)]
    pub no_ack: bool,
    /// Print JSON Lines.
    #[arg(long)]
    pub json: bool,
}

/// Options of `erase`.
#[derive(Debug, Args)]
pub struct EraseArgs {
    /// The case number.
    #[arg(value_parser = parse::number)]
    pub number: CaseNumber,
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Print what was erased as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Options of `scrub`.
#[derive(Debug, Args)]
pub struct ScrubArgs {
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Options of `compact`.
#[derive(Debug, Args)]
pub struct CompactArgs {
    /// Print JSON: {"bytes_before","bytes_after","allocated_before","allocated_after"}.
    #[arg(long)]
    pub json: bool,
}

/// Options of `stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Print JSON: {"cases","messages","tenants","by_status","by_category","bytes":{"store","index"}}.
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_command_has_an_example() {
        let cli = Cli::command();
        let mut stack: Vec<&clap::Command> = cli.get_subcommands().collect();
        while let Some(cmd) = stack.pop() {
            let help = cmd.get_after_help().map(|h| h.to_string()).unwrap_or_default();
            assert!(help.contains("Example"), "{} has no example", cmd.get_name());
            stack.extend(cmd.get_subcommands());
        }
    }

    #[test]
    fn day_ranges() {
        let r = parse::day_range("2026-03-01..2026-03-31").unwrap();
        assert_eq!(r.first, Some(Timestamp::parse_day("2026-03-01").unwrap()));
        assert!(parse::day_range("2026-03-31..2026-03-01").is_err());
        assert_eq!(parse::day_range("..2026-03-31").unwrap().first, None);
        assert!(parse::day_range("March").is_err());
    }

    fn search_args(args: &[&str]) -> SearchArgs {
        let cli = Cli::try_parse_from(["caselog", "search"].iter().chain(args)).unwrap();
        let Command::Search(s) = cli.command else {
            panic!("not search")
        };
        s
    }

    #[test]
    fn exclusions_go_after_a_double_dash_and_options_may_follow_the_query() {
        let s = search_args(&["--all-tenants", "--", "-spam", "refund"]);
        assert_eq!(s.query, ["-spam", "refund"]);
        let s = search_args(&["--all-tenants", "refund delayed", "--json", "--per-page", "5", "x"]);
        assert_eq!(s.query, ["refund delayed", "x"]);
        assert!(s.json);
        assert_eq!(s.per_page, 5);
        let s = search_args(&["refund", "--tenant", "seller-0001", "--", "--json"]);
        assert_eq!(s.query, ["refund", "--json"]);
        assert!(!s.json);
        // An exclusion outside `--` is an option clap does not know: a usage
        // error with a hint, never a silently different query.
        assert!(Cli::try_parse_from(["caselog", "search", "--all-tenants", "refund", "-spam"]).is_err());
    }
}
