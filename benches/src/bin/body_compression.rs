//! Measures how message bodies of the realistic archive compress one by
//! one (each thread entry is its own record): plain zstd at several levels,
//! each with the raw fallback a record flag allows (a body is stored
//! compressed only when that is smaller), the store's own rule, and
//! raw-content dictionaries of fragments shared by many tenants (the kind
//! of dictionary that holds no one case's text). The table it prints is the evidence behind the thread-entry record's body
//! encoding (`records.rs`, BENCHMARKS.md *Body compression* and *A body dictionary of shared
//! fragments*).
//!
//! `cargo run --release -p caselog-bench --bin body_compression -- [cases] [dir]`
//!
//! With `dir`, it also writes the bodies of `cases` other cases (a training
//! set) to `dir/train/` and the measured ones to `dir/test/`, one file
//! each, for the zstd command-line tool's dictionary training:
//!
//! ```sh
//! zstd --train -q dir/train/* --maxdict=65536 -o dir/dict
//! for f in dir/test/*; do zstd -q -3 -D dir/dict -c "$f" | wc -c; done
//! ```

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use caselog_bench::gen;

fn bodies(range: std::ops::Range<u64>) -> Vec<String> {
    range
        .flat_map(|i| gen::case(i).thread.into_iter().map(|e| e.body))
        .collect()
}

/// Total stored body bytes when each body of at least `min` bytes is
/// compressed by `f` and kept raw where that is not smaller (plus one flag
/// byte each either way).
fn stored(bodies: &[String], min: usize, mut f: impl FnMut(&[u8]) -> Vec<u8>) -> (u64, u64, f64) {
    let start = Instant::now();
    let mut total = 0u64;
    let mut raw_kept = 0u64;
    for b in bodies {
        let c = if b.len() >= min {
            f(b.as_bytes())
        } else {
            b.as_bytes().to_vec()
        };
        if c.len() < b.len() {
            total += c.len() as u64 + 1;
        } else {
            total += b.len() as u64 + 1;
            raw_kept += 1;
        }
    }
    (total, raw_kept, start.elapsed().as_secs_f64())
}

/// Bodies of `range` with their tenants, grouped by tenant.
fn tenant_bodies(range: std::ops::Range<u64>) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = range
        .flat_map(|i| {
            let c = gen::case(i);
            let tenant = c.case.tenant.as_str().to_owned();
            c.thread.into_iter().map(move |e| (tenant.clone(), e.body))
        })
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}

/// The fragments of one body a shared dictionary may hold: runs of one to
/// four words (with the space before them) in space-separated text, runs of
/// two to six characters elsewhere.
fn fragments(body: &str, out: &mut Vec<String>) {
    if body.is_ascii() {
        let words: Vec<&str> = body.split(' ').filter(|w| !w.is_empty()).collect();
        for n in 1..=4 {
            for w in words.windows(n) {
                out.push(format!(" {}", w.join(" ")));
            }
        }
    } else {
        let chars: Vec<char> = body.chars().collect();
        for n in 2..=6 {
            for w in chars.windows(n) {
                out.push(w.iter().collect());
            }
        }
    }
}

/// A raw-content zstd dictionary (no entropy tables: plain bytes a frame
/// may copy from) of the fragments found in the text of at least
/// `min_tenants` tenants, best last (nearest offsets are cheapest). Such a
/// dictionary holds no text of any one case, so erasing a case leaves no
/// trace of it there; `train` is grouped by tenant.
fn shared_dictionary(train: &[(String, String)], min_tenants: u32, max_bytes: usize) -> Vec<u8> {
    // fragment -> (occurrences, tenants, last tenant index)
    let mut seen: HashMap<String, (u64, u32, usize)> = HashMap::new();
    let mut tenant_index = 0usize;
    let mut frags = Vec::new();
    for (i, (tenant, body)) in train.iter().enumerate() {
        if i > 0 && train[i - 1].0 != *tenant {
            tenant_index += 1;
        }
        frags.clear();
        fragments(body, &mut frags);
        for f in frags.drain(..) {
            let e = seen.entry(f).or_insert((0, 0, usize::MAX));
            e.0 += 1;
            if e.2 != tenant_index {
                e.1 += 1;
                e.2 = tenant_index;
            }
        }
    }
    let mut ranked: Vec<(u64, String)> = seen
        .into_iter()
        .filter(|(f, (_, tenants, _))| *tenants >= min_tenants && f.len() >= 4)
        .map(|(f, (n, _, _))| (n * (f.len() as u64 - 3), f))
        .collect();
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let mut picked: Vec<String> = Vec::new();
    let mut size = 0;
    let mut joined = String::new();
    for (_, f) in ranked {
        if size + f.len() > max_bytes {
            continue;
        }
        if joined.contains(f.as_str()) {
            continue;
        }
        size += f.len();
        joined.push_str(&f);
        picked.push(f);
        if size + 4 > max_bytes {
            break;
        }
    }
    picked.reverse();
    picked.concat().into_bytes()
}

fn write_all(dir: &Path, bodies: &[String]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (i, b) in bodies.iter().enumerate() {
        std::fs::write(dir.join(format!("{i:07}")), b)?;
    }
    Ok(())
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let cases: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let dir = args.next();
    gen::set_archive(gen::Archive::Realistic);
    let test = bodies(0..cases);
    let raw: u64 = test.iter().map(|b| b.len() as u64).sum();
    let en = test.iter().filter(|b| b.is_ascii()).count();
    println!(
        "{} bodies of {cases} cases, {raw} bytes ({:.0} per body), {en} English",
        test.len(),
        raw as f64 / test.len() as f64
    );
    println!(
        "{:<28} {:>12} {:>7} {:>9} {:>8}",
        "encoding", "bytes", "ratio", "raw kept", "µs/body"
    );
    let row = |name: &str, (bytes, kept, secs): (u64, u64, f64)| {
        println!(
            "{name:<28} {bytes:>12} {:>7.3} {kept:>9} {:>8.2}",
            bytes as f64 / raw as f64,
            secs * 1e6 / test.len() as f64
        );
    };
    row("raw", stored(&test, usize::MAX, |b| b.to_vec()));
    for level in [1, 3, 9, 19] {
        let mut c = zstd::bulk::Compressor::new(level)?;
        row(
            &format!("zstd {level}"),
            stored(&test, 0, |b| c.compress(b).unwrap_or_default()),
        );
    }
    let mut c = zstd::bulk::Compressor::new(3)?;
    row(
        "zstd 3, from 64 bytes (store)",
        stored(&test, 64, |b| c.compress(b).unwrap_or_default()),
    );
    // The writer's cost is a frame's entropy tables, paid also by the bodies
    // then kept raw: how much a higher threshold or level 1 gives up.
    for (level, min) in [(1, 64), (1, 128), (1, 160), (1, 200), (3, 128), (3, 160)] {
        let mut c = zstd::bulk::Compressor::new(level)?;
        row(
            &format!("zstd {level}, from {min} bytes"),
            stored(&test, min, |b| c.compress(b).unwrap_or_default()),
        );
    }
    // Dictionaries of fragments shared by many tenants, trained on other
    // cases than the measured ones.
    let train = tenant_bodies(1_000_000..1_000_000 + cases);
    for (min_tenants, size) in [
        (20, 16 * 1024),
        (20, 64 * 1024),
        (50, 64 * 1024),
        (50, 112 * 1024),
        (100, 64 * 1024),
    ] {
        let dict = shared_dictionary(&train, min_tenants, size);
        let mut c = zstd::bulk::Compressor::with_dictionary(3, &dict)?;
        let mut d = zstd::bulk::Decompressor::with_dictionary(&dict)?;
        let (bytes, kept, secs) = stored(&test, 0, |b| c.compress(b).unwrap_or_default());
        // The dictionary must give the bodies back.
        for b in test.iter().take(2_000) {
            let z = c.compress(b.as_bytes()).unwrap_or_default();
            assert_eq!(d.decompress(&z, b.len()).unwrap_or_default(), b.as_bytes());
        }
        row(
            &format!("zstd 3, shared {}K ≥{min_tenants}t", dict.len() / 1024),
            (bytes, kept, secs),
        );
    }
    if let Some(dir) = dir {
        let dir = Path::new(&dir);
        // Train on cases far from the measured ones (case i is a pure function of i).
        write_all(&dir.join("train"), &bodies(1_000_000..1_000_000 + cases))?;
        write_all(&dir.join("test"), &test)?;
        println!("bodies written under {}", dir.display());
    }
    Ok(())
}
