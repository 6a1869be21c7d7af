//! `casebench`: caselog side by side with SQLite + FTS5 (two layouts) and
//! with raw tantivy + redb on one generated archive. See `BENCHMARKS.md`.
//!
//! ```text
//! casebench run --cases 1000000 --data /var/tmp/casebench --out casebench.json --svg casebench.svg
//! ```

use std::path::PathBuf;

use anyhow::{Context, Result};
use caselog_bench::gen::Archive;
use caselog_bench::{report, run_child, Phase, Settings, SYSTEMS};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "caselog vs SQLite FTS5 vs raw tantivy + redb, on one generated archive")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the whole benchmark and writes the report.
    Run {
        /// Archive size.
        #[arg(long, default_value_t = 100_000)]
        cases: u64,
        /// Which archive: the realistic one, or the earlier template sentences.
        #[arg(long, value_enum, default_value_t = Archive::Realistic)]
        archive: Archive,
        /// Directory for the stores (replaced); keep it out of the repository.
        #[arg(long)]
        data: PathBuf,
        /// JSON report.
        #[arg(long, default_value = "casebench.json")]
        out: PathBuf,
        /// SVG latency plot.
        #[arg(long, default_value = "casebench.svg")]
        svg: PathBuf,
        /// Timed runs per query kind and scope.
        #[arg(long, default_value_t = 300)]
        iters: usize,
        /// Longest one query kind and scope is timed, in seconds.
        #[arg(long, default_value_t = 30.0)]
        cell_secs: f64,
        /// Number lookups timed.
        #[arg(long, default_value_t = 20_000)]
        lookups: usize,
        /// Concurrent writers of the append phase.
        #[arg(long, default_value_t = 64)]
        writers: usize,
        /// Length of the append phase, seconds.
        #[arg(long, default_value_t = 10.0)]
        append_secs: f64,
        /// Systems to run (comma-separated), caselog first.
        #[arg(long, value_delimiter = ',', default_values_t = SYSTEMS.iter().map(|s| s.to_string()))]
        systems: Vec<String>,
        /// Delete the stores when done.
        #[arg(long)]
        clean: bool,
    },
    /// One phase of one system (run by `run` in a child process).
    #[command(hide = true)]
    Child {
        #[arg(long)]
        system: String,
        #[arg(long)]
        phase: String,
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        settings: String,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Run {
            cases,
            archive,
            data,
            out,
            svg,
            iters,
            cell_secs,
            lookups,
            writers,
            append_secs,
            systems,
            clean,
        } => {
            let mut settings = Settings {
                cases,
                archive,
                iters,
                cell_secs,
                lookups,
                writers,
                append_secs,
                mix: Vec::new(),
                scopes: Vec::new(),
            };
            caselog_bench::gen::set_archive(archive);
            let t = std::time::Instant::now();
            report::plan(&mut settings);
            eprintln!(
                "chose {} queries and {} scopes from the archive's word frequencies in {:.1} s",
                settings.mix.len(),
                settings.scopes.len(),
                t.elapsed().as_secs_f64()
            );
            let exe = std::env::current_exe().context("locating casebench")?;
            let r = report::run(&exe, &data, &settings, &systems)?;
            print!("{}", report::table(&r));
            report::write(&r, &out, &svg)?;
            eprintln!("wrote {} and {}", out.display(), svg.display());
            if clean {
                std::fs::remove_dir_all(&data).with_context(|| format!("removing {}", data.display()))?;
            }
        }
        Command::Child {
            system,
            phase,
            dir,
            out,
            settings,
        } => {
            let settings: Settings = serde_json::from_str(&settings)?;
            let json = run_child(&system, Phase::parse(&phase)?, &dir, &settings)?;
            std::fs::write(&out, json).with_context(|| format!("writing {}", out.display()))?;
        }
    }
    Ok(())
}
