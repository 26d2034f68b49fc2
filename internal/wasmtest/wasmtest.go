// Package wasmtest builds the WebAssembly modules tests run: first-party
// plugins exactly as the Makefile builds them, Go test plugins, and
// hand-written WAT modules. Each module is built once per test process.
// A missing toolchain fails the test with the command that installs it.
package wasmtest

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// repoDir is the repository's top directory, found from this file's.
var repoDir = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}()

// cSDKDir is the C SDK's directory, sdk/c.
var cSDKDir = filepath.Join(repoDir, "sdk", "c")

var (
	mu    sync.Mutex
	built = map[string][]byte{} // by kind and absolute source path
)

// Plugin builds the first-party plugin in pluginDir as `make plugins`
// does, by its language: C (*.c files), Rust (a Cargo.toml),
// AssemblyScript (an asconfig.json) or Go.
func Plugin(tb testing.TB, pluginDir string) []byte {
	tb.Helper()
	if sources, _ := filepath.Glob(filepath.Join(pluginDir, "*.c")); len(sources) > 0 {
		return CPlugin(tb, pluginDir)
	}
	if _, err := os.Stat(filepath.Join(pluginDir, "Cargo.toml")); err == nil {
		return RustPlugin(tb, pluginDir)
	}
	if _, err := os.Stat(filepath.Join(pluginDir, "asconfig.json")); err == nil {
		return AssemblyScriptPlugin(tb, pluginDir)
	}
	return GoPlugin(tb, pluginDir)
}

// GoPlugin builds the Go package in directory pkgDir as `make plugins`
// does: a WASI reactor (GOOS=wasip1 GOARCH=wasm go build
// -buildmode=c-shared), which the engine can prepare ahead of demand.
func GoPlugin(tb testing.TB, pkgDir string) []byte {
	tb.Helper()
	return goBuild(tb, pkgDir, "-buildmode=c-shared")
}

// GoCommand builds the Go package in directory pkgDir as a WASI command
// (GOOS=wasip1 GOARCH=wasm go build), whose main runs at _start.
func GoCommand(tb testing.TB, pkgDir string) []byte {
	tb.Helper()
	return goBuild(tb, pkgDir)
}

func goBuild(tb testing.TB, pkgDir string, flags ...string) []byte {
	tb.Helper()
	return once(tb, "go"+strings.Join(flags, ""), pkgDir, func(out string) *exec.Cmd {
		args := append(append([]string{"build", "-trimpath"}, flags...), "-o", out, ".")
		cmd := exec.Command("go", args...)
		cmd.Dir = pkgDir
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		return cmd
	})
}

// CPlugin builds dir/*.c with the C SDK (sdk/c) and the Makefile's
// command: clang --target=wasm32-wasi --sysroot=/usr -O2 -Wall -Wextra
// -Werror -I sdk/c, plus the one line of flags in dir/CFLAGS if there is
// one.
func CPlugin(tb testing.TB, pluginDir string) []byte {
	tb.Helper()
	need(tb, "clang", "clang")
	return once(tb, "c", pluginDir, func(out string) *exec.Cmd {
		sources, err := filepath.Glob(filepath.Join(pluginDir, "*.c"))
		if err != nil || len(sources) == 0 {
			tb.Fatalf("no C sources in %s (%v)", pluginDir, err)
		}
		sdk, err := filepath.Glob(filepath.Join(cSDKDir, "*.c"))
		if err != nil || len(sdk) == 0 {
			tb.Fatalf("no C SDK sources in %s (%v)", cSDKDir, err)
		}
		sources = append(sources, sdk...)
		args := []string{"--target=wasm32-wasi", "--sysroot=/usr", "-O2", "-Wall", "-Wextra", "-Werror", "-I" + cSDKDir}
		switch extra, err := os.ReadFile(filepath.Join(pluginDir, "CFLAGS")); {
		case err == nil:
			args = append(args, strings.Fields(string(extra))...)
		case !errors.Is(err, os.ErrNotExist):
			tb.Fatal(err)
		}
		return exec.Command("clang", append(append(args, "-o", out), sources...)...)
	})
}

// Debian's Rust toolchain, whose wasm32-wasi std comes from the
// libstd-rust-dev-wasm32 package and whose crates come from Debian's
// crate registry (the plugin's .cargo/config.toml); a rustup toolchain
// earlier on PATH lacks both.
const (
	debianCargo = "/usr/bin/cargo"
	debianRustc = "/usr/bin/rustc"
)

// RustPlugin builds the Cargo package in pluginDir as `make plugins`
// does: its library, a WASI reactor (crate-type cdylib), with Debian's
// cargo, offline, in the package's own target directory (so the Makefile
// and the tests share the build). RustCommand builds its binary, a WASI
// command, the same way.
func RustPlugin(tb testing.TB, pluginDir string) []byte {
	tb.Helper()
	return cargoBuild(tb, pluginDir, "--lib")
}

// RustCommand builds the binary of the Cargo package in pluginDir, a WASI
// command; see RustPlugin.
func RustCommand(tb testing.TB, pluginDir string) []byte {
	tb.Helper()
	return cargoBuild(tb, pluginDir, "--bins")
}

func cargoBuild(tb testing.TB, pluginDir, target string) []byte {
	tb.Helper()
	if _, err := os.Stat(debianCargo); err != nil {
		tb.Fatalf("Debian's cargo is not installed; run hack/deps.sh (Debian packages cargo, librust-serde-json-dev, librust-serde-derive-dev)")
	}
	abs, err := filepath.Abs(pluginDir)
	if err != nil {
		tb.Fatal(err)
	}
	return once(tb, "cargo"+target, abs, func(out string) *exec.Cmd {
		// cargo has no stable flag naming its output: copy it.
		cmd := exec.Command("sh", "-c", `"$0" build --quiet --offline --release --target wasm32-wasi "$1" && cp "target/wasm32-wasi/release/$2" "$3"`,
			debianCargo, target, RustModuleName(abs, target == "--lib"), out)
		cmd.Dir = abs
		cmd.Env = append(os.Environ(), "RUSTC="+debianRustc)
		return cmd
	})
}

// RustModuleName is the file cargo writes for the package in pluginDir
// (whose package name is the directory's, as plugin.yaml requires): the
// library's name has '_' for '-', the binary's does not.
func RustModuleName(pluginDir string, lib bool) string {
	name := filepath.Base(pluginDir)
	if lib {
		name = strings.ReplaceAll(name, "-", "_")
	}
	return name + ".wasm"
}

// AssemblyScriptPlugin builds the AssemblyScript plugin (an npm package)
// in pluginDir as `make plugins` does, with hack/asbuild.sh: npm ci from
// the lock file, then its build script, a WASI reactor.
func AssemblyScriptPlugin(tb testing.TB, pluginDir string) []byte {
	tb.Helper()
	return asBuild(tb, pluginDir, "build")
}

// AssemblyScriptCommand builds the AssemblyScript plugin in pluginDir as
// a WASI command; see AssemblyScriptPlugin.
func AssemblyScriptCommand(tb testing.TB, pluginDir string) []byte {
	tb.Helper()
	return asBuild(tb, pluginDir, "build:command")
}

func asBuild(tb testing.TB, pluginDir, script string) []byte {
	tb.Helper()
	need(tb, "npm", "npm")
	return once(tb, "asc"+script, pluginDir, func(out string) *exec.Cmd {
		return exec.Command(filepath.Join(repoDir, "hack", "asbuild.sh"), pluginDir, out, script)
	})
}

// WAT compiles a WebAssembly text file with wabt's wat2wasm.
func WAT(tb testing.TB, path string) []byte {
	tb.Helper()
	need(tb, "wat2wasm", "wabt")
	return once(tb, "wat", path, func(out string) *exec.Cmd {
		return exec.Command("wat2wasm", path, "-o", out)
	})
}

func need(tb testing.TB, tool, pkg string) {
	tb.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		tb.Fatalf("%s is not installed; run hack/deps.sh (Debian package %s)", tool, pkg)
	}
}

func once(tb testing.TB, kind, src string, command func(out string) *exec.Cmd) []byte {
	tb.Helper()
	abs, err := filepath.Abs(src)
	if err != nil {
		tb.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	key := kind + ":" + abs
	if b, ok := built[key]; ok {
		return b
	}
	out := filepath.Join(tb.TempDir(), "module.wasm")
	cmd := command(out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	built[key] = b
	return b
}
