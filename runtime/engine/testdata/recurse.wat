;; Hostile: recurses without end, each frame holding a few locals.
(module
  (memory (export "memory") 1)
  (func $f (param i64) (result i64)
    (local i64 i64)
    (local.set 1 (i64.add (local.get 0) (i64.const 1)))
    (local.set 2 (call $f (local.get 1)))
    (i64.add (local.get 1) (local.get 2)))
  (func (export "_start")
    (drop (call $f (i64.const 0)))))
