;; Refused at Compile: exports _initialize but neither _start (a command)
;; nor tekton_run (a reactor).
(module
  (memory (export "memory") 1)
  (func (export "_initialize")))
