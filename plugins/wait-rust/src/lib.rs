//! The Wait custom task (kind `Wait`) in Rust, the twin of the Go plugin
//! plugins/wait: a run succeeds once the duration given in its `duration`
//! param has elapsed since the attempt started. It answers every request
//! exactly as plugins/wait does, reason for reason and message for
//! message; the tests run the same cases through both modules.
//!
//! It holds no sandbox while waiting: each call compares the attempt's
//! start time with the clock and either succeeds or answers `Running` with
//! `requeueAfter` set to the time left.
//!
//! Build (a WASI reactor): `cargo build --release --target wasm32-wasi`
//! in this directory, with Debian's cargo (README.md).

use tekton_wasm_guest::{fail, Duration, Error, Request, Response, Time, REASON_INVALID_REQUEST};

// Reasons and messages, spelled as plugins/wait spells them.
const REASON_MISSING_DURATION: &str = "MissingDuration";
const REASON_INVALID_DURATION: &str = "InvalidDuration";
const REASON_UNEXPECTED_NAME: &str = "UnexpectedName";
const REASON_UNEXPECTED_SPEC: &str = "UnexpectedSpec";
const REASON_RUNNING: &str = "Running";
const REASON_DURATION_ELAPSED: &str = "DurationElapsed";

const MESSAGE_DURATION_ELAPSED: &str = "The wait duration has elapsed";

/// The granularity of the time left in the Running message.
const MESSAGE_ROUNDING: Duration = Duration(100 * 1_000_000);

tekton_wasm_guest::export!(handle);

/// Serves one call at the time of the call.
pub fn handle(req: &Request) -> Result<Response, Error> {
    wait(req, Time::now())
}

/// Decides one call at time `now`.
pub fn wait(req: &Request, now: Time) -> Result<Response, Error> {
    if !req.reference.is_empty() {
        return Err(fail!(
            REASON_UNEXPECTED_NAME,
            "Found unexpected ref name: {}; use customRef with apiVersion and kind only",
            req.reference
        ));
    }
    if req.spec.is_some() {
        return Err(Error::new(REASON_UNEXPECTED_SPEC, "Wait takes no spec; pass the duration as the duration param"));
    }
    let duration = duration_param(req)?;
    if req.start_time.is_zero() {
        return Err(Error::new(REASON_INVALID_REQUEST, "the request has no startTime, so the elapsed time is unknown"));
    }
    let left = req.start_time.add(duration).sub(now);
    if left.nanos() <= 0 {
        return Ok(Response::succeeded().reason(REASON_DURATION_ELAPSED).message(MESSAGE_DURATION_ELAPSED));
    }
    let shown = left.round(MESSAGE_ROUNDING).max(MESSAGE_ROUNDING);
    Ok(Response::running(left).reason(REASON_RUNNING).message(format!("Waiting {} more of {}", shown, duration)))
}

/// Reads and checks the duration param, the only one.
fn duration_param(req: &Request) -> Result<Duration, Error> {
    let p = req.params();
    let s = p
        .optional_string("duration")
        .map_err(|e| fail!(REASON_INVALID_DURATION, "The duration param was invalid: {}", e))?
        .unwrap_or_default();
    if s.is_empty() {
        return Err(Error::new(REASON_MISSING_DURATION, "The duration param was not passed"));
    }
    p.only(&["duration"])?;
    let d = Duration::parse(s).map_err(|e| fail!(REASON_INVALID_DURATION, "The duration param was invalid: {}", e))?;
    if d.nanos() < 0 {
        return Err(fail!(REASON_INVALID_DURATION, "The duration param was invalid: {} is negative", s));
    }
    Ok(d)
}
