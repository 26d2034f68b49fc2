;; Grows its table by 0x4000000 entries (512 MiB of host memory) and fills
;; it; traps if the grow fails. Without a response it is otherwise an
;; invalid one.
(module
  (table $t 1 funcref)
  (memory (export "memory") 1)
  (func $f)
  (elem declare func $f)
  (func (export "_start")
    (if (i32.eq (table.grow $t (ref.null func) (i32.const 0x4000000)) (i32.const -1))
      (then unreachable))
    (table.fill $t (i32.const 0) (ref.func $f) (table.size $t))))
