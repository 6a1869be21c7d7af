//! Measures how message bodies of the realistic archive compress one by
//! one (each thread entry is its own record): plain zstd at several levels,
//! each with the raw fallback a record flag allows (a body is stored
//! compressed only when that is smaller), and the store's own rule. The
//! table it prints is the evidence behind the thread-entry record's body
//! encoding (`records.rs`, BENCHMARKS.md *Body compression*).
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
    if let Some(dir) = dir {
        let dir = Path::new(&dir);
        // Train on cases far from the measured ones (case i is a pure function of i).
        write_all(&dir.join("train"), &bodies(1_000_000..1_000_000 + cases))?;
        write_all(&dir.join("test"), &test)?;
        println!("bodies written under {}", dir.display());
    }
    Ok(())
}
