// tekton-wasm-guest turns an AssemblyScript function into a tekton-wasm
// plugin (hostabi/README.md, ABI tekton-wasm/v1): it reads the Request
// from stdin, checks the ABI version, turns failures and aborts into
// Failed answers, validates the Response against the ABI's limits and
// writes it, once, to stdout. It is the AssemblyScript rendering of the
// Go SDK (hostabi/guest), reason for reason. See README.md.

export { Kind, parse, Parsed, Value, Writer } from "./json";
export {
  ERRNO_CANCELED,
  ERRNO_DENIED,
  ERRNO_FAULT,
  ERRNO_INVAL,
  ERRNO_IO,
  ERRNO_LIMIT,
  ERRNO_NOT_CAPABLE,
  ERRNO_RANGE,
  ERRNO_TOO_LARGE,
  HostResult,
} from "./host";
export { HttpRequest, httpRequest, HttpResponse, HttpResult } from "./http";
export { KubernetesFailure, KubernetesRequest, kubernetesRequest, KubernetesResponse, KubernetesResult } from "./kubernetes";
export { formatDuration, HOUR, MICROSECOND, MILLISECOND, MINUTE, NANOSECOND, ParsedDuration, parseDuration, roundDuration, SECOND } from "./duration";
export { Time } from "./time";
export { Metadata, Param, ParamType, ParamValue, Request, RunIdentity, Workspace } from "./request";
export { Got, goQuote, params, ParamSet, REASON_INVALID_PARAM, REASON_MISSING_PARAM, REASON_UNEXPECTED_PARAMS } from "./params";
export {
  Failure,
  MAX_EXTRA_FIELDS_BYTES,
  MAX_JSON_DEPTH,
  MAX_MESSAGE_BYTES,
  MAX_REASON_BYTES,
  MAX_RESULT_VALUE_BYTES,
  MAX_RESULTS,
  MAX_RESULTS_BYTES,
  reserved,
  Response,
  Result,
  STATUS_FAILED,
  STATUS_RUNNING,
  STATUS_SUCCEEDED,
  validReason,
  validResultName,
  VERSION,
} from "./response";
export {
  handle,
  Handler,
  log,
  REASON_INVALID_REQUEST,
  REASON_INVALID_RESPONSE,
  REASON_PANICKED,
  REASON_RESULTS_TOO_LARGE,
  REASON_UNSUPPORTED_ABI_VERSION,
  run,
} from "./run";
