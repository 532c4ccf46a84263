//! Placeholder; the dossier build benchmark is being written.

fn main() {}
