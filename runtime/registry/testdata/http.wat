;; A plugin that imports the HTTP capability (hostabi/README.md): it loads
;; only under a manifest granting capabilities.http.
(module
  (import "tekton" "http_request" (func $request (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (drop (call $request (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))))
