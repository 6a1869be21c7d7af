//! `store_space`: where a store's bytes go. For the tantivy index, per field
//! and per component (term dictionary, postings, positions, fast fields,
//! field norms) and the document store, summed over the live segments; for
//! the redb file, per table (entries, leaf and branch pages, stored bytes,
//! fragmentation). Used on a caselog store casebench built and on the raw
//! floor's to decide what each should hold (BENCHMARKS.md).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Result;
use clap::Parser;
use redb::{ReadableDatabase, ReadableTableMetadata, TableHandle};
use tantivy::Index;

#[derive(Parser)]
struct Cli {
    /// The store directory (casebench's `<data>/caselog` or `<data>/raw`):
    /// its `index/` and its redb file.
    store: PathBuf,
    /// The redb file's name in the store directory.
    #[arg(long, default_value = "cases.redb")]
    redb: String,
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    index_space(&cli.store.join("index"))?;
    let redb = cli.store.join(&cli.redb);
    if redb.exists() {
        redb_space(&redb)?;
    }
    Ok(())
}

fn redb_space(path: &std::path::Path) -> Result<()> {
    let db = redb::ReadOnlyDatabase::open(path)?;
    let txn = db.begin_read()?;
    let mut rows = Vec::new();
    for handle in txn.list_tables()? {
        let table = txn.open_untyped_table(handle)?;
        let stats = table.stats()?;
        // Stored, metadata and fragmented bytes add up to the tree's pages
        // (a page may be larger than 4 KiB for a large value).
        let bytes = stats.stored_bytes() + stats.metadata_bytes() + stats.fragmented_bytes();
        rows.push((table.name().to_owned(), table.len()?, bytes, stats));
    }
    rows.sort_by_key(|r| std::cmp::Reverse(r.2));
    let total: u64 = rows.iter().map(|r| r.2).sum();
    println!();
    println!(
        "redb file {}: {:.1} MiB in the tables' pages",
        path.display(),
        mib(total)
    );
    println!(
        "{:<16} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "table", "entries", "MiB", "leaves", "branches", "stored", "free", "B/entry"
    );
    for (name, len, bytes, s) in rows {
        println!(
            "{name:<16} {len:>10} {:>9.1} {:>9} {:>9} {:>9.1} {:>9.1} {:>9.1}",
            mib(bytes),
            s.leaf_pages(),
            s.branch_pages(),
            mib(s.stored_bytes()),
            mib(s.fragmented_bytes()),
            bytes as f64 / len.max(1) as f64
        );
    }
    Ok(())
}

fn index_space(dir: &std::path::Path) -> Result<()> {
    let index = Index::open_in_dir(dir)?;
    let searcher = index.reader()?.searcher();
    let usage = searcher.space_usage()?;
    const PARTS: [&str; 5] = ["terms", "postings", "positions", "fast", "norms"];
    // field name → bytes per part, in PARTS order.
    let mut by_field: BTreeMap<String, [u64; 5]> = BTreeMap::new();
    let (mut store, mut deletes, mut docs) = (0u64, 0u64, 0u64);
    for seg in usage.segments() {
        docs += u64::from(seg.num_docs());
        let parts = [
            seg.termdict(),
            seg.postings(),
            seg.positions(),
            seg.fast_fields(),
            seg.fieldnorms(),
        ];
        for (i, part) in parts.iter().enumerate() {
            for field in part.fields() {
                if let Some(slot) = by_field.entry(field.field_name().to_string()).or_default().get_mut(i) {
                    *slot += field.total().get_bytes();
                }
            }
        }
        store += seg.store().total().get_bytes();
        deletes += seg.deletes().get_bytes();
    }
    println!(
        "{} segments, {docs} live documents, {:.1} MiB in all",
        usage.segments().len(),
        mib(usage.total().get_bytes())
    );
    println!(
        "{:<16} {:>9} {}",
        "field",
        "MiB",
        PARTS.map(|p| format!("{p:>10}")).join("")
    );
    let mut rows: Vec<_> = by_field.into_iter().collect();
    rows.sort_by_key(|(_, parts)| std::cmp::Reverse(parts.iter().sum::<u64>()));
    for (name, parts) in rows {
        let cells: String = parts.iter().map(|b| format!("{:>10.1}", mib(*b))).collect();
        println!("{name:<16} {:>9.1} {cells}", mib(parts.iter().sum()));
    }
    println!("{:<16} {:>9.1}", "(doc store)", mib(store));
    println!("{:<16} {:>9.1}", "(deletes)", mib(deletes));
    Ok(())
}
