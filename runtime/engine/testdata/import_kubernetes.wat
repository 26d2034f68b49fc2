;; Needs the kubernetes grant: gets ConfigMap c and exits with the errno
;; kubernetes_request returned, its last_error on stderr.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "tekton" "kubernetes_request" (func $request (param i32 i32 i32 i32 i32) (result i32)))
  (import "tekton" "last_error" (func $last_error (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 1024) "{\"verb\":\"get\",\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"name\":\"c\"}")
  (func (export "_start")
    (local $errno i32)
    (local.set $errno (call $request (i32.const 1024) (i32.const 62) (i32.const 0) (i32.const 0) (i32.const 64)))
    (i32.store (i32.const 96) (i32.const 2048))
    (i32.store (i32.const 100) (call $last_error (i32.const 2048) (i32.const 1024)))
    (drop (call $fd_write (i32.const 2) (i32.const 96) (i32.const 1) (i32.const 104)))
    (call $proc_exit (local.get $errno))))
