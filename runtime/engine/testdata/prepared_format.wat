;; The fixture of TestPreparedFormatIsCurrent: a reactor with what
;; prepareModule rewrites (defined functions with parameters and locals,
;; a table and its elements, globals, exports, data segments to coalesce,
;; a name section). prepared_format.wasm is this module, built once with
;; `wat2wasm --debug-names`, so that the test does not depend on wabt's
;; version.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (type $unary (func (param i32) (result i32)))
  (memory (export "memory") 1)
  (table 2 funcref)
  (elem (i32.const 0) $double $inc)
  (global $total (mut i32) (i32.const 0))
  (data (i32.const 64) "{\"status\":")
  (data (i32.const 74) "\"Succeeded\"}")
  (data (i32.const 200) "x")
  (func $double (param $x i32) (result i32)
    (i32.mul (local.get $x) (i32.const 2)))
  (func $inc (param $x i32) (result i32)
    (local $one i32)
    (local.set $one (i32.const 1))
    (i32.add (local.get $x) (local.get $one)))
  (func (export "_initialize")
    (global.set $total (call_indirect (type $unary) (i32.const 20) (i32.const 0))))
  (func (export "tekton_run")
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const 22))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
