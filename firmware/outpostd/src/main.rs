//! `outpostd`, the Outpost router agent (placeholder until the agent lands).
fn main() {
    println!("outpostd {}", env!("CARGO_PKG_VERSION"));
}
