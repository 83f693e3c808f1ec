//! Name resolution inside a node, as the probes need it: hickory reading
//! the container's `/etc/resolv.conf` (never the C library: the binary is
//! static and has no NSS), asking the server afresh every time; and a
//! target given by name (an alias), resolved and kept inside the lab.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_resolver::Resolver;
use hickory_resolver::config::{ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType as HickoryRecordType};

use super::protocol::DnsObservation;
use crate::vocab::{IpFamily, RecordType};

/// A resolver that asks the server every time: no cache, one attempt, the
/// probe's deadline, no hosts file — what the DNS server says now.
pub fn fresh_resolver(
    config: ResolverConfig,
    mut opts: ResolverOpts,
    deadline: Duration,
) -> Result<Resolver<TokioRuntimeProvider>, String> {
    opts.cache_size = 0;
    opts.attempts = 1;
    opts.timeout = deadline;
    opts.use_hosts_file = ResolveHosts::Never;
    Resolver::builder_with_config(config, TokioRuntimeProvider::default())
        .with_options(opts)
        .build()
        .map_err(|e| format!("cannot build a resolver: {e}"))
}

/// The container's `/etc/resolv.conf`, read by hickory (never the C
/// library: the binary is static and has no NSS).
pub fn system_resolver_config() -> Result<(ResolverConfig, ResolverOpts), String> {
    let text = std::fs::read("/etc/resolv.conf")
        .map_err(|e| format!("cannot read /etc/resolv.conf: {e}"))?;
    hickory_resolver::system_conf::parse_resolv_conf(text)
        .map_err(|e| format!("cannot parse /etc/resolv.conf: {e}"))
}

/// A name as Docker's DNS takes it: ASCII names as they are (`pay_gw`,
/// `API.internal` — IDNA would refuse the `_`), others through IDNA.
pub fn dns_name(name: &str) -> Result<Name, String> {
    let parsed = if name.is_ascii() {
        Name::from_ascii(name)
    } else {
        Name::from_utf8(name)
    };
    parsed.map_err(|e| format!("`{name}` is not a DNS name: {e}"))
}

pub async fn dns(
    config: ResolverConfig,
    opts: ResolverOpts,
    name: &str,
    record: RecordType,
    deadline: Duration,
) -> DnsObservation {
    let resolver = match fresh_resolver(config, opts, deadline) {
        Ok(r) => r,
        Err(message) => return DnsObservation::Unavailable { message },
    };
    let record_type = match record {
        RecordType::A => HickoryRecordType::A,
        RecordType::Aaaa => HickoryRecordType::AAAA,
    };
    let name = match dns_name(name) {
        Ok(n) => n,
        Err(message) => return DnsObservation::Error { message },
    };
    match tokio::time::timeout(deadline, resolver.lookup(name, record_type)).await {
        Err(_) => DnsObservation::Timeout,
        Ok(Ok(lookup)) => {
            let addresses: Vec<IpAddr> = lookup
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::A(a) => Some(IpAddr::V4(a.0)),
                    RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                    _ => None,
                })
                .collect();
            if addresses.is_empty() {
                DnsObservation::NoRecords
            } else {
                DnsObservation::Answers { addresses }
            }
        }
        Ok(Err(e)) => classify_dns_error(&e),
    }
}

pub fn classify_dns_error(e: &NetError) -> DnsObservation {
    match e {
        NetError::Dns(DnsError::NoRecordsFound(no))
            if no.response_code == ResponseCode::NXDomain =>
        {
            DnsObservation::NxDomain
        }
        NetError::Dns(DnsError::NoRecordsFound(no))
            if no.response_code == ResponseCode::ServFail =>
        {
            DnsObservation::ServFail
        }
        NetError::Dns(DnsError::NoRecordsFound(no))
            if no.response_code == ResponseCode::Refused =>
        {
            DnsObservation::Refused
        }
        NetError::Dns(DnsError::NoRecordsFound(_)) => DnsObservation::NoRecords,
        NetError::Dns(DnsError::ResponseCode(ResponseCode::ServFail)) => DnsObservation::ServFail,
        NetError::Dns(DnsError::ResponseCode(ResponseCode::Refused)) => DnsObservation::Refused,
        NetError::Timeout => DnsObservation::Timeout,
        other => DnsObservation::Error {
            message: other.to_string(),
        },
    }
}

/// One address for a host: an IP literal, or the first A (IPv4) or AAAA
/// (IPv6) record.
pub async fn first_address(
    host: &str,
    family: IpFamily,
    deadline: Duration,
) -> Result<IpAddr, String> {
    if let Ok(ip) = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        return Ok(ip);
    }
    let (config, opts) = system_resolver_config()?;
    let record = match family {
        IpFamily::V4 => RecordType::A,
        IpFamily::V6 => RecordType::Aaaa,
    };
    match dns(config, opts, host, record, deadline).await {
        DnsObservation::Answers { addresses } => addresses
            .first()
            .copied()
            .ok_or_else(|| format!("no address for {host}")),
        other => Err(format!("cannot resolve {host}: {other:?}")),
    }
}

/// Why a target given by name was not probed.
pub enum Unaimed {
    /// The node's resolver gave no address: the name leads nowhere from
    /// here, as a client there would find.
    Unresolved(String),
    /// It gave one outside the lab: never probed.
    Refused(String),
}

/// Where a probe aims, and the time left for it: `addr`, or for a target
/// given by name the first address the node's resolver answers (in
/// `addr`'s family) on `addr`'s port, when it is a container of the lab.
pub async fn aimed(
    addr: SocketAddr,
    by_name: Option<&super::protocol::ByName>,
    deadline: Duration,
) -> Result<(SocketAddr, Duration), Unaimed> {
    let Some(by) = by_name else {
        return Ok((addr, deadline));
    };
    let started = Instant::now();
    let family = if addr.is_ipv6() {
        crate::vocab::IpFamily::V6
    } else {
        crate::vocab::IpFamily::V4
    };
    let ip = first_address(&by.name, family, deadline)
        .await
        .map_err(|why| Unaimed::Unresolved(format!("`{}` did not resolve: {why}", by.name)))?;
    if !by.within.iter().any(|n| n.contains(&ip)) {
        return Err(Unaimed::Refused(format!(
            "`{}` resolved to {ip}, which is no container of the lab: not probed",
            by.name
        )));
    }
    Ok((
        SocketAddr::new(ip, addr.port()),
        deadline.saturating_sub(started.elapsed()),
    ))
}
