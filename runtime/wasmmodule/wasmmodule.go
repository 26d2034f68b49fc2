// Package wasmmodule owns what the host knows of a plugin module as bytes,
// before anything compiles it: how a module is named (Digest), how it is
// recognized (IsWasm), how its sections are framed (Sections, which the
// engine's admission and the manifest's custom section share, and
// SetCustomSection), and the bounds that both the manifest (which reads,
// pins and bounds modules and their memory limits) and the engine (which
// admits and compiles them) apply: MaxBytes, PageSize and MaxMemory.
//
// It uses the standard library only, so that the manifest can share these
// rules with the engine without importing it (and wazero).
package wasmmodule

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
)

const (
	// MaxBytes caps a module: stored (a file, checked before it is
	// read), after decompression (which stops one byte past it, whatever
	// size the compressed stream claims), and when the engine admits it.
	// Compiling a module costs time and memory in proportion to its size.
	MaxBytes = 64 << 20

	// PageSize is the size of a WebAssembly memory page, the unit of a
	// module's memory: the smallest memory limit.
	PageSize = 64 << 10

	// MaxMemory is the largest memory limit: the 4 GiB a 32-bit module
	// can address.
	MaxMemory = 4 << 30
)

// Digest is the hex sha256 of a module: what a manifest pins, what logs
// and Events name a module by, and the engine's key for compiled code.
func Digest(wasm []byte) string {
	sum := sha256.Sum256(wasm)
	return hex.EncodeToString(sum[:])
}

var magic = []byte("\x00asm")

// IsWasm reports whether b starts with the WebAssembly binary magic.
func IsWasm(b []byte) bool { return bytes.HasPrefix(b, magic) }

// ErrNotWasm is the error for bytes that are not a module (IsWasm is
// false); its message says how to build one. Callers prefix what the
// bytes are: "module %q is " + ErrNotWasm.
var ErrNotWasm = errors.New("not a WebAssembly module (no \\0asm header); build it for wasip1 (GOOS=wasip1 GOARCH=wasm, wasm32-wasi)")
