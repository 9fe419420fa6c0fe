//! Load generator (placeholder until the real one lands in this file).
fn main() {}
