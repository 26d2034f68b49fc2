// The package entry AssemblyScript resolves ("tekton-wasm-guest" is
// node_modules/tekton-wasm-guest/index.ts).
export * from "./assembly/index";
