//! What runs inside lab containers: the same static netlab binary, started
//! as `netlab agent serve` (listeners that announce who they are) and
//! `netlab agent probe` (a batch of probes, answered as JSON). Probes from
//! the host run the same code in the netlab process.

pub mod cert_subject;
pub mod echo;
pub mod egress;
pub mod emulate;
pub mod host_route;
pub mod impair;
pub mod link;
pub mod netem;
pub mod parent;
pub mod probe;
pub mod protocol;
pub mod reach;
pub mod redirect;
pub mod requests;
pub mod resolve;
pub mod routes;
pub mod routes6;
pub mod rtnl;
pub mod serve;
pub mod web_client;
pub mod web_observation;
pub mod web_server;

pub use probe::run_batch;
pub use serve::serve;

#[cfg(test)]
mod tests;
