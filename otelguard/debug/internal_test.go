package debug

import (
	"encoding/binary"
	"slices"
	"testing"
)

func TestParseProcMaps(t *testing.T) {
	const maps = `00400000-0040b000 r-xp 00000000 fc:01 787766                             /usr/bin/my app
0060a000-0060b000 r--p 0000a000 fc:01 787766                             /usr/bin/my app
014ab000-014cc000 rw-p 00000000 00:00 0                                  [heap]
7f7d7797c000-7f7d77b36000 r-xp 001ba000 fc:01 1180226                    /lib/libc.so.6 (deleted)
7f7d77b36000-7f7d77d36000 ---p 001ba000 fc:01 1180226                    /lib/libc.so.6
7f0000000000-7f0000200000 r-xp 00000000 00:00 0
7ffc34343000-7ffc34345000 r-xp 00000000 00:00 0                          [vdso]
garbage
zz-yy r-xp 0 0 0 /x
`
	got := parseProcMaps([]byte(maps))
	want := []memMap{
		{start: 0x400000, end: 0x40b000, offset: 0, file: "/usr/bin/my app"},
		{start: 0x7f7d7797c000, end: 0x7f7d77b36000, offset: 0x1ba000, file: "/lib/libc.so.6"},
		{start: 0x7ffc34343000, end: 0x7ffc34345000, offset: 0, file: "[vdso]"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestGNUBuildIDNote(t *testing.T) {
	note := func(name string, typ uint32, desc []byte) []byte {
		var b []byte
		b = binary.LittleEndian.AppendUint32(b, uint32(len(name)))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(desc)))
		b = binary.LittleEndian.AppendUint32(b, typ)
		b = append(b, name...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
		b = append(b, desc...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
		return b
	}
	goNote := note("Go\x00", 4, []byte("abc/def"))
	gnu := note("GNU\x00", 3, []byte{0xde, 0xad, 0xbe, 0xef, 0x01})
	if got := gnuBuildIDNote(append(goNote, gnu...), binary.LittleEndian); got != "deadbeef01" {
		t.Errorf("build ID %q, want deadbeef01", got)
	}
	if got := gnuBuildIDNote(goNote, binary.LittleEndian); got != "" {
		t.Errorf("no GNU note: build ID %q", got)
	}
	if got := gnuBuildIDNote(gnu[:len(gnu)-3], binary.LittleEndian); got != "deadbeef01" {
		t.Errorf("last note without its padding: build ID %q, want deadbeef01", got)
	}
	if got := gnuBuildIDNote(gnu[:len(gnu)-4], binary.LittleEndian); got != "" {
		t.Errorf("truncated note: build ID %q", got)
	}
}

func TestAcceptsText(t *testing.T) {
	for _, tc := range []struct {
		accept []string
		want   bool
	}{
		{nil, false},
		{[]string{"*/*"}, false},
		{[]string{"text/plain"}, true},
		{[]string{"text/html", "text/plain; charset=utf-8"}, true},
		{[]string{"application/json, text/plain;q=0.1"}, true},
		{[]string{"text/plain;q=0"}, false},
		{[]string{"text/plain;q=0.0, application/octet-stream"}, false},
		{[]string{"text/*"}, false},
		{[]string{"not a media type, TEXT/PLAIN"}, true},
	} {
		if got := acceptsText(tc.accept); got != tc.want {
			t.Errorf("acceptsText(%q) = %v, want %v", tc.accept, got, tc.want)
		}
	}
}

func TestAddSaturating(t *testing.T) {
	const max = 1<<63 - 1
	if got := addSaturating(max-1, 5); got != max {
		t.Errorf("got %d", got)
	}
	if got := addSaturating(1, 2); got != 3 {
		t.Errorf("got %d", got)
	}
}
