//! A UDP payload read as a DNS message (hickory-proto, through
//! hickory-resolver's re-export) and reduced to what the timeline shows.
//! Anything that does not decode as DNS is simply not DNS.

use hickory_resolver::proto::op::{Message, MessageType};

use super::timeline::Dns;

pub(super) fn dns(payload: &[u8]) -> Option<Dns> {
    let msg = Message::from_vec(payload).ok()?;
    let questions = msg
        .queries
        .iter()
        .map(|q| format!("{} {}", q.name(), q.query_type()))
        .collect();
    let answers = msg
        .answers
        .iter()
        .map(|r| format!("{} {} {}", r.name, r.record_type(), r.data))
        .collect();
    Some(Dns {
        id: msg.metadata.id,
        response: msg.metadata.message_type == MessageType::Response,
        rcode: msg.metadata.response_code.to_string(),
        questions,
        answers,
    })
}
