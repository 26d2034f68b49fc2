;; Declares a table of 0x7000000 entries: 900 MiB of host memory at every
;; instantiation, were it accepted.
(module
  (table 0x7000000 funcref)
  (memory (export "memory") 1)
  (func (export "_start")))
