;; A reactor that proves instance isolation, like counter.wat: _initialize
;; logs "initialized" and counts its calls in a byte of memory; every
;; tekton_run increments a global and another byte of memory, and reports
;; all three. A fresh instance, initialized once, reports 1, 1 and 1.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $calls (mut i32) (i32.const 0))
  (data (i32.const 64) "{\"status\":\"Succeeded\",\"results\":[{\"name\":\"global\",\"value\":\"0\"},{\"name\":\"memory\",\"value\":\"0\"},{\"name\":\"init\",\"value\":\"0\"}]}")
  (data (i32.const 256) "initialized\n")
  (func (export "_initialize")
    ;; value of "init" at 64+117
    (i32.store8 (i32.const 181) (i32.add (i32.load8_u (i32.const 181)) (i32.const 1)))
    (i32.store (i32.const 0) (i32.const 256))
    (i32.store (i32.const 4) (i32.const 12))
    (drop (call $fd_write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "tekton_run")
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    ;; value of "global" at 64+59: '0' + calls
    (i32.store8 (i32.const 123) (i32.add (i32.const 48) (global.get $calls)))
    ;; value of "memory" at 64+89: incremented in place
    (i32.store8 (i32.const 153) (i32.add (i32.load8_u (i32.const 153)) (i32.const 1)))
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const 122))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
