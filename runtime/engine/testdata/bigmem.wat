;; Refused at Compile under the default 64 MiB limit: its initial memory is
;; 2000 pages (125 MiB).
(module
  (memory (export "memory") 2000)
  (func (export "_start")))
