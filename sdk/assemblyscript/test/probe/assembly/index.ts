// A test plugin (a WASI reactor) for the SDK's tests through the host's
// engine (sdk_test.go). Its one param chooses what it does:
//   echo: succeeds with the value as result echo, the request's fields as
//         results, and the request's extraFields as its own;
//   panic: throws an Error with the value as its message;
//   console: logs the value with console.log and succeeds;
//   reason: fails with the value as its reason (the SDK checks it);
//   results: succeeds with that many results;
//   message: succeeds with the value repeated 1000 times as its message;
//   running: answers Running with the value as requeueAfter;
//   url: sends a POST there with body "ping" and header X-Probe: 1 and
//        answers the status, the Content-Type header and the body as
//        results (a failed request is Failed, reason HTTPErrno<n>);
//   kube: sends that verb for ConfigMap cm (create: with field manager probe
//         and the object as body) and answers the status and the body as
//         results (a failed request is Failed, reason KubernetesErrno<n>).
import { httpRequest, HttpRequest, kubernetesRequest, KubernetesRequest, params, parseDuration, Request, Response, run } from "tekton-wasm-guest";

export function tekton_run(): void {
  run(handle);
}

function handle(req: Request): Response {
  if (req.params.length != 1) return Response.failed("Usage", "pass exactly one param");
  const name = req.params[0].name;
  const got = params(req).string(name);
  if (!got.ok) return got.fail();
  const value = got.value;
  if (name == "echo") {
    const r = Response.succeeded()
      .withResult("echo", value)
      .withResult("run", req.run.namespace + "/" + req.run.name)
      .withResult("attempt", req.attempt.toString())
      .withResult("start", req.startTime.unixSeconds.toString() + "." + req.startTime.nanos.toString())
      .withResult("cleanup", req.cleanupReason);
    const ef = req.extraFields;
    if (ef != null) r.withExtraFields(ef);
    return r;
  }
  if (name == "panic") throw new Error(value);
  if (name == "console") {
    console.log(value);
    return Response.succeeded();
  }
  if (name == "reason") return Response.failed(value, "a reason of the caller's choice");
  if (name == "results") {
    const r = Response.succeeded();
    const n = I32.parseInt(value);
    for (let i = 0; i < n; i++) r.withResult("r" + i.toString(), "v");
    return r;
  }
  if (name == "message") return Response.succeeded().withMessage(value.repeat(1000));
  if (name == "running") {
    const d = parseDuration(value);
    if (!d.ok) return Response.failed("InvalidDuration", d.error);
    return Response.running(d.nanos).withReason("Waiting");
  }
  if (name == "url") {
    const res = httpRequest(new HttpRequest(value, "POST").header("X-Probe", "1").bodyText("ping"));
    if (!res.ok) return Response.failed("HTTPErrno" + res.errno.toString(), res.error);
    const resp = res.response!;
    const ctype = resp.headers.has("Content-Type") ? resp.headers.get("Content-Type")[0] : "";
    return Response.succeeded().withResult("status", resp.status.toString()).withResult("type", ctype).withResult("body", resp.text());
  }
  if (name == "kube") {
    const r = new KubernetesRequest(value, "v1", "ConfigMap");
    if (value == "create") {
      r.fieldManager = "probe";
      r.bodyText("{\"metadata\":{\"name\":\"cm\"}}");
    } else {
      r.name = "cm";
    }
    const res = kubernetesRequest(r);
    if (!res.ok) return Response.failed("KubernetesErrno" + res.errno.toString(), res.error);
    const resp = res.response!;
    return Response.succeeded().withResult("status", resp.status.toString()).withResult("body", resp.text());
  }
  return Response.failed("Usage", "unknown param " + name);
}
