//! The bodies of the fuzz targets, shared by the cargo-fuzz binaries and the
//! seed-corpus replay run by `cargo test`.
