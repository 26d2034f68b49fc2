#!/usr/bin/env bash
# deps.sh installs the Debian packages the build and tests need (the C
# plugin toolchain, wabt for hand-written test modules, Debian's rustc with
# its wasm32-wasi std for Rust test plugins, Node.js and npm for
# AssemblyScript plugins, whose npm packages hack/asbuild.sh installs from
# each plugin's package-lock.json), and only those
# that are missing, so running it again costs a fraction of a second.
set -euo pipefail

# command-or-file : package
needs=(
  "clang:clang"
  "wasm-ld:lld"
  "wat2wasm:wabt"
  "/usr/include/wasm32-wasi/stdio.h:wasi-libc"
  "/usr/lib/llvm-14/lib/clang/14.0.6/lib/wasi/libclang_rt.builtins-wasm32.a:libclang-rt-dev-wasm32"
  "/usr/bin/rustc:rustc"
  "/usr/lib/rustlib/wasm32-wasi/lib:libstd-rust-dev-wasm32"
  # Rust plugins (sdk/rust): Debian's cargo and the crates the SDK uses,
  # from Debian's crate registry (/usr/share/cargo/registry).
  "/usr/bin/cargo:cargo"
  "/usr/share/doc/librust-serde-dev:librust-serde-dev"
  "/usr/share/doc/librust-serde-derive-dev:librust-serde-derive-dev"
  "/usr/share/doc/librust-serde-json-dev:librust-serde-json-dev"
  # AssemblyScript plugins (sdk/assemblyscript): the compiler runs on
  # Node.js (20 or later; the machine's own when it has one).
  "node:nodejs"
  "npm:npm"
)

missing=()
for n in "${needs[@]}"; do
  what=${n%%:*} pkg=${n##*:}
  if [[ $what == /* ]]; then [[ -e $what ]] && continue
  else command -v "$what" >/dev/null 2>&1 && continue; fi
  missing+=("$pkg")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
  echo "deps.sh: missing Debian packages: ${missing[*]}; install them with: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
