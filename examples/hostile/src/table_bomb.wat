;; Hostile: grows its table by 0x7FFFFFF0 entries, 16 GiB of host memory
;; in wazero, which the host bounds at MaxTableEntries: table.grow returns
;; -1, and the module traps (unreachable), as a runtime would abort.
(module
  (table $t 1 funcref)
  (memory (export "memory") 1)
  (func (export "_start")
    (if (i32.eq (table.grow $t (ref.null func) (i32.const 0x7FFFFFF0)) (i32.const -1))
      (then unreachable))))
