// Command extract reads the option tables compiled into an installed uWSGI
// binary and its plugins and prints them as the tab-separated facts file
// that gen consumes (uwsgi-options.tsv). It needs the uWSGI files on disk
// (Debian: uwsgi-core, uwsgi-plugin-python3) but no network, and records
// only facts: names, argument kinds, short flags, the setter function name
// (which tells lists from last-wins values) and the flag bits.
//
// It does not interpret the facts; gen decides what they mean for gosgi.
//
// Usage:
//
//	go run ./internal/options/gen/extract \
//	    core=/usr/bin/uwsgi-core \
//	    python=/usr/lib/uwsgi/plugins/python3_plugin.so \
//	    http=/usr/lib/uwsgi/plugins/http_plugin.so > uwsgi-options.tsv
//
// Only x86-64 ELF files are understood: each option is a 48-byte record
// {name *char, has_arg int32, short int32, help *char, setter func,
// data ptr, flags uint64}, whose pointers are filled by dynamic relocations.
package main

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"os"
	"sort"
	"strings"
)

type reloc struct {
	addend uint64
	sym    string // non-empty for symbol relocations
}

type image struct {
	f      *elf.File
	relocs map[uint64]reloc
	syms   map[uint64]string
}

func open(path string) (*image, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	im := &image{f: f, relocs: map[uint64]reloc{}, syms: map[uint64]string{}}
	dsyms, err := f.DynamicSymbols()
	if err != nil {
		return nil, fmt.Errorf("dynamic symbols of %s: %w", path, err)
	}
	for _, s := range dsyms {
		if s.Value != 0 {
			im.syms[s.Value] = s.Name
		}
	}
	for _, sec := range f.Sections {
		if sec.Type != elf.SHT_RELA {
			continue
		}
		data, err := sec.Data()
		if err != nil {
			return nil, fmt.Errorf("read %s of %s: %w", sec.Name, path, err)
		}
		for i := 0; i+24 <= len(data); i += 24 {
			off := binary.LittleEndian.Uint64(data[i:])
			info := binary.LittleEndian.Uint64(data[i+8:])
			add := binary.LittleEndian.Uint64(data[i+16:])
			typ, symIdx := uint32(info), info>>32
			switch elf.R_X86_64(typ) {
			case elf.R_X86_64_RELATIVE:
				im.relocs[off] = reloc{addend: add}
			case elf.R_X86_64_64:
				if symIdx >= 1 && int(symIdx-1) < len(dsyms) {
					s := dsyms[symIdx-1]
					im.relocs[off] = reloc{addend: add, sym: s.Name}
				}
			}
		}
	}
	return im, nil
}

// read returns n bytes at virtual address addr.
func (im *image) read(addr uint64, n int) []byte {
	for _, sec := range im.f.Sections {
		if sec.Type == elf.SHT_NOBITS || addr < sec.Addr || addr+uint64(n) > sec.Addr+sec.Size {
			continue
		}
		data, err := sec.Data()
		if err != nil {
			return nil
		}
		return data[addr-sec.Addr : addr-sec.Addr+uint64(n)]
	}
	return nil
}

func (im *image) cstring(addr uint64) (string, bool) {
	for _, sec := range im.f.Sections {
		if sec.Type == elf.SHT_NOBITS || addr < sec.Addr || addr >= sec.Addr+sec.Size {
			continue
		}
		data, err := sec.Data()
		if err != nil {
			return "", false
		}
		rest := data[addr-sec.Addr:]
		end := bytes.IndexByte(rest, 0)
		if end < 0 {
			return "", false
		}
		return string(rest[:end]), true
	}
	return "", false
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: extract plugin=path ...")
		os.Exit(2)
	}
	fmt.Println("# plugin\tname\thas_arg\tshort\tsetter\tdata\tflags")
	for _, arg := range os.Args[1:] {
		plugin, path, ok := strings.Cut(arg, "=")
		if !ok {
			fmt.Fprintf(os.Stderr, "bad argument %q\n", arg)
			os.Exit(2)
		}
		im, err := open(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		offs := make([]uint64, 0, len(im.relocs))
		for o := range im.relocs {
			offs = append(offs, o)
		}
		sort.Slice(offs, func(i, j int) bool { return offs[i] < offs[j] })
		for _, o := range offs {
			name, ok := im.cstring(im.relocs[o].addend)
			if !ok || !validName(name) {
				continue
			}
			// The setter pointer sits 24 bytes after the name; an option
			// record always has one.
			fn, ok := im.relocs[o+24]
			if !ok {
				continue
			}
			if _, ok := im.relocs[o+16]; !ok { // help text pointer
				continue
			}
			raw := im.read(o+8, 8)
			flagsRaw := im.read(o+40, 8)
			if raw == nil || flagsRaw == nil {
				continue
			}
			hasArg := binary.LittleEndian.Uint32(raw)
			short := binary.LittleEndian.Uint32(raw[4:])
			if hasArg > 2 || short > 127 {
				continue
			}
			setter := fn.sym
			if setter == "" || fn.sym == "" {
				setter = im.syms[fn.addend]
			}
			// Every setter of a real record is an exported function
			// (plugins call them); anything else is data that merely
			// looks like a record.
			if setter == "" || !strings.HasPrefix(setter, "uwsgi_") {
				continue
			}
			if binary.LittleEndian.Uint64(flagsRaw) >= 1<<20 {
				continue // not an option record
			}
			var data uint64
			if r, ok := im.relocs[o+32]; ok {
				data = r.addend
				if r.sym != "" {
					data = 0 // imported object: identify by name below
				}
			} else if b := im.read(o+32, 8); b != nil {
				data = binary.LittleEndian.Uint64(b)
			}
			dataID := fmt.Sprintf("%x", data)
			if r, ok := im.relocs[o+32]; ok && r.sym != "" {
				dataID = fmt.Sprintf("%s+%x", r.sym, r.addend)
			} else if s, ok := im.cstring(data); ok && data != 0 && validName(s) {
				dataID = "str:" + s
			}
			sh := "-"
			if short != 0 {
				sh = string(rune(short))
			}
			fmt.Printf("%s\t%s\t%d\t%s\t%s\t%s\t%d\n", plugin, name, hasArg, sh, setter, dataID, binary.LittleEndian.Uint64(flagsRaw))
		}
	}
}
