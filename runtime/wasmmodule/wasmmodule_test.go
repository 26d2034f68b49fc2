package wasmmodule

import (
	"fmt"
	"testing"
)

func TestDigest(t *testing.T) {
	// sha256 of "\x00asm\x01\x00\x00\x00", the smallest module.
	const want = "93a44bbb96c751218e4c00d479e4c14358122a389acca16205b1e4d0dc5f9476"
	if got := Digest([]byte("\x00asm\x01\x00\x00\x00")); got != want {
		t.Errorf("Digest = %s; want %s", got, want)
	}
}

func TestIsWasm(t *testing.T) {
	for b, want := range map[string]bool{"\x00asm\x01\x00\x00\x00": true, "\x00asm": true, "\x00as": false, "": false, "#!/bin/sh": false, "\x1f\x8b\x00asm": false} {
		if got := IsWasm([]byte(b)); got != want {
			t.Errorf("IsWasm(%q) = %v; want %v", b, got, want)
		}
	}
	if got, want := fmt.Sprintf("module %q is %v", "m.wasm", ErrNotWasm), `module "m.wasm" is not a WebAssembly module (no \0asm header); build it for wasip1 (GOOS=wasip1 GOARCH=wasm, wasm32-wasi)`; got != want {
		t.Errorf("message %s; want %s", got, want)
	}
}
