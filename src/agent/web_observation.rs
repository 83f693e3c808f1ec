//! What a TLS or HTTP probe saw, phase by phase and hop by hop: part of the
//! wire format between netlab and the agent (`protocol`), kept apart so each
//! file stays one subject.

use serde::{Deserialize, Serialize};

use super::protocol::Identity;

/// How a TLS exchange went, phase by phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TlsObservation {
    pub outcome: TlsOutcome,
    /// Milliseconds for the TCP connect, the handshake, and from the request
    /// to the first byte of the answer.
    pub connect_ms: Option<f64>,
    pub handshake_ms: Option<f64>,
    pub first_byte_ms: Option<f64>,
    /// `TLSv1_3`, `TLS13_AES_256_GCM_SHA384`, `CN=web, O=netlab`.
    pub version: Option<String>,
    pub cipher: Option<String>,
    pub subject: Option<String>,
    /// Whether the server ended with a TLS close_notify (an orderly close).
    pub close_notify: Option<bool>,
}

impl TlsObservation {
    /// An exchange that ended with `outcome` before any phase was timed.
    pub fn only(outcome: TlsOutcome) -> TlsObservation {
        TlsObservation {
            outcome,
            connect_ms: None,
            handshake_ms: None,
            first_byte_ms: None,
            version: None,
            cipher: None,
            subject: None,
            close_notify: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum TlsOutcome {
    Verified,
    /// The certificate does not chain to a trusted CA.
    Untrusted {
        reason: String,
    },
    /// The certificate does not cover the name asked for (SNI).
    WrongName {
        reason: String,
    },
    /// The server does not speak TLS: it answered with bytes that are not
    /// TLS.
    NoTls {
        reason: String,
    },
    /// The server hung up (EOF or reset) without sending a byte: that says
    /// nothing about TLS (a proxy with nobody behind it does this).
    Closed {
        reason: String,
    },
    Refused,
    Timeout,
    Error {
        message: String,
    },
}

/// One request of an HTTP exchange and its answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpHop {
    pub url: String,
    pub method: String,
    /// Whether this request carried the original body.
    pub body_sent: bool,
    pub status: u16,
    pub location: Option<String>,
    /// `x-netlab-node` of the answer: which node answered.
    pub node: Option<String>,
    /// The whole identity the answer announced (`x-netlab-lab`,
    /// `x-netlab-node`, `x-netlab-host`).
    #[serde(default)]
    pub identity: Option<Identity>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct HttpObservation {
    pub hops: Vec<HttpHop>,
    /// The last answer's body (truncated).
    pub final_body: String,
    /// Why the exchange stopped early, if it did.
    pub error: Option<String>,
    /// A redirect that was deliberately not followed: the last hop is
    /// the redirect itself.
    #[serde(default)]
    pub note: Option<String>,
}
