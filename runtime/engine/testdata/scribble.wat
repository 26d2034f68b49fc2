;; Proves that an instance's memory starts zeroed even when the host
;; recycles memory: it grows its memory to 4 pages, checks that every byte
;; outside its data segment is zero, answers "dirty" 0 (clean) or 1, then
;; writes 0xff over all 4 pages.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; 63 bytes at 64..127; the value of "dirty" at 122.
  (data (i32.const 64) "{\"status\":\"Succeeded\",\"results\":[{\"name\":\"dirty\",\"value\":\"0\"}]}")
  (func $dirty (param $from i32) (param $to i32) (result i32)
    (block $done
      (loop $scan
        (br_if $done (i32.ge_u (local.get $from) (local.get $to)))
        (if (i32.load8_u (local.get $from)) (then (return (i32.const 1))))
        (local.set $from (i32.add (local.get $from) (i32.const 1)))
        (br $scan)))
    (i32.const 0))
  (func (export "_start")
    (local $i i32)
    (drop (memory.grow (i32.const 3)))
    (i32.store8 (i32.const 122) (i32.add (i32.const 48)
      (i32.or (call $dirty (i32.const 0) (i32.const 64))
              (call $dirty (i32.const 127) (i32.const 262144)))))
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const 63))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (loop $fill
      (i32.store8 (local.get $i) (i32.const 0xff))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $fill (i32.lt_u (local.get $i) (i32.const 262144))))))
