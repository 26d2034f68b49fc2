// The Kubernetes capability (hostabi/README.md, "Kubernetes"): the
// AssemblyScript rendering of the Go SDK's guest.DoKubernetes. The
// plugin's manifest must grant it (capabilities.kubernetes, RBAC-shaped
// rules), else the plugin does not load; a plugin that never calls
// kubernetesRequest does not import it. The host makes each request as
// the run's ServiceAccount, in the run's namespace.

import { Buffers, HostError, HostResult } from "./host";
import { Kind, parse, Parsed, Writer } from "./json";
import { decodeUTF8 } from "./utf8";

// @ts-ignore: decorator
@external("tekton", "kubernetes_request")
declare function kubernetes_request(req: usize, reqLen: u32, body: usize, bodyLen: u32, out: usize): u32;

/** One request for kubernetesRequest: the request document's fields
 * (hostabi.KubernetesRequest), empty ones left out, and the body. */
export class KubernetesRequest {
  /** get, list, create, patch or delete. */
  verb: string = "";
  /** The kind, as in an object: "tekton.dev/v1", "PipelineRun"; any kind
   * the cluster serves, custom resources included. */
  apiVersion: string = "";
  kind: string = "";
  /** The run's namespace, or empty (then the run's is used); another is
   * ERRNO_DENIED. Empty for a cluster-scoped kind. */
  namespace: string = "";
  /** The object: required for get, patch and delete; empty for create
   * (the body's metadata.name or generateName) and list. */
  name: string = "";
  /** list only: "app=x,tier!=db". */
  labelSelector: string = "";
  /** list only: page a long list, as the API's limit and continue. */
  limit: i64 = 0;
  continue: string = "";
  /** patch only: "merge" (a JSON merge patch, the default) or "apply"
   * (server-side apply: the body is the object as the plugin wants it). */
  patchType: string = "";
  /** create and patch: the writer's name. */
  fieldManager: string = "";
  /** An apply patch only: take the fields other managers own. */
  force: bool = false;
  /** The object to create, or the patch, as JSON; empty for get, list
   * and delete. */
  body: Uint8Array = new Uint8Array(0);

  constructor(verb: string, apiVersion: string, kind: string) {
    this.verb = verb;
    this.apiVersion = apiVersion;
    this.kind = kind;
  }

  /** Sets the body to the UTF-8 of s (JSON); returns the request, for
   * chaining. */
  bodyText(s: string): KubernetesRequest {
    this.body = Uint8Array.wrap(String.UTF8.encode(s));
    return this;
  }

  /** The request document. */
  toJSON(): string {
    const w = new Writer();
    w.raw("{\"verb\":");
    w.string(this.verb);
    w.raw(",\"apiVersion\":");
    w.string(this.apiVersion);
    w.raw(",\"kind\":");
    w.string(this.kind);
    field(w, "namespace", this.namespace);
    field(w, "name", this.name);
    field(w, "labelSelector", this.labelSelector);
    if (this.limit != 0) w.raw(",\"limit\":" + this.limit.toString());
    field(w, "continue", this.continue);
    field(w, "patchType", this.patchType);
    field(w, "fieldManager", this.fieldManager);
    if (this.force) w.raw(",\"force\":true");
    w.raw("}");
    return w.toString();
  }
}

function field(w: Writer, name: string, value: string): void {
  if (value.length == 0) return;
  w.raw(",\"" + name + "\":");
  w.string(value);
}

/** The apiserver's answer: any status is an answer, not an error. */
export class KubernetesResponse {
  /** 200 or 201 for success, 404 for an object that does not exist, 403
   * for a request the run's ServiceAccount may not make, 409 for one that
   * already exists... */
  status: u32 = 0;
  /** The object, the list, or (for an error) a Status object, as JSON. */
  body: Uint8Array = new Uint8Array(0);

  /** Whether the answer is a success (2xx). */
  get ok(): bool {
    return this.status >= 200 && this.status < 300;
  }

  /** The body as UTF-8 text. */
  text(): string {
    return decodeUTF8(this.body, this.body.length);
  }

  /** The body as JSON: value, or error saying why it is not JSON. */
  json(): Parsed {
    return parse(this.text());
  }

  /** The reason and message of an answer that is not a success, from its
   * Status object ("Forbidden", "pipelineruns.tekton.dev is forbidden:
   * User ... cannot create ..."); the HTTP status when the body is no
   * Status. */
  failure(): KubernetesFailure {
    let reason = "";
    let message = "";
    const v = this.json().value;
    if (v != null && v.kind == Kind.Object) {
      const r = v.get("reason");
      if (r != null && r.kind == Kind.String) reason = r.str;
      const m = v.get("message");
      if (m != null && m.kind == Kind.String) message = m.str;
    }
    if (message.length == 0) message = "the Kubernetes API answered with status " + this.status.toString();
    return new KubernetesFailure(reason, message);
  }
}

/** What KubernetesResponse.failure returns. */
export class KubernetesFailure {
  constructor(
    /** The Status object's reason ("Forbidden", "NotFound"); empty if it
     * has none. */
    public reason: string,
    public message: string,
  ) {}
}

/** What kubernetesRequest returns: the answer, or the errno (ERRNO_*) and
 * the host's message. */
export class KubernetesResult extends HostResult<KubernetesResponse> {}

/** Sends req through the host's Kubernetes capability and returns the
 * whole answer. Any answer of the apiserver, a 403 or a 404 included, is
 * a response; a failed host call is an errno with the host's message:
 * ERRNO_DENIED for a request outside the manifest's rules or the run's
 * namespace, ERRNO_INVAL for a bad request or a kind the cluster does not
 * serve, ERRNO_NOT_CAPABLE when the host serves no Kubernetes (tkn-wasm
 * run without --kubeconfig). It blocks until the answer is read. */
export function kubernetesRequest(req: KubernetesRequest): KubernetesResult {
  const doc = String.UTF8.encode(req.toJSON());
  const out = new StaticArray<u32>(3); // status, body handle and length
  const errno = kubernetes_request(changetype<usize>(doc), <u32>doc.byteLength, req.body.dataStart, <u32>req.body.length, changetype<usize>(out));
  if (errno != 0) return failed(HostError.last(errno));
  const resp = new KubernetesResponse();
  resp.status = out[0];
  const buffers = new Buffers();
  resp.body = buffers.read(out[1], out[2]);
  if (buffers.error != null) return failed(buffers.error!);
  return new KubernetesResult(resp, 0, "");
}

function failed(e: HostError): KubernetesResult {
  return new KubernetesResult(null, e.errno, e.message);
}
