;; Hostile reactor: tekton_run loops forever without calling the host.
(module
  (memory (export "memory") 1)
  (func (export "_initialize"))
  (func (export "tekton_run")
    (loop $forever (br $forever))))
