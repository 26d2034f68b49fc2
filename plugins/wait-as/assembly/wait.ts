import {
  Failure,
  formatDuration,
  MILLISECOND,
  params,
  parseDuration,
  REASON_INVALID_REQUEST,
  Request,
  Response,
  roundDuration,
  Time,
} from "tekton-wasm-guest";

// Reasons and messages, spelled as plugins/wait spells them.
const REASON_MISSING_DURATION = "MissingDuration";
const REASON_INVALID_DURATION = "InvalidDuration";
const REASON_UNEXPECTED_NAME = "UnexpectedName";
const REASON_UNEXPECTED_SPEC = "UnexpectedSpec";
const REASON_RUNNING = "Running";
const REASON_DURATION_ELAPSED = "DurationElapsed";

const MESSAGE_DURATION_ELAPSED = "The wait duration has elapsed";

/** The granularity of the time left in the Running message. */
const MESSAGE_ROUNDING: i64 = 100 * MILLISECOND;

/** Serves one call at the time of the call. */
export function handle(req: Request): Response {
  return wait(req, Time.now());
}

/** Decides one call at time now. */
export function wait(req: Request, now: Time): Response {
  if (req.ref.length > 0) {
    return Response.failed(REASON_UNEXPECTED_NAME, "Found unexpected ref name: " + req.ref + "; use customRef with apiVersion and kind only");
  }
  if (req.spec != null) {
    return Response.failed(REASON_UNEXPECTED_SPEC, "Wait takes no spec; pass the duration as the duration param");
  }
  const p = params(req);
  const s = p.optionalString("duration", "");
  if (!s.ok) return invalid(s.failure!.message);
  if (s.value.length == 0) return Response.failed(REASON_MISSING_DURATION, "The duration param was not passed");
  const unexpected = p.only(["duration"]);
  if (unexpected != null) return unexpected.response();
  const d = parseDuration(s.value);
  if (!d.ok) return invalid(d.error);
  if (d.nanos < 0) return invalid(s.value + " is negative");
  if (req.startTime.isZero()) {
    return Response.failed(REASON_INVALID_REQUEST, "the request has no startTime, so the elapsed time is unknown");
  }
  const left = req.startTime.add(d.nanos).sub(now);
  if (left <= 0) {
    return Response.succeeded().withReason(REASON_DURATION_ELAPSED).withMessage(MESSAGE_DURATION_ELAPSED);
  }
  let shown = roundDuration(left, MESSAGE_ROUNDING);
  if (shown < MESSAGE_ROUNDING) shown = MESSAGE_ROUNDING;
  return Response.running(left)
    .withReason(REASON_RUNNING)
    .withMessage("Waiting " + formatDuration(shown) + " more of " + formatDuration(d.nanos));
}

function invalid(why: string): Response {
  return new Failure(REASON_INVALID_DURATION, "The duration param was invalid: " + why).response();
}
