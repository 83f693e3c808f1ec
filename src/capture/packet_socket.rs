//! The `AF_PACKET` socket the recorder reads: opening it, one `recvmsg`
//! with its `sockaddr_ll` and kernel timestamp, and the kernel's drop
//! counter. The unsafe libc calls the recorder needs live here, each
//! with its reason.
//!
//! `SOCK_DGRAM`, `ETH_P_ALL`, not bound: the kernel strips the link-layer
//! header and hands over the packet from the IP header on, whatever the
//! link (veth/Ethernet, loopback, VXLAN inside an overlay netns, WireGuard
//! or ipvlan without any Ethernet header at all). The `sockaddr_ll` still
//! says what is needed from layer 2: the EtherType, the hardware type
//! (loopback or not) and the packet type (outgoing or not).

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use socket2::{Domain, Protocol, Socket, Type};

use super::record::CaptureUnavailable;
use super::sockopt::set_int;

// Kernel ABI constants not (all) exported by libc for this target.
pub(super) const PACKET_OUTGOING: u8 = 4;
const PACKET_STATISTICS: libc::c_int = 6;
const SO_TIMESTAMPNS: libc::c_int = 35;
pub(super) const ETHERTYPE_IPV4: u16 = 0x0800;
pub(super) const ETHERTYPE_IPV6: u16 = 0x86DD;

/// Asked for (forced where allowed, else capped by `net.core.rmem_max`):
/// room for bursts.
const RECEIVE_BUFFER: usize = 4 * 1024 * 1024;

/// Opens the non-blocking packet socket with kernel timestamps on.
pub(super) fn open() -> Result<Socket, CaptureUnavailable> {
    let protocol = Protocol::from(i32::from((libc::ETH_P_ALL as u16).to_be()));
    let socket = Socket::new(Domain::PACKET, Type::DGRAM, Some(protocol))
        .map_err(|e| unavailable("cannot open an AF_PACKET socket", e))?;
    socket
        .set_nonblocking(true)
        .map_err(|e| unavailable("cannot make the packet socket non-blocking", e))?;
    // Best effort: a smaller buffer only risks drops, which are counted.
    // With CAP_NET_ADMIN the size is not capped by net.core.rmem_max
    // (212,992 bytes on a fresh machine: a few loopback packets of 64 KiB).
    let forced = i32::try_from(RECEIVE_BUFFER).map(|size| {
        set_int(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            size,
        )
    });
    if !matches!(forced, Ok(Ok(()))) {
        let _ = socket.set_recv_buffer_size(RECEIVE_BUFFER);
    }
    set_int(socket.as_raw_fd(), libc::SOL_SOCKET, SO_TIMESTAMPNS, 1)
        .map_err(|e| unavailable("cannot ask for kernel timestamps", e))?;
    Ok(socket)
}

/// The reason, with what would fix it when the error says.
fn unavailable(what: &str, e: io::Error) -> CaptureUnavailable {
    let reason = match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => {
            format!("{what}: {e} (needs CAP_NET_RAW in the network namespace's user namespace)")
        }
        Some(libc::EAFNOSUPPORT) => format!("{what}: {e} (no AF_PACKET in this kernel/sandbox)"),
        _ => format!("{what}: {e}"),
    };
    CaptureUnavailable { reason }
}

/// Packets the kernel dropped since the last call (the counter resets on
/// read): all packets, matching the probe or not. 0 if it cannot be read.
pub(super) fn kernel_drops(fd: RawFd) -> u32 {
    /// The kernel's `struct tpacket_stats`.
    #[repr(C)]
    #[derive(Default)]
    struct TpacketStats {
        tp_packets: u32,
        tp_drops: u32,
    }
    let mut stats = TpacketStats::default();
    let mut len = size_of::<TpacketStats>() as libc::socklen_t;
    // SAFETY: valid fd, buffer and length of the kernel's tpacket_stats.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_PACKET,
            PACKET_STATISTICS,
            (&mut stats as *mut TpacketStats).cast(),
            &mut len,
        )
    };
    if rc == 0 { stats.tp_drops } else { 0 }
}

/// What one `recvmsg` returned besides the bytes.
pub(super) struct Received {
    /// Bytes in the buffer.
    pub len: usize,
    /// The packet was longer than the buffer (kept cut).
    pub truncated: bool,
    pub ethertype: u16,
    pub hatype: u16,
    pub pkttype: u8,
    /// When the packet passed the tap (wall clock), if the kernel said.
    pub stamp: Option<SystemTime>,
}

/// One non-blocking `recvmsg` with the `sockaddr_ll` and the timestamp
/// control message.
pub(super) fn recv_one(fd: RawFd, buf: &mut [u8]) -> io::Result<Received> {
    // SAFETY: all pointers refer to live, correctly sized locals; the cmsg
    // walk uses libc's CMSG_* helpers over the control buffer we own.
    unsafe {
        let mut addr: libc::sockaddr_ll = std::mem::zeroed();
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        let mut control = [0u64; 16]; // 128 bytes, aligned for cmsghdr
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_name = (&mut addr as *mut libc::sockaddr_ll).cast();
        msg.msg_namelen = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = size_of_val(&control);
        // MSG_TRUNC: the real length, to tell a cut packet.
        let n = libc::recvmsg(fd, &mut msg, libc::MSG_TRUNC | libc::MSG_DONTWAIT);
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        let mut stamp = None;
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == SO_TIMESTAMPNS {
                let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                if ts.tv_sec > 0 {
                    stamp = Some(UNIX_EPOCH + Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
        Ok(Received {
            len: n.min(buf.len()),
            truncated: n > buf.len(),
            ethertype: u16::from_be(addr.sll_protocol),
            hatype: addr.sll_hatype,
            pkttype: addr.sll_pkttype,
            stamp,
        })
    }
}
