;; Refused at Compile: tekton_run takes a parameter.
(module
  (memory (export "memory") 1)
  (func (export "_initialize"))
  (func (export "tekton_run") (param i32)))
