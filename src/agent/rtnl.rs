//! rtnetlink requests of the current network namespace, blocking, one at a
//! time: the few that impairing a link needs — a qdisc (netem, clsact) set
//! or removed, a filter that redirects an interface's egress, a veth pair
//! made or removed, and a dump of the qdiscs; and the dummy interface a
//! lab network hangs off (`parent: lab`); and the route the kernel would
//! take to an address (`ip route get`). Messages are built with
//! netlink-packet-route and sent on a netlink-sys socket.

use std::ffi::CString;

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteMessage};
use netlink_packet_route::tc::{
    TcAction, TcActionAttribute, TcActionGeneric, TcActionMirror, TcActionMirrorOption,
    TcActionOption, TcActionType, TcAttribute, TcFilterU32, TcFilterU32Option, TcHandle, TcMessage,
    TcMirror, TcMirrorActionType, TcOption, TcU32Key, TcU32Selector, TcU32SelectorFlags,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};

/// A qdisc's options (`TCA_OPTIONS`), for a kind whose options are
/// written by hand.
const TCA_OPTIONS: u16 = 2;

/// The parent of an egress filter under clsact (`ffff:fff3`).
const CLSACT_EGRESS: TcHandle = TcHandle {
    major: 0xffff,
    minor: TcHandle::MIN_EGRESS,
};

/// The kernel's route to one address, as `ip route get` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTo {
    /// The next hop, when the address is not on a link of this host.
    pub gateway: Option<std::net::IpAddr>,
    /// The interface the packet would leave by.
    pub interface: Option<String>,
}

pub struct Rtnl {
    socket: Socket,
    sequence: u32,
}

/// A qdisc as a dump lists it: where it hangs, its kind, and its raw
/// `TCA_OPTIONS` (for a kind netlink-packet-route does not know).
#[derive(Debug, Clone)]
pub struct Qdisc {
    pub index: u32,
    pub parent: TcHandle,
    pub kind: String,
    pub options: Vec<u8>,
}

impl Rtnl {
    pub fn open() -> std::io::Result<Rtnl> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        // The kernel always answers; a deadline keeps a surprise from hanging.
        let timeout = libc::timeval {
            tv_sec: 5,
            tv_usec: 0,
        };
        // SAFETY: setsockopt reads `size_of::<timeval>()` bytes from a valid
        // timeval that lives across the call, on a socket we own.
        let r = unsafe {
            libc::setsockopt(
                std::os::fd::AsRawFd::as_raw_fd(&socket),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                std::ptr::from_ref(&timeout).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if r != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Rtnl {
            socket,
            sequence: 0,
        })
    }

    /// Sends one request; returns the messages of a dump, or nothing once a
    /// request is acknowledged. A NACK is the kernel's errno (as an
    /// `io::Error`, so callers can tell ENOENT from the rest).
    pub fn exchange(
        &mut self,
        message: RouteNetlinkMessage,
        flags: u16,
    ) -> std::io::Result<Vec<RouteNetlinkMessage>> {
        self.sequence = self.sequence.wrapping_add(1);
        let mut request = NetlinkMessage::from(message);
        request.header.flags = flags;
        request.header.sequence_number = self.sequence;
        request.finalize();
        let mut buf = vec![0u8; request.buffer_len()];
        request.serialize(&mut buf);
        self.socket.send(&buf, 0)?;
        let mut out = Vec::new();
        loop {
            let mut received: Vec<u8> = Vec::with_capacity(1 << 16);
            self.socket.recv(&mut received, 0)?;
            let mut offset = 0;
            while offset < received.len() {
                let message =
                    NetlinkMessage::<RouteNetlinkMessage>::deserialize(&received[offset..])
                        .map_err(|e| {
                            std::io::Error::other(format!("cannot read the kernel's answer: {e}"))
                        })?;
                let length = message.header.length as usize;
                let ours = message.header.sequence_number == self.sequence;
                match message.payload {
                    NetlinkPayload::Done(_) if ours => return Ok(out),
                    NetlinkPayload::Error(e) if ours => {
                        return match e.code {
                            None => Ok(out),
                            Some(_) => Err(e.to_io()),
                        };
                    }
                    NetlinkPayload::InnerMessage(m) if ours => out.push(m),
                    _ => {}
                }
                if length == 0 {
                    break;
                }
                offset += length.next_multiple_of(4);
            }
        }
    }

    /// Every qdisc of the namespace.
    pub fn qdiscs(&mut self) -> std::io::Result<Vec<Qdisc>> {
        let replies = self.exchange(
            RouteNetlinkMessage::GetQueueDiscipline(TcMessage::default()),
            NLM_F_REQUEST | NLM_F_DUMP,
        )?;
        Ok(replies
            .into_iter()
            .filter_map(|reply| match reply {
                RouteNetlinkMessage::NewQueueDiscipline(m) => Some(m),
                _ => None,
            })
            .map(|m| Qdisc {
                index: u32::try_from(m.header.index).unwrap_or_default(),
                parent: m.header.parent,
                kind: m
                    .attributes
                    .iter()
                    .find_map(|a| match a {
                        TcAttribute::Kind(k) => Some(k.clone()),
                        _ => None,
                    })
                    .unwrap_or_default(),
                options: m
                    .attributes
                    .iter()
                    .find_map(|a| match a {
                        TcAttribute::Options(list) => list.iter().find_map(|o| match o {
                            TcOption::Other(nla) => {
                                let mut value = vec![0u8; netlink_packet_core::Nla::value_len(nla)];
                                netlink_packet_core::Nla::emit_value(nla, &mut value);
                                Some(value)
                            }
                            _ => None,
                        }),
                        _ => None,
                    })
                    .unwrap_or_default(),
            })
            .collect())
    }

    /// Adds (or replaces) a qdisc of `kind` with raw options under `parent`.
    pub fn set_qdisc(
        &mut self,
        index: u32,
        parent: TcHandle,
        handle: TcHandle,
        kind: &str,
        options: Option<Vec<u8>>,
        flags: u16,
    ) -> std::io::Result<()> {
        let mut msg = TcMessage::with_index(ifindex(index)?);
        msg.header.parent = parent;
        msg.header.handle = handle;
        msg.attributes.push(TcAttribute::Kind(kind.into()));
        if let Some(o) = options {
            msg.attributes
                .push(TcAttribute::Other(netlink_packet_core::DefaultNla::new(
                    TCA_OPTIONS,
                    o,
                )));
        }
        self.exchange(
            RouteNetlinkMessage::NewQueueDiscipline(msg),
            NLM_F_REQUEST | NLM_F_ACK | flags,
        )
        .map(drop)
    }

    pub fn delete_qdisc(&mut self, index: u32, parent: TcHandle) -> std::io::Result<()> {
        let mut msg = TcMessage::with_index(ifindex(index)?);
        msg.header.parent = parent;
        self.exchange(
            RouteNetlinkMessage::DelQueueDiscipline(msg),
            NLM_F_REQUEST | NLM_F_ACK,
        )
        .map(drop)
    }

    /// A clsact qdisc on the interface and one egress filter that steals
    /// every frame it sends and hands it to interface `to` instead (`tc
    /// filter add dev X egress u32 match u8 0 0 action mirred egress
    /// redirect dev TO`).
    pub fn redirect_egress(&mut self, index: u32, to: u32) -> std::io::Result<()> {
        self.set_qdisc(
            index,
            TcHandle::CLSACT,
            TcHandle {
                major: 0xffff,
                minor: 0,
            },
            "clsact",
            None,
            NLM_F_CREATE | NLM_F_EXCL,
        )?;
        let mut selector = TcU32Selector::default();
        selector.flags = TcU32SelectorFlags::Terminal;
        selector.nkeys = 1;
        selector.keys = vec![TcU32Key::default()];
        let mut generic = TcActionGeneric::default();
        generic.action = TcActionType::Stolen;
        let mut mirror = TcMirror::default();
        mirror.generic = generic;
        mirror.eaction = TcMirrorActionType::EgressRedir;
        mirror.ifindex = to;
        let mut action = TcAction::default();
        action.attributes = vec![
            TcActionAttribute::Kind(TcActionMirror::KIND.into()),
            TcActionAttribute::Options(vec![TcActionOption::Mirror(TcActionMirrorOption::Parms(
                mirror,
            ))]),
        ];
        let mut msg = TcMessage::with_index(ifindex(index)?);
        msg.header.parent = CLSACT_EGRESS;
        // Priority 1, every protocol (ETH_P_ALL in network order).
        msg.header.info = (1 << 16) | u32::from((libc::ETH_P_ALL as u16).to_be());
        msg.attributes
            .push(TcAttribute::Kind(TcFilterU32::KIND.into()));
        msg.attributes.push(TcAttribute::Options(vec![
            TcOption::U32(TcFilterU32Option::Selector(selector)),
            TcOption::U32(TcFilterU32Option::Action(vec![action])),
        ]));
        self.exchange(
            RouteNetlinkMessage::NewTrafficFilter(msg),
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        )
        .map(drop)
    }

    /// A veth pair, both ends up, with no address. (Asking for "up" in
    /// the request that makes it fails with ENOTCONN: an end cannot come up
    /// before its peer exists. So: made down, then brought up.)
    pub fn add_veth_pair(&mut self, name: &str, peer: &str) -> std::io::Result<()> {
        let mut peer_msg = LinkMessage::default();
        peer_msg.attributes.push(LinkAttribute::IfName(peer.into()));
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.into()));
        msg.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_msg))),
        ]));
        self.exchange(
            RouteNetlinkMessage::NewLink(msg),
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        )?;
        for end in [name, peer] {
            self.set_up(end)?;
        }
        Ok(())
    }

    /// A dummy interface, up, with `alias` (what `ip link` shows as its
    /// alias: who made it).
    pub fn add_dummy(&mut self, name: &str, alias: &str) -> std::io::Result<()> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.into()));
        msg.attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                InfoKind::Dummy,
            )]));
        self.exchange(
            RouteNetlinkMessage::NewLink(msg),
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        )?;
        // The kernel takes an alias when a link is changed, not when it is
        // made (an alias in the request above is dropped without a word).
        self.set_up_with_alias(name, Some(alias))
    }

    pub fn set_up(&mut self, name: &str) -> std::io::Result<()> {
        self.set_up_with_alias(name, None)
    }

    fn set_up_with_alias(&mut self, name: &str, alias: Option<&str>) -> std::io::Result<()> {
        let mut up = LinkMessage::default();
        up.header.index = index_of(name)?;
        up.header.flags = LinkFlags::Up;
        up.header.change_mask = LinkFlags::Up;
        if let Some(alias) = alias {
            up.attributes.push(LinkAttribute::IfAlias(alias.into()));
        }
        self.exchange(RouteNetlinkMessage::SetLink(up), NLM_F_REQUEST | NLM_F_ACK)
            .map(drop)
    }

    /// The route the kernel would take to `to` (RTM_GETROUTE); no route
    /// is the kernel's errno (ENETUNREACH and its kin).
    pub fn route_to(&mut self, to: std::net::IpAddr) -> std::io::Result<RouteTo> {
        let mut msg = RouteMessage::default();
        (
            msg.header.address_family,
            msg.header.destination_prefix_length,
        ) = match to {
            std::net::IpAddr::V4(_) => (AddressFamily::Inet, 32),
            std::net::IpAddr::V6(_) => (AddressFamily::Inet6, 128),
        };
        msg.attributes
            .push(RouteAttribute::Destination(RouteAddress::from(to)));
        let replies = self.exchange(
            RouteNetlinkMessage::GetRoute(msg),
            NLM_F_REQUEST | NLM_F_ACK,
        )?;
        let Some(RouteNetlinkMessage::NewRoute(route)) = replies.into_iter().next() else {
            return Err(std::io::Error::other(format!(
                "the kernel gave no route to {to}"
            )));
        };
        let mut out = RouteTo {
            gateway: None,
            interface: None,
        };
        for attribute in route.attributes {
            match attribute {
                RouteAttribute::Gateway(RouteAddress::Inet(a)) => out.gateway = Some(a.into()),
                RouteAttribute::Gateway(RouteAddress::Inet6(a)) => out.gateway = Some(a.into()),
                RouteAttribute::Oif(index) => out.interface = name_of(index),
                _ => {}
            }
        }
        Ok(out)
    }

    pub fn delete_link(&mut self, index: u32) -> std::io::Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        self.exchange(RouteNetlinkMessage::DelLink(msg), NLM_F_REQUEST | NLM_F_ACK)
            .map(drop)
    }
}

fn ifindex(index: u32) -> std::io::Result<i32> {
    i32::try_from(index).map_err(|_| std::io::Error::other(format!("interface index {index}")))
}

/// The name of the interface with index `index`, if there is one.
fn name_of(index: u32) -> Option<String> {
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: `buf` has the IF_NAMESIZE bytes if_indextoname may write.
    let name = unsafe { libc::if_indextoname(index, buf.as_mut_ptr()) };
    if name.is_null() {
        return None;
    }
    // SAFETY: on success the kernel wrote a NUL-terminated name into `buf`.
    let name = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
    Some(name.to_string_lossy().into_owned())
}

/// The index of the interface called `name`, if there is one.
pub fn index_of(name: &str) -> std::io::Result<u32> {
    let c = CString::new(name).map_err(std::io::Error::other)?;
    // SAFETY: a valid NUL-terminated string that lives across the call.
    match unsafe { libc::if_nametoindex(c.as_ptr()) } {
        0 => Err(std::io::Error::last_os_error()),
        i => Ok(i),
    }
}
