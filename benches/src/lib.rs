//! Shared helpers of the benchmarks: deterministic case generation.
