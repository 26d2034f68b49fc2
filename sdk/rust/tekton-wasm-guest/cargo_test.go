// Package guestrs runs the Rust SDK's own tests (cargo test, natively,
// with Debian's toolchain) as part of `go test ./...`, so that `make test`
// covers the crate; the Rust example plugin (plugins/wait-rust) runs it
// through the host's engine.
package guestrs

import (
	"os"
	"os/exec"
	"testing"
)

func TestCargo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the crate with cargo")
	}
	if _, err := os.Stat("/usr/bin/cargo"); err != nil {
		t.Fatal("Debian's cargo is not installed; run hack/deps.sh (Debian packages cargo, librust-serde-json-dev, librust-serde-derive-dev)")
	}
	cmd := exec.Command("/usr/bin/cargo", "test", "--offline", "--quiet")
	cmd.Env = append(os.Environ(), "RUSTC=/usr/bin/rustc", "RUSTDOC=/usr/bin/rustdoc")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cargo test: %v\n%s", err, out)
	}
}
