package sockets

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"
)

// sock_diag constants for UNIX sockets (linux/unix_diag.h).
const (
	sockDiagByFamily = 20
	udiagShowRQLen   = 0x10
	unixDiagRQLen    = 4
	tcpListenState   = 10
)

// unixQueueLen asks the kernel (sock_diag over netlink) for the accept
// queue of a listening UNIX socket: for those, the RQLEN attribute holds
// the queued connections and the backlog. It returns 0, 0 on any failure.
func unixQueueLen(fd int) (queue, max int) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, 0
	}
	nl, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return 0, 0
	}
	defer unix.Close(nl)
	tv := unix.NsecToTimeval((500 * time.Millisecond).Nanoseconds())
	_ = unix.SetsockoptTimeval(nl, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)

	// nlmsghdr (16) + unix_diag_req (24): dump listening sockets with
	// their queue lengths, then pick ours by inode.
	req := make([]byte, 40)
	le := binary.LittleEndian
	le.PutUint32(req[0:], 40)
	le.PutUint16(req[4:], sockDiagByFamily)
	le.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	le.PutUint32(req[8:], 1)
	req[16] = unix.AF_UNIX
	le.PutUint32(req[20:], 1<<tcpListenState)
	le.PutUint32(req[28:], udiagShowRQLen)
	if err := unix.Sendto(nl, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, 0
	}
	buf := make([]byte, 32<<10)
	for range 1000 { // bounded: a dump ends with NLMSG_DONE
		n, _, err := unix.Recvfrom(nl, buf, 0)
		if err != nil || n <= 0 {
			return 0, 0
		}
		for p := 0; p+16 <= n; {
			mlen := int(le.Uint32(buf[p:]))
			mtype := le.Uint16(buf[p+4:])
			if mlen < 16 || p+mlen > n {
				return 0, 0
			}
			if mtype == unix.NLMSG_DONE || mtype == unix.NLMSG_ERROR {
				return 0, 0
			}
			msg := buf[p+16 : p+mlen]
			if len(msg) >= 16 && uint64(le.Uint32(msg[4:])) == st.Ino {
				return rqlen(msg[16:])
			}
			p += (mlen + 3) &^ 3
		}
	}
	return 0, 0
}

// rqlen finds the UNIX_DIAG_RQLEN attribute.
func rqlen(attrs []byte) (int, int) {
	le := binary.LittleEndian
	for p := 0; p+4 <= len(attrs); {
		alen := int(le.Uint16(attrs[p:]))
		atype := le.Uint16(attrs[p+2:])
		if alen < 4 || p+alen > len(attrs) {
			break
		}
		if atype == unixDiagRQLen && alen >= 12 {
			return int(le.Uint32(attrs[p+4:])), int(le.Uint32(attrs[p+8:]))
		}
		p += (alen + 3) &^ 3
	}
	return 0, 0
}
