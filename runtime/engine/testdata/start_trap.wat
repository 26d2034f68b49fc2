;; Fails to load: its wasm start function (run at instantiation, before
;; _start) traps.
(module
  (memory (export "memory") 1)
  (func $init unreachable)
  (start $init)
  (func (export "_start")))
