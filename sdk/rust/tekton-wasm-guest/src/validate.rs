//! The ABI's rules for a response (hostabi.Response.Validate in Go), so
//! that a plugin's mistake is a Failed response of its own that says what
//! is wrong instead of the host's PluginInvalidResponse.

use std::collections::HashSet;

use serde_json::Value;

use crate::Response;

// Limits of the ABI (hostabi/README.md, "Limits").

/// The most results a response may carry.
pub const MAX_RESULTS: usize = 64;
/// The most bytes of one result value.
pub const MAX_RESULT_VALUE_BYTES: usize = 16 << 10;
/// The most bytes of all result names and values together.
pub const MAX_RESULTS_BYTES: usize = 64 << 10;
/// The most bytes of `extraFields`, as compact JSON.
pub const MAX_EXTRA_FIELDS_BYTES: usize = 64 << 10;
/// The most bytes of a message; a longer one is cut, marked with "…".
pub const MAX_MESSAGE_BYTES: usize = 4 << 10;
/// The most bytes of a reason.
pub const MAX_REASON_BYTES: usize = 64;
/// How deeply arrays and objects may nest in the response; `extraFields`
/// is one level down.
pub const MAX_JSON_DEPTH: usize = 100;

const RESERVED_PREFIXES: [&str; 4] = ["CustomRun", "CustomTask", "Plugin", "Workspace"];
const RESERVED_REASONS: [&str; 3] = ["Started", "Retrying", "StatusUpdateRejected"];

/// Whether `reason` is reserved for the host (hostabi/README.md,
/// "Reserved reasons").
pub fn reserved(reason: &str) -> bool {
    RESERVED_PREFIXES.iter().any(|p| reason.starts_with(p)) || RESERVED_REASONS.contains(&reason)
}

/// Whether `s` may be a condition reason: one CamelCase word of at most
/// [`MAX_REASON_BYTES`] (`^[A-Z][A-Za-z0-9]*$`).
pub fn valid_reason(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty() && b.len() <= MAX_REASON_BYTES && b[0].is_ascii_uppercase() && b.iter().all(u8::is_ascii_alphanumeric)
}

/// Whether `s` may name a result, as Tekton requires:
/// `^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`.
pub fn valid_result_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || c == b'.')
}

pub(crate) struct Invalid {
    /// A size limit is broken (ResultsTooLarge), not a rule.
    pub limit: bool,
    pub message: String,
}

fn rule(message: String) -> Invalid {
    Invalid { limit: false, message }
}

fn limit(message: String) -> Invalid {
    Invalid { limit: true, message }
}

/// Checks `r` against the ABI and cuts an over-long message.
pub(crate) fn validate(r: &mut Response) -> Result<(), Invalid> {
    if !r.reason.is_empty() && !valid_reason(&r.reason) {
        return Err(rule(format!(
            "response reason {:?} is not a CamelCase word of at most {} bytes",
            head(&r.reason, 80),
            MAX_REASON_BYTES
        )));
    }
    if reserved(&r.reason) {
        return Err(rule(format!(
            "response reason {:?} is reserved for the host, which sets it itself; choose a reason of the plugin's own",
            r.reason
        )));
    }
    if let Some(d) = r.requeue_after {
        if d.0 < 0 {
            return Err(rule(format!("response requeueAfter {} is negative", d)));
        }
    }
    if r.message.len() > MAX_MESSAGE_BYTES {
        const MARK: &str = "…";
        let mut cut = MAX_MESSAGE_BYTES - MARK.len();
        while !r.message.is_char_boundary(cut) {
            cut -= 1;
        }
        r.message.truncate(cut);
        r.message.push_str(MARK);
    }
    if let Some(v) = &r.extra_fields {
        if depth(v) > MAX_JSON_DEPTH - 1 {
            return Err(rule(format!("response extraFields: arrays and objects nest deeper than {} levels", MAX_JSON_DEPTH)));
        }
        let n = serde_json::to_vec(v).map_or(0, |b| b.len());
        if n > MAX_EXTRA_FIELDS_BYTES {
            return Err(limit(format!("extraFields are {} bytes; the limit is {}", n, MAX_EXTRA_FIELDS_BYTES)));
        }
    }
    if r.results.len() > MAX_RESULTS {
        return Err(limit(format!("the plugin returned {} results; the limit is {}", r.results.len(), MAX_RESULTS)));
    }
    let mut total = 0;
    let mut seen = HashSet::new();
    for res in &r.results {
        if !valid_result_name(&res.name) {
            return Err(limit(format!(
                "result name {:?} is invalid: use letters, digits, '-', '_' and '.', starting and ending with a letter or digit",
                head(&res.name, 80)
            )));
        }
        if !seen.insert(res.name.as_str()) {
            return Err(limit(format!("result {:?} is returned twice", res.name)));
        }
        if res.value.len() > MAX_RESULT_VALUE_BYTES {
            return Err(limit(format!("result {:?} is {} bytes; the limit is {}", res.name, res.value.len(), MAX_RESULT_VALUE_BYTES)));
        }
        total += res.name.len() + res.value.len();
    }
    if total > MAX_RESULTS_BYTES {
        return Err(limit(format!("results add up to {} bytes; the limit is {}", total, MAX_RESULTS_BYTES)));
    }
    Ok(())
}

/// How deeply arrays and objects nest in `v` (0 for a scalar), without
/// recursion: a handler may build any Value.
fn depth(v: &Value) -> usize {
    let mut max = 0;
    let mut stack = vec![(v, 0)];
    while let Some((v, d)) = stack.pop() {
        match v {
            Value::Array(a) => stack.extend(a.iter().map(|e| (e, d + 1))),
            Value::Object(o) => stack.extend(o.values().map(|e| (e, d + 1))),
            _ => continue,
        }
        max = max.max(d + 1);
    }
    max
}

/// The first n bytes of s, cut at a character boundary, marked when cut.
fn head(s: &str, n: usize) -> String {
    if s.len() <= n {
        return s.to_string();
    }
    let mut cut = n;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &s[..cut])
}
