//! Packet capture of a check, and the path MTU measured rather than read.
//!
//! The agent records its own probe's packets in the network namespace it
//! runs in ([`Recorder`]), and turns them into a [`Timeline`] ([`decode`])
//! that travels back to netlab as JSON and reads as one line ([`summary`])
//! or one line per packet ([`verbose`]); [`plaintext_seen`] says whether a
//! secret crossed the wire readable, and [`pcap`] saves the packets for
//! Wireshark. [`pmtu`] finds the largest packet that crosses a path with
//! Don't Fragment set.
//!
//! Bytes off the wire are parsed by maintained crates (etherparse,
//! tls-parser, hickory-proto); what is ours is the bookkeeping around
//! them: which packets are the probe's, TCP reassembly, what is encrypted.
//! Nothing here panics on what the network sends.

mod decode;
mod dns;
mod filter;
mod packet;
mod packet_socket;
pub mod pcap;
pub mod pmtu;
mod record;
pub(crate) mod sockopt;
mod stream;
mod timeline;
mod tls;
mod words;

#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod tests;

pub use decode::{decode, plaintext_seen, sent_bytes_whole};
pub use filter::Filter;
// The decoded parts, for tests that look inside a timeline.
#[cfg(test)]
pub use record::CapturedPacket;
pub use record::{Capture, Recorder};
pub use timeline::Timeline;
// The decoded parts, for renderings that draw a timeline (the report page)
// and for tests that look inside one.
pub use timeline::{Direction, Dns, Entry, Layer, Tls};
pub use words::{summary, verbose};
