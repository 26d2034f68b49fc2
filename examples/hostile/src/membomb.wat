;; Hostile: grows its memory a page at a time until memory.grow fails,
;; then traps, as a C or Rust allocator's abort would.
(module
  (memory (export "memory") 1)
  (func (export "_start")
    (loop $grow
      (br_if $grow (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
    unreachable))
