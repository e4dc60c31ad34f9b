package worker

import (
	"encoding/binary"
	"strings"
	"unsafe"

	"github.com/gosgi/gosgi/internal/proto"
)

// matchMount returns the app whose mountpoint is the longest prefix of
// path ending at a '/' boundary (trailing '/' of mountpoints ignored), and
// that mountpoint, or -1 (PY-7).
func matchMount(mounts []string, path string) (int, string) {
	best, bestMount := -1, ""
	for i, m := range mounts {
		m = strings.TrimSuffix(m, "/")
		if m == "" || len(m) <= len(bestMount) || !strings.HasPrefix(path, m) {
			continue
		}
		if len(path) == len(m) || path[len(m)] == '/' {
			best, bestMount = i, m
		}
	}
	return best, bestMount
}

// manageScriptName implements manage-script-name: the matching mountpoint
// becomes SCRIPT_NAME and is stripped from PATH_INFO. The rewritten block is
// built in the core's C-memory variable buffer and re-parsed into l.req.
func (l *loop) manageScriptName(block []byte) (int, []byte, bool) {
	path := string(l.req.PathInfo)
	app, mount := matchMount(l.w.mounts, path)
	if app < 0 {
		return 0, nil, false
	}
	// Build after the current block when it already lives in Vars.
	dst := l.c.Vars[:0]
	if l.inC(block) && len(block) > 0 {
		off := int(uintptr(unsafe.Pointer(&block[0]))-uintptr(unsafe.Pointer(&l.c.Vars[0]))) + len(block)
		dst = l.c.Vars[off:off]
	}
	need := len(block) + len(mount) + len("SCRIPT_NAME") + 4
	if cap(dst) < need {
		return 0, nil, false
	}
	out := dst
	sawScript := false
	for p := block; len(p) >= 4; {
		kl := int(binary.LittleEndian.Uint16(p))
		k := p[2 : 2+kl]
		vl := int(binary.LittleEndian.Uint16(p[2+kl:]))
		v := p[4+kl : 4+kl+vl]
		p = p[4+kl+vl:]
		switch string(k) {
		case "SCRIPT_NAME":
			sawScript = true
			out = proto.AppendVar(out, "SCRIPT_NAME", mount)
		case "PATH_INFO":
			out = proto.AppendVar(out, "PATH_INFO", path[len(mount):])
		default:
			out = appendRaw(out, k, v)
		}
	}
	if !sawScript {
		out = proto.AppendVar(out, "SCRIPT_NAME", mount)
	}
	if err := proto.ParseVars(out, 0x7fff, &l.req); err != nil {
		return 0, nil, false
	}
	return app, out, true
}

func appendRaw(dst, k, v []byte) []byte {
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(k)))
	dst = append(dst, k...)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(v)))
	return append(dst, v...)
}
