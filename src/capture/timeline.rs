//! The decoded timeline: what the agent sends back to netlab inside a probe
//! result, so every type here is plain data that round-trips through JSON.
//! Tagged enums carry struct or unit variants only (an internally tagged
//! enum cannot hold a newtype variant of a sequence).

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    pub entries: Vec<Entry>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Out,
    In,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Nanoseconds since the first packet of the capture. An integer, not
    /// float milliseconds, so that it survives JSON exactly.
    pub offset_ns: u64,
    pub direction: Direction,
    pub src: String,
    pub dst: String,
    /// IP packet length as captured.
    pub length: usize,
    pub layer: Layer,
}

impl Entry {
    /// The offset in milliseconds, as the renderings show it.
    pub fn offset_ms(&self) -> f64 {
        self.offset_ns as f64 / 1e6
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Layer {
    Tcp {
        /// SYN, FIN, RST, PSH, ACK, URG, ECE, CWR in this order (as Wireshark).
        flags: Vec<String>,
        /// Relative to the first sequence number of this direction.
        seq: u32,
        /// Relative to the first sequence number of the other direction.
        ack: Option<u32>,
        /// TCP payload bytes.
        len: usize,
        /// TLS records this segment completed (reassembled stream).
        tls: Vec<Tls>,
        /// First line of a readable, non-TLS payload.
        text: Option<String>,
    },
    Udp {
        len: usize,
        dns: Option<Dns>,
    },
    Icmp {
        text: String,
    },
    Other {
        text: String,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum Tls {
    ClientHello {
        sni: Option<String>,
        /// supported_versions if sent, else the legacy version.
        versions: Vec<String>,
        key_share_groups: Vec<String>,
        alpn: Vec<String>,
        cipher_suites: usize,
    },
    ServerHello {
        /// From supported_versions (TLS 1.3) or the legacy field.
        version: String,
        cipher: String,
        key_share_group: Option<String>,
        alpn: Option<String>,
        hello_retry_request: bool,
    },
    /// Other cleartext handshake messages of one record (TLS 1.2:
    /// Certificate, ServerKeyExchange with its group, ServerHelloDone, …).
    Handshake {
        messages: Vec<String>,
        record_length: usize,
    },
    ChangeCipherSpec {
        /// TLS 1.3's dummy CCS (middlebox compatibility), not a key change.
        compat: bool,
    },
    /// TLS 1.2 handshake record after ChangeCipherSpec (Finished).
    EncryptedHandshake {
        length: usize,
    },
    /// An opaque application_data record (in TLS 1.3 also the encrypted
    /// handshake and alerts). `note` holds an inference, never a fact.
    Encrypted {
        length: usize,
        note: Option<String>,
    },
    Alert {
        level: String,
        description: String,
    },
    /// TLS 1.2 alert record after ChangeCipherSpec: description hidden.
    EncryptedAlert {
        length: usize,
        note: Option<String>,
    },
    Unparsed {
        record_type: u8,
        length: usize,
        reason: String,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dns {
    pub id: u16,
    pub response: bool,
    pub rcode: String,
    /// "name TYPE"
    pub questions: Vec<String>,
    /// "name TYPE data"
    pub answers: Vec<String>,
}
