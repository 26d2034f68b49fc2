;; Refused at Compile: imports a host capability ABI v1 does not define.
(module
  (import "tekton" "http_get" (func $http_get (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (drop (call $http_get (i32.const 0) (i32.const 0)))))
