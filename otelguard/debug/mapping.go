package debug

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/google/pprof/profile"
)

// mappings assigns locations to the program's executable mappings, the
// way runtime/pprof does: from /proc/self/maps where the system has it,
// else one stand-in mapping for the executable that covers every address.
// Only the mappings that some location falls in go into the profile.
type mappings struct {
	mems []memMap // executable mappings, in /proc/self/maps order
	fake *memMap  // when there are none
}

type memMap struct {
	start, end, offset uint64
	file               string
	m                  *profile.Mapping // in the profile, once used
	unsymbolized       bool             // a location in it lacks a function, file or line
}

func readMappings() *mappings {
	ms := &mappings{}
	if data, err := os.ReadFile("/proc/self/maps"); err == nil {
		ms.mems = parseProcMaps(data)
	}
	if len(ms.mems) == 0 {
		exe, _ := os.Executable()
		ms.fake = &memMap{file: exe}
	}
	return ms
}

// parseProcMaps returns the executable mappings of a /proc/self/maps
// text, whose lines read:
//
//	00400000-0040b000 r-xp 00000000 fc:01 787766    /bin/cat
func parseProcMaps(data []byte) []memMap {
	var out []memMap
	for len(data) > 0 {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte("\n"))
		// next removes and returns the next field of line.
		next := func() string {
			var f []byte
			f, line, _ = bytes.Cut(line, []byte(" "))
			line = bytes.TrimLeft(line, " ")
			return string(f)
		}
		lo, hi, ok := strings.Cut(next(), "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		perm := next()
		offset, err3 := strconv.ParseUint(next(), 16, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		if len(perm) < 4 || perm[2] != 'x' {
			continue // only executable text holds PCs
		}
		next() // device
		inode := next()
		// The file name is the rest of the line; it may hold spaces.
		file := strings.TrimSuffix(string(line), " (deleted)")
		if inode == "0" && file == "" {
			// Unpopulated huge-page text; runtime/pprof skips it too.
			continue
		}
		out = append(out, memMap{start: start, end: end, offset: offset, file: file})
	}
	return out
}

// of returns the profile mapping that pc falls in, adding it to p the
// first time, or nil if pc falls in none. symbolized says whether the
// location at pc has its functions, files and lines.
func (ms *mappings) of(p *profile.Profile, pc uintptr, symbolized bool) *profile.Mapping {
	mm := ms.fake
	if mm == nil {
		a := uint64(pc)
		i, found := slices.BinarySearchFunc(ms.mems, a, func(m memMap, a uint64) int {
			switch {
			case m.end <= a:
				return -1
			case m.start > a:
				return 1
			}
			return 0
		})
		if !found { // the kernel lists /proc/self/maps in address order
			return nil
		}
		mm = &ms.mems[i]
	}
	if mm.m == nil {
		mm.m = &profile.Mapping{
			Start:   mm.start,
			Limit:   mm.end,
			Offset:  mm.offset,
			File:    mm.file,
			BuildID: buildID(mm.file),
		}
		p.Mapping = append(p.Mapping, mm.m)
	}
	if !symbolized {
		mm.unsymbolized = true
	}
	return mm.m
}

// finish numbers the profile's mappings in address order and says which
// need no symbolization.
func (ms *mappings) finish(p *profile.Profile) {
	all := ms.mems
	if ms.fake != nil {
		all = []memMap{*ms.fake}
	}
	p.Mapping = p.Mapping[:0]
	for i := range all {
		mm := &all[i]
		if mm.m == nil {
			continue
		}
		ok := !mm.unsymbolized
		mm.m.ID = uint64(len(p.Mapping) + 1)
		mm.m.HasFunctions = ok
		mm.m.HasFilenames = ok
		mm.m.HasLineNumbers = ok
		mm.m.HasInlineFrames = ok
		p.Mapping = append(p.Mapping, mm.m)
	}
}

// buildIDs caches the GNU build ID of each mapped file ("" when it has
// none), which pprof uses to find the binary when it must symbolize.
var buildIDs sync.Map // file name -> string

func buildID(file string) string {
	if file == "" || file[0] == '[' {
		return "" // [vdso] and the like
	}
	if id, ok := buildIDs.Load(file); ok {
		return id.(string)
	}
	id := elfBuildID(file)
	buildIDs.Store(file, id)
	return id
}

// elfBuildID reads the NT_GNU_BUILD_ID note of an ELF file, as
// runtime/pprof does; Go's linker writes one when asked (-B), C toolchains
// by default.
func elfBuildID(file string) string {
	f, err := elf.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	for _, s := range f.Sections {
		if s.Type != elf.SHT_NOTE {
			continue
		}
		data, err := s.Data()
		if err != nil {
			continue
		}
		if id := gnuBuildIDNote(data, f.ByteOrder); id != "" {
			return id
		}
	}
	return ""
}

// gnuBuildIDNote finds the GNU build ID in the notes of one section.
func gnuBuildIDNote(data []byte, order binary.ByteOrder) string {
	const ntGNUBuildID = 3
	for len(data) >= 12 {
		namesz := int(order.Uint32(data[0:]))
		descsz := int(order.Uint32(data[4:]))
		typ := order.Uint32(data[8:])
		data = data[12:]
		nameEnd := (namesz + 3) &^ 3
		descEnd := (descsz + 3) &^ 3
		// The last note may go without the padding after its descriptor.
		if namesz < 0 || descsz < 0 || nameEnd+descsz > len(data) {
			return ""
		}
		name := data[:namesz]
		desc := data[nameEnd : nameEnd+descsz]
		if typ == ntGNUBuildID && string(name) == "GNU\x00" {
			return hex.EncodeToString(desc)
		}
		data = data[min(nameEnd+descEnd, len(data)):]
	}
	return ""
}
