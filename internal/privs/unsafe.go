package privs

import "unsafe"

// unsafePointer exists so that the one unsafe conversion of the package
// (a setgroups argument for a raw syscall) is easy to find.
func unsafePointer(p *uint32) unsafe.Pointer { return unsafe.Pointer(p) }
