package wasmmodule

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// header is the smallest module.
const header = "\x00asm\x01\x00\x00\x00"

func TestSetCustomSection(t *testing.T) {
	// A type section (one type, () -> ()), then a custom section "a".
	base := []byte(header + "\x01\x04\x01\x60\x00\x00" + "\x00\x03\x01ax")
	one, err := SetCustomSection(base, "m", []byte("v1"))
	if err != nil {
		t.Fatal(err)
	}
	if want := header + "\x01\x04\x01\x60\x00\x00" + "\x00\x03\x01ax" + "\x00\x04\x01mv1"; string(one) != want {
		t.Fatalf("SetCustomSection = %q; want %q", one, want)
	}
	// Setting it again replaces it, wherever it was.
	two, err := SetCustomSection(one, "m", []byte("v2"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := CustomSections(two, "m")
	if err != nil || len(got) != 1 || string(got[0]) != "v2" {
		t.Errorf("CustomSections after a second SetCustomSection = %q, %v; want [v2]", got, err)
	}
	if a, _ := CustomSections(two, "a"); len(a) != 1 || string(a[0]) != "x" {
		t.Errorf("other custom sections are lost: %q", a)
	}
	if !bytes.Equal(base, []byte(header+"\x01\x04\x01\x60\x00\x00"+"\x00\x03\x01ax")) {
		t.Error("SetCustomSection changed its input")
	}
}

func TestSetCustomSectionRefuses(t *testing.T) {
	if _, err := SetCustomSection([]byte("#!/bin/sh"), "m", nil); !errors.Is(err, ErrNotWasm) {
		t.Errorf("not wasm: %v", err)
	}
	if _, err := SetCustomSection([]byte(header+"\x01\x7f"), "m", nil); err == nil || !strings.Contains(err.Error(), "127 bytes claimed") {
		t.Errorf("truncated section: %v", err)
	}
	if _, err := SetCustomSection([]byte(header), "m", make([]byte, MaxBytes)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("too large: %v", err)
	}
}

func TestSectionsFramingErrors(t *testing.T) {
	for _, tc := range []struct{ name, wasm, want string }{
		{"size past the end", header + "\x01\x05\x00", "at byte 10: 5 bytes claimed, 1 left"},
		{"malformed size", header + "\x01\xff\xff\xff\xff\xff", "at byte 9: malformed unsigned number"},
		{"no size", header + "\x01", "at byte 9: malformed unsigned number"},
		{"custom section name past its end", header + "\x00\x02\x05a", "custom section: at byte 11: 5 bytes claimed, 1 left"},
		{"custom section without a name", header + "\x00\x00", "custom section: at byte 10: malformed unsigned number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got error
			n := 0
			for _, err := range Sections([]byte(tc.wasm)) {
				if err != nil {
					got = err
				}
				n++
			}
			if got == nil || got.Error() != tc.want || n != 1 {
				t.Errorf("Sections yielded %d times, error %v; want one error %q", n, got, tc.want)
			}
		})
	}
}

func TestSectionsStopsWhenAsked(t *testing.T) {
	wasm := []byte(header + "\x00\x02\x01a\x00\x02\x01b")
	var names []string
	for s := range Sections(wasm) {
		names = append(names, s.Name)
		break
	}
	if len(names) != 1 || names[0] != "a" {
		t.Errorf("names %q; want [a]", names)
	}
}

// FuzzSections checks, for any bytes, that Sections frames them without
// panicking into sections that tile the module, and that a custom section
// set on a well-framed module is found again with the others kept.
func FuzzSections(f *testing.F) {
	f.Add([]byte(header + "\x01\x04\x01\x60\x00\x00\x00\x03\x01ax"))
	f.Add([]byte(header + "\x00\x02\x05a"))
	f.Add([]byte(header + "\x01\xff\xff\xff\xff\x0f"))
	f.Fuzz(func(t *testing.T, wasm []byte) {
		pos, framed := HeaderSize, true
		for s, err := range Sections(wasm) {
			if err != nil {
				framed = false
				break
			}
			if s.Header != pos || s.Start <= s.Header || s.End < s.Start || s.End > len(wasm) || (s.ID == CustomSection && (s.Payload < s.Start || s.Payload > s.End)) {
				t.Fatalf("section %+v does not follow byte %d within %d bytes", s, pos, len(wasm))
			}
			pos = s.End
		}
		if !framed || !IsWasm(wasm) || len(wasm) < HeaderSize {
			return
		}
		if pos != len(wasm) {
			t.Fatalf("sections end at %d of %d bytes", pos, len(wasm))
		}
		out, err := SetCustomSection(wasm, "m", []byte("payload"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := CustomSections(out, "m")
		if err != nil || len(got) != 1 || string(got[0]) != "payload" {
			t.Fatalf("CustomSections = %q, %v; want [payload]", got, err)
		}
	})
}
