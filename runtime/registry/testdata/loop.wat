;; Version 1 of the test plugin: loops until the host stops it, so a test
;; can hold an invocation in flight.
(module
  (memory (export "memory") 1)
  (func (export "_start")
    (loop $forever (br $forever))))
