;; Misbehaving: a Succeeded response whose one result is 17 KiB, above
;; hostabi.MaxResultValueBytes (16 KiB).
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "{\"status\":\"Succeeded\",\"results\":[{\"name\":\"big\",\"value\":\"")
  (data (i32.const 128) "\"}]}")
  (func (export "_start")
    (memory.fill (i32.const 1024) (i32.const 120) (i32.const 17408))
    ;; Three iovecs at 0: prefix, value, suffix.
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const 56))
    (i32.store (i32.const 8) (i32.const 1024))
    (i32.store (i32.const 12) (i32.const 17408))
    (i32.store (i32.const 16) (i32.const 128))
    (i32.store (i32.const 20) (i32.const 4))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 3) (i32.const 32)))))
