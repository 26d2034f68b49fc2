;; Asks for 2000 pages (125 MiB) of initial memory: above the default
;; 64 MiB limit.
(module
  (memory (export "memory") 2000)
  (func (export "_start")))
