//! Unit tests of the call without the process (`cargo test` on the build
//! machine); the engine runs the built modules in the Go tests of
//! plugins/wait-rust.

use serde_json::json;

use super::*;

fn answer(input: &str, h: impl FnOnce(&Request) -> std::result::Result<Response, Error>) -> serde_json::Value {
    let mut out = Vec::new();
    write_response(&mut out, handle(input.as_bytes(), h)).unwrap();
    assert_eq!(out.last(), Some(&b'\n'));
    serde_json::from_slice(&out).unwrap()
}

const REQ: &str = r#"{"abiVersion":"tekton-wasm/v1","run":{"name":"r"},"unknown":1,
  "params":[{"name":"s","value":"v"},{"name":"a","value":["x"]},{"name":"o","value":{"k":"v"}},{"name":"s","value":"second"}],
  "startTime":"2026-03-04T05:06:07.5+01:00","attempt":2}"#;

#[test]
fn succeeded_with_results() {
    let got = answer(REQ, |req| {
        assert_eq!(req.run.name, "r");
        assert_eq!(req.attempt, 2);
        assert_eq!(req.start_time, Time::parse_rfc3339("2026-03-04T04:06:07.5Z").unwrap());
        assert!(req.deadline.is_none());
        let p = req.params();
        assert_eq!(p.string("s")?, "v");
        assert_eq!(p.array("a")?, ["x".to_string()]);
        assert_eq!(p.object("o")?.get("k").map(String::as_str), Some("v"));
        assert_eq!(p.optional_string("absent")?, None);
        Ok(Response::succeeded().reason("Done").message("ok").result("a", "b").extra_fields(json!({"n": 1})))
    });
    assert_eq!(
        got,
        json!({"abiVersion": "tekton-wasm/v1", "status": "Succeeded", "reason": "Done", "message": "ok",
               "results": [{"name": "a", "value": "b"}], "extraFields": {"n": 1}})
    );
}

#[test]
fn running_writes_a_go_duration() {
    let got = answer(REQ, |_| Ok(Response::running(std::time::Duration::from_millis(90_500)).reason("Waiting")));
    assert_eq!(got, json!({"abiVersion": "tekton-wasm/v1", "status": "Running", "reason": "Waiting", "requeueAfter": "1m30.5s"}));
}

fn failed(reason: &str, message: &str) -> serde_json::Value {
    json!({"abiVersion": "tekton-wasm/v1", "status": "Failed", "reason": reason, "message": message})
}

#[test]
fn params_errors() {
    let cases: Vec<(fn(&Request) -> std::result::Result<Response, Error>, serde_json::Value)> = vec![
        (|r| r.params().string("missing").map(|_| Response::succeeded()), failed("MissingParam", r#"param "missing" is required"#)),
        (|r| r.params().string("a").map(|_| Response::succeeded()), failed("InvalidParam", r#"param "a" must be a string, not an array"#)),
        (|r| r.params().array("o").map(|_| Response::succeeded()), failed("InvalidParam", r#"param "o" must be an array, not an object"#)),
        (|r| r.params().object("s").map(|_| Response::succeeded()), failed("InvalidParam", r#"param "s" must be an object, not a string"#)),
        (
            |r| r.params().only(&["s", "x"]).map(|_| Response::succeeded()),
            failed("UnexpectedParams", "unexpected params: [a o]; this plugin takes [s x]"),
        ),
    ];
    for (h, want) in cases {
        assert_eq!(answer(REQ, h), want);
    }
}

#[test]
fn errors_become_failed() {
    assert_eq!(answer(REQ, |_| Err(fail!("Nope", "no {}", 1))), failed("Nope", "no 1"));
    let parse = |_: &Request| -> std::result::Result<Response, Error> {
        "x".parse::<i32>()?;
        Ok(Response::succeeded())
    };
    assert_eq!(answer(REQ, parse), failed("Failed", "invalid digit found in string"));
}

#[test]
fn bad_requests() {
    let ok = |_: &Request| -> std::result::Result<Response, Error> { panic!("the handler ran") };
    assert_eq!(answer(r#"{"abiVersion":"tekton-wasm/v2"}"#, ok)["reason"], "UnsupportedABIVersion");
    assert_eq!(
        answer(r#"{"abiVersion":"tekton-wasm/v2"}"#, ok)["message"],
        r#"the host speaks ABI "tekton-wasm/v2" but this plugin was built for "tekton-wasm/v1"; rebuild it against the host's tekton-wasm-guest"#
    );
    assert_eq!(answer("{not json", ok)["reason"], "InvalidRequest");
    let no_params = |r: &Request| -> std::result::Result<Response, Error> {
        assert!(r.params.is_empty());
        Ok(Response::succeeded())
    };
    assert_eq!(answer(r#"{"abiVersion":"tekton-wasm/v1","params":null}"#, no_params)["status"], "Succeeded");
    assert_eq!(answer("", ok)["reason"], "InvalidRequest");
    assert_eq!(answer(r#"{"abiVersion":"tekton-wasm/v1","startTime":"yesterday"}"#, ok)["reason"], "InvalidRequest");
    assert_eq!(answer(r#"{"abiVersion":"tekton-wasm/v1","params":[{"name":"a","value":1}]}"#, ok)["reason"], "InvalidRequest");
}

#[test]
fn invalid_responses() {
    let cases: Vec<(Response, &str, &str)> = vec![
        (Response::succeeded().reason("not camel"), "InvalidResponse", r#"response reason "not camel" is not a CamelCase word of at most 64 bytes"#),
        (
            Response::failed("PluginExited", "x"),
            "InvalidResponse",
            r#"response reason "PluginExited" is reserved for the host, which sets it itself; choose a reason of the plugin's own"#,
        ),
        (Response::failed("Started", "x"), "InvalidResponse", r#"response reason "Started" is reserved for the host, which sets it itself; choose a reason of the plugin's own"#),
        (Response::running(Duration(-1)), "InvalidResponse", "response requeueAfter -1ns is negative"),
        (Response::succeeded().result("-a", "x"), "ResultsTooLarge", r#"result name "-a" is invalid: use letters, digits, '-', '_' and '.', starting and ending with a letter or digit"#),
        (Response::succeeded().result("a", "x").result("a", "y"), "ResultsTooLarge", r#"result "a" is returned twice"#),
        (Response::succeeded().result("a", "x".repeat(16385)), "ResultsTooLarge", r#"result "a" is 16385 bytes; the limit is 16384"#),
        (
            (0..5).fold(Response::succeeded(), |r, i| r.result(format!("r{}", i), "x".repeat(16000))),
            "ResultsTooLarge",
            "results add up to 80010 bytes; the limit is 65536",
        ),
        ((0..65).fold(Response::succeeded(), |r, i| r.result(format!("r{}", i), "")), "ResultsTooLarge", "the plugin returned 65 results; the limit is 64"),
        (Response::succeeded().extra_fields(json!("x".repeat(65535))), "ResultsTooLarge", "extraFields are 65537 bytes; the limit is 65536"),
    ];
    for (resp, reason, why) in cases {
        let got = answer(REQ, move |_| Ok(resp));
        assert_eq!(got, failed(reason, &format!("the plugin returned an invalid response: {}", why)));
    }
    let mut deep = json!(1);
    for _ in 0..99 {
        deep = json!([deep]);
    }
    assert_eq!(answer(REQ, |_| Ok(Response::running(Duration::SECOND).extra_fields(deep.clone())))["status"], "Running");
    let got = answer(REQ, |_| Ok(Response::running(Duration::SECOND).extra_fields(json!([deep]))));
    assert_eq!(got["message"], "the plugin returned an invalid response: response extraFields: arrays and objects nest deeper than 100 levels");
}

#[test]
fn long_message_is_cut() {
    let got = answer(REQ, |_| Ok(Response::failed("Long", "é".repeat(3000))));
    let msg = got["message"].as_str().unwrap();
    assert!(msg.len() <= MAX_MESSAGE_BYTES && msg.ends_with("é…"), "{}", msg.len());
}

#[test]
fn durations_as_go_writes_them() {
    let cases = [
        (0, "0s"),
        (1, "1ns"),
        (1_100, "1.1µs"),
        (2_200_000, "2.2ms"),
        (3_300_000_000, "3.3s"),
        (4 * 60 * 1_000_000_000 + 5_000_000_000, "4m5s"),
        (3600 * 1_000_000_000, "1h0m0s"),
        (-1_500_000_000, "-1.5s"),
        (i64::MAX, "2562047h47m16.854775807s"),
        (i64::MIN, "-2562047h47m16.854775808s"),
    ];
    for (n, want) in cases {
        assert_eq!(Duration(n).to_string(), want);
    }
    assert_eq!(Duration(4_250_000_000).round(Duration(100_000_000)), Duration(4_300_000_000));
    assert_eq!(Duration(4_249_999_999).round(Duration(100_000_000)), Duration(4_200_000_000));
}

#[test]
fn durations_as_go_reads_them() {
    let ok = [
        ("0", 0),
        ("5s", 5_000_000_000),
        ("+5s", 5_000_000_000),
        ("-1.5h", -5_400_000_000_000),
        ("1h30m", 5_400_000_000_000),
        (".5s", 500_000_000),
        ("1.s", 1_000_000_000),
        ("1us", 1_000),
        ("1µs", 1_000),
        ("1μs", 1_000),
        ("9223372036854775807ns", i64::MAX),
        ("-9223372036854775808ns", i64::MIN),
        ("0.100000000000000000000h", 360_000_000_000),
    ];
    for (s, n) in ok {
        assert_eq!(Duration::parse(s), Ok(Duration(n)), "{}", s);
    }
    let bad = [
        ("", r#"time: invalid duration """#),
        ("soon", r#"time: invalid duration "soon""#),
        ("5", r#"time: missing unit in duration "5""#),
        ("5x", r#"time: unknown unit "x" in duration "5x""#),
        ("1é", r#"time: unknown unit "\xc3\xa9" in duration "1\xc3\xa9""#),
        (".s", r#"time: invalid duration ".s""#),
        ("-", r#"time: invalid duration "-""#),
        ("9223372036854775808ns", r#"time: invalid duration "9223372036854775808ns""#),
        ("3000000h", r#"time: invalid duration "3000000h""#),
    ];
    for (s, want) in bad {
        assert_eq!(Duration::parse(s).unwrap_err().to_string(), want, "{}", s);
    }
}

#[test]
fn times() {
    let t = Time::parse_rfc3339("1970-01-01T00:00:01.000000001Z").unwrap();
    assert_eq!(t.unix_nanos(), 1_000_000_001);
    assert!(Time::parse_rfc3339("0001-01-01T00:00:00Z").unwrap().is_zero());
    assert_eq!(Time::parse_rfc3339("2000-02-29T00:00:00-00:30").unwrap().unix_nanos(), (951_782_400 + 1800) * 1_000_000_000);
    for bad in ["2001-02-29T00:00:00Z", "2000-01-01 00:00:00Z", "2000-01-01T00:00:00", "2000-01-01T24:00:00Z", "2000-01-01T00:00:00.Z"] {
        assert!(Time::parse_rfc3339(bad).is_none(), "{}", bad);
    }
    assert_eq!(t.add(Duration::SECOND).sub(t), Duration::SECOND);
}

#[test]
fn kubernetes_request_document() {
    // The document guest.DoKubernetes sends: empty fields left out, the
    // body apart.
    let req = KubernetesRequest {
        verb: "list".into(),
        api_version: "tekton.dev/v1".into(),
        kind: "PipelineRun".into(),
        label_selector: "app=x".into(),
        limit: 2,
        continue_: "c1".into(),
        body: b"{}".to_vec(),
        ..Default::default()
    };
    assert_eq!(
        serde_json::to_value(&req).unwrap(),
        json!({"verb": "list", "apiVersion": "tekton.dev/v1", "kind": "PipelineRun", "labelSelector": "app=x", "limit": 2, "continue": "c1"})
    );
    let apply = KubernetesRequest { verb: "patch".into(), name: "x".into(), patch_type: "apply".into(), force: true, ..Default::default() };
    assert_eq!(
        serde_json::to_value(&apply).unwrap(),
        json!({"verb": "patch", "apiVersion": "", "kind": "", "name": "x", "patchType": "apply", "force": true})
    );
    // Off wasm there is no host.
    assert_eq!(kubernetes_request(&req).unwrap_err().errno, ERRNO_NOT_CAPABLE);
}

#[test]
fn kubernetes_response() {
    let forbidden = KubernetesResponse { status: 403, body: br#"{"kind":"Status","reason":"Forbidden","message":"no"}"#.to_vec() };
    assert!(!forbidden.ok());
    assert_eq!(forbidden.failure(), ("Forbidden".to_string(), "no".to_string()));
    let bare = KubernetesResponse { status: 502, body: b"bad gateway".to_vec() };
    assert_eq!(bare.failure(), (String::new(), "the Kubernetes API answered with status 502".to_string()));
    let e = bare.decode::<serde_json::Value>().unwrap_err();
    assert_eq!(e.reason, REASON_FAILED);
    assert!(e.message.starts_with("the Kubernetes API's answer (status 502) is not the JSON expected: "), "{}", e.message);
    let created = KubernetesResponse { status: 201, body: br#"{"metadata":{"name":"cm"}}"#.to_vec() };
    assert!(created.ok());
    assert_eq!(created.decode::<serde_json::Value>().unwrap()["metadata"]["name"], "cm");
}
