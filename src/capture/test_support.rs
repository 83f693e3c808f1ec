//! Test support: the captures recorded in real containers by the prototype
//! (tests/data/capture/*.json: offsets in nanoseconds, packets as hex), and
//! whether a test that needs CAP_NET_RAW may skip.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;

use super::record::CapturedPacket;

/// Every saved capture, by name.
pub const CAPTURES: [(&str, &str); 4] = [
    ("http", include_str!("../../tests/data/capture/http.json")),
    (
        "refused",
        include_str!("../../tests/data/capture/refused.json"),
    ),
    ("tls12", include_str!("../../tests/data/capture/tls12.json")),
    ("tls13", include_str!("../../tests/data/capture/tls13.json")),
];

#[derive(Deserialize)]
struct SavedCapture {
    started_at_unix_ns: u64,
    packets: Vec<SavedPacket>,
}

#[derive(Deserialize)]
struct SavedPacket {
    offset_ns: u64,
    direction: String,
    hex: String,
}

/// The packets of a saved capture.
pub fn load(name: &str) -> Vec<CapturedPacket> {
    saved(name).1
}

/// A saved capture: its wall-clock start and its packets.
pub fn saved(name: &str) -> (SystemTime, Vec<CapturedPacket>) {
    let text = CAPTURES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
        .expect("a saved capture of that name");
    let saved: SavedCapture = serde_json::from_str(text).expect("saved capture parses");
    let packets = saved
        .packets
        .into_iter()
        .map(|p| CapturedPacket {
            offset: Duration::from_nanos(p.offset_ns),
            outgoing: p.direction == "out",
            bytes: from_hex(&p.hex),
        })
        .collect();
    (
        UNIX_EPOCH + Duration::from_nanos(saved.started_at_unix_ns),
        packets,
    )
}

fn from_hex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Tests that need CAP_NET_RAW skip only when not root: as root (here and
/// in CI) a socket that cannot be opened is a failure, not a skip.
pub fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}
