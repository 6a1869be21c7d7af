//! Store micro benchmarks (being written).
fn main() {}
