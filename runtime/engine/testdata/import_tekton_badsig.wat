;; Refused at Compile: imports tekton.http_request with another signature.
(module
  (import "tekton" "http_request" (func $req (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (drop (call $req (i32.const 0) (i32.const 0)))))
