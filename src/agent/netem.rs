//! netem, the kernel's network emulator, on one interface: its
//! `TCA_OPTIONS` written and read (netlink-packet-route knows the qdisc
//! message but not netem's options, a `struct tc_netem_qopt` followed by
//! netem's own attributes, `linux/pkt_sched.h`), set as the interface's
//! root qdisc and removed again. Times go as 64-bit nanoseconds
//! (`TCA_NETEM_LATENCY64`, `TCA_NETEM_JITTER64`, Linux 4.15+), and as
//! 64 ns ticks in the old 32-bit fields too.

use std::time::Duration;

use netlink_packet_core::{NLM_F_CREATE, NLM_F_REPLACE};
use netlink_packet_route::tc::TcHandle;

use super::rtnl::Rtnl;
use crate::impairment::{Impairment, Percent, Rate};

const TCA_NETEM_REORDER: u16 = 3;
const TCA_NETEM_CORRUPT: u16 = 4;
const TCA_NETEM_RATE: u16 = 6;
const TCA_NETEM_RATE64: u16 = 8;
const TCA_NETEM_LATENCY64: u16 = 10;
const TCA_NETEM_JITTER64: u16 = 11;
/// netem's queue, in packets (tc's default).
const LIMIT: u32 = 1000;
/// One psched tick is 64 ns (PSCHED_SHIFT).
const TICK_NS: u64 = 64;
const QOPT_LEN: usize = 24;

/// An interface's root qdisc, as the kernel reports it.
#[derive(Debug, Clone, PartialEq)]
pub enum Root {
    /// No root qdisc of its own (the interface's default is in place).
    Default,
    Netem(Impairment),
    Other(String),
}

/// The root qdisc of interface `index`.
pub fn root(rtnl: &mut Rtnl, index: u32) -> std::io::Result<Root> {
    for q in rtnl.qdiscs()? {
        if q.index != index || q.parent != TcHandle::ROOT {
            continue;
        }
        return Ok(match q.kind.as_str() {
            "netem" => Root::Netem(decode(&q.options).map_err(std::io::Error::other)?),
            // The kernel's defaults: what the interface had before netlab.
            "noqueue" | "pfifo_fast" | "fq_codel" | "mq" | "" => Root::Default,
            other => Root::Other(other.to_owned()),
        });
    }
    Ok(Root::Default)
}

/// Makes netem the interface's root qdisc. `Err` with ENOENT when the
/// kernel has no netem ("unknown qdisc kind").
pub fn set(rtnl: &mut Rtnl, index: u32, impairment: &Impairment) -> std::io::Result<()> {
    rtnl.set_qdisc(
        index,
        TcHandle::ROOT,
        TcHandle::UNSPEC,
        "netem",
        Some(encode(impairment)),
        NLM_F_CREATE | NLM_F_REPLACE,
    )
}

/// Removes a netem root qdisc; returns whether there was one.
pub fn remove(rtnl: &mut Rtnl, index: u32) -> std::io::Result<bool> {
    if !matches!(root(rtnl, index)?, Root::Netem(_)) {
        return Ok(false);
    }
    rtnl.delete_qdisc(index, TcHandle::ROOT)?;
    Ok(true)
}

/// `TCA_OPTIONS` of netem: `struct tc_netem_qopt`, then attributes.
pub fn encode(i: &Impairment) -> Vec<u8> {
    let ns = |d: Option<Duration>| d.map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    let ticks = |ns: Option<u64>| u32::try_from(ns.unwrap_or(0) / TICK_NS).unwrap_or(u32::MAX);
    let (delay, jitter) = (ns(i.delay), ns(i.jitter));
    let probability = |p: Option<Percent>| p.map(Percent::to_netem).unwrap_or(0);
    let mut out = Vec::with_capacity(96);
    for v in [
        ticks(delay),
        LIMIT,
        probability(i.loss),
        // Reordering needs a gap; 1 lets `reorder` decide each packet.
        u32::from(i.reorder.is_some()),
        probability(i.duplicate),
        ticks(jitter),
    ] {
        out.extend_from_slice(&v.to_ne_bytes());
    }
    if let Some(d) = delay {
        nla(
            &mut out,
            TCA_NETEM_LATENCY64,
            &i64::try_from(d).unwrap_or(i64::MAX).to_ne_bytes(),
        );
    }
    if let Some(j) = jitter {
        nla(
            &mut out,
            TCA_NETEM_JITTER64,
            &i64::try_from(j).unwrap_or(i64::MAX).to_ne_bytes(),
        );
    }
    for (kind, p) in [
        (TCA_NETEM_REORDER, i.reorder),
        (TCA_NETEM_CORRUPT, i.corrupt),
    ] {
        if let Some(p) = p {
            let mut value = p.to_netem().to_ne_bytes().to_vec();
            value.extend_from_slice(&0u32.to_ne_bytes());
            nla(&mut out, kind, &value);
        }
    }
    if let Some(rate) = i.rate {
        let bytes = rate.bytes_per_second();
        let rate32 = u32::try_from(bytes).unwrap_or(u32::MAX);
        if bytes >= u64::from(u32::MAX) {
            nla(&mut out, TCA_NETEM_RATE64, &bytes.to_ne_bytes());
        }
        // struct tc_netem_rate: rate, packet_overhead, cell_size, cell_overhead.
        let mut value = rate32.to_ne_bytes().to_vec();
        value.extend_from_slice(&[0u8; 12]);
        nla(&mut out, TCA_NETEM_RATE, &value);
    }
    out
}

fn nla(out: &mut Vec<u8>, kind: u16, value: &[u8]) {
    let len = u16::try_from(4 + value.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(value);
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

/// The impairment in netem's `TCA_OPTIONS`, as the kernel reports it.
pub fn decode(bytes: &[u8]) -> Result<Impairment, String> {
    let word = |at: usize| -> Option<u32> {
        bytes
            .get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_ne_bytes)
    };
    if bytes.len() < QOPT_LEN {
        return Err(format!("netem options of {} bytes", bytes.len()));
    }
    let nonzero = |v: Option<u32>| v.filter(|v| *v != 0);
    let duration_of_ticks =
        |t: Option<u32>| nonzero(t).map(|t| Duration::from_nanos(u64::from(t) * TICK_NS));
    let mut out = Impairment {
        delay: duration_of_ticks(word(0)),
        jitter: duration_of_ticks(word(20)),
        loss: nonzero(word(8)).map(Percent::from_netem),
        duplicate: nonzero(word(16)).map(Percent::from_netem),
        ..Impairment::default()
    };
    let mut at = QOPT_LEN;
    while at + 4 <= bytes.len() {
        let len = usize::from(u16::from_ne_bytes([bytes[at], bytes[at + 1]]));
        let kind = u16::from_ne_bytes([bytes[at + 2], bytes[at + 3]]) & 0x3fff;
        if len < 4 || at + len > bytes.len() {
            break;
        }
        let value = &bytes[at + 4..at + len];
        let u64_of = |v: &[u8]| {
            v.get(..8)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_ne_bytes)
        };
        let u32_of = |v: &[u8]| {
            v.get(..4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_ne_bytes)
        };
        match kind {
            TCA_NETEM_LATENCY64 => {
                out.delay = u64_of(value).filter(|v| *v != 0).map(Duration::from_nanos)
            }
            TCA_NETEM_JITTER64 => {
                out.jitter = u64_of(value).filter(|v| *v != 0).map(Duration::from_nanos)
            }
            TCA_NETEM_REORDER => out.reorder = nonzero(u32_of(value)).map(Percent::from_netem),
            TCA_NETEM_CORRUPT => out.corrupt = nonzero(u32_of(value)).map(Percent::from_netem),
            TCA_NETEM_RATE if out.rate.is_none() => {
                out.rate = nonzero(u32_of(value)).map(|b| Rate(u64::from(b) * 8));
            }
            TCA_NETEM_RATE64 => out.rate = u64_of(value).filter(|v| *v != 0).map(|b| Rate(b * 8)),
            _ => {}
        }
        at += len.next_multiple_of(4);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Impairment {
        Impairment {
            delay: Some(Duration::from_millis(100)),
            jitter: Some(Duration::from_millis(5)),
            loss: Some(Percent(10.0)),
            duplicate: Some(Percent(1.0)),
            corrupt: Some(Percent(0.5)),
            reorder: Some(Percent(25.0)),
            rate: Some(Rate(10_000_000)),
        }
    }

    #[test]
    fn the_options_read_back_as_written() {
        let bytes = encode(&sample());
        assert_eq!(bytes.len() % 4, 0);
        // tc_netem_qopt: latency and jitter also as 64 ns ticks, the limit,
        // and a gap of 1 for reordering.
        let word = |i: usize| u32::from_ne_bytes(bytes[i..i + 4].try_into().expect("4 bytes"));
        assert_eq!(word(0), 100_000_000 / 64);
        assert_eq!(word(4), LIMIT);
        assert_eq!(word(12), 1);
        assert_eq!(word(20), 5_000_000 / 64);
        let back = decode(&bytes).expect("decodes");
        assert_eq!(back.delay, Some(Duration::from_millis(100)));
        assert_eq!(back.jitter, Some(Duration::from_millis(5)));
        assert_eq!(back.rate, Some(Rate(10_000_000)));
        for (got, want) in [
            (back.loss, 10.0),
            (back.duplicate, 1.0),
            (back.corrupt, 0.5),
            (back.reorder, 25.0),
        ] {
            assert!(
                (got.expect("set").0 - want).abs() < 1e-6,
                "{got:?} vs {want}"
            );
        }
    }

    #[test]
    fn only_what_is_asked_is_sent() {
        let delay_only = Impairment {
            delay: Some(Duration::from_micros(1500)),
            ..Impairment::default()
        };
        let bytes = encode(&delay_only);
        // qopt, then TCA_NETEM_LATENCY64 alone (4 + 8 bytes).
        assert_eq!(bytes.len(), QOPT_LEN + 12);
        assert_eq!(decode(&bytes).expect("decodes"), delay_only);
        let fast = Impairment {
            rate: Some(Rate(40_000_000_000)),
            ..Impairment::default()
        };
        assert_eq!(decode(&encode(&fast)).expect("decodes").rate, fast.rate);
        assert!(decode(&[0u8; 8]).is_err());
    }

    /// In a network namespace of its own (root only, and a kernel with
    /// netem): set on its loopback, read back by a dump, removed again.
    #[test]
    fn set_read_back_and_removed_in_a_namespace_of_its_own() {
        if !crate::capture::test_support::running_as_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let handle = std::thread::spawn(|| -> std::io::Result<Option<(Root, Root, bool, bool)>> {
            // SAFETY: unshare only changes this thread's network namespace.
            if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
            let mut rtnl = Rtnl::open()?;
            let lo = 1;
            let before = root(&mut rtnl, lo)?;
            match set(&mut rtnl, lo, &sample()) {
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(None),
                other => other?,
            }
            let after = root(&mut rtnl, lo)?;
            let removed = remove(&mut rtnl, lo)?;
            let again = remove(&mut rtnl, lo)?;
            Ok(Some((before, after, removed, again)))
        });
        let Some((before, after, removed, again)) =
            handle.join().expect("thread").expect("netlink")
        else {
            eprintln!("skipped: this kernel has no netem (the emulator's tests cover it)");
            return;
        };
        assert_eq!(before, Root::Default);
        let Root::Netem(read) = after else {
            panic!("netem expected, got {after:?}");
        };
        assert_eq!(read.delay, Some(Duration::from_millis(100)));
        assert_eq!(read.rate, Some(Rate(10_000_000)));
        assert!((read.loss.expect("loss").0 - 10.0).abs() < 1e-6);
        assert!(removed);
        assert!(!again, "removing twice finds nothing the second time");
    }
}
