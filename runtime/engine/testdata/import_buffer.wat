;; Loads without any grant: buffer_read belongs to no capability.
(module
  (import "tekton" "buffer_read" (func $read (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (drop (call $read (i32.const 1) (i32.const 0) (i32.const 0)))))
