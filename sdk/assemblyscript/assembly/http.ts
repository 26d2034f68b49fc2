// The HTTP capability (hostabi/README.md, "Host capabilities"): the
// AssemblyScript rendering of the Go SDK's guest.DoHTTP. The plugin's
// manifest must grant it (capabilities.http), else the plugin does not
// load; a plugin that never calls httpRequest does not import it (the
// compiler drops unused imports), so it needs no grant.

import { Buffers, ERRNO_IO, HostError, HostResult } from "./host";
import { Kind, parse, Writer } from "./json";
import { decodeUTF8 } from "./utf8";

// @ts-ignore: decorator
@external("tekton", "http_request")
declare function http_request(req: usize, reqLen: u32, body: usize, bodyLen: u32, out: usize): u32;

/** One request for httpRequest. */
export class HttpRequest {
  /** The HTTP method; empty means GET. */
  method: string = "";
  /** An absolute http or https URL whose host the manifest allows. */
  url: string = "";
  /** The request's header fields, by name. */
  headers: Map<string, string[]> = new Map();
  /** The request body; empty for none. */
  body: Uint8Array = new Uint8Array(0);

  constructor(url: string, method: string = "") {
    this.url = url;
    this.method = method;
  }

  /** Adds a value of the header name; returns the request, for chaining. */
  header(name: string, value: string): HttpRequest {
    if (!this.headers.has(name)) this.headers.set(name, []);
    this.headers.get(name).push(value);
    return this;
  }

  /** Sets the body to the UTF-8 of s; returns the request. */
  bodyText(s: string): HttpRequest {
    this.body = Uint8Array.wrap(String.UTF8.encode(s));
    return this;
  }
}

/** The final response, after the redirects the host followed. */
export class HttpResponse {
  /** Any status is a response, not an error. */
  status: u32 = 0;
  /** The response's header fields, by canonical name. */
  headers: Map<string, string[]> = new Map();
  body: Uint8Array = new Uint8Array(0);

  /** The body as UTF-8 text (an invalid byte reads as U+FFFD). */
  text(): string {
    return decodeUTF8(this.body, this.body.length);
  }
}

/** What httpRequest returns: the response, or the errno (ERRNO_*) and the
 * host's message, which for a denied host names the host and the
 * manifest setting that allows it. */
export class HttpResult extends HostResult<HttpResponse> {}

/** Sends req through the host and returns the whole response. The host
 * bounds it by the call's deadline and its size and count limits; every
 * failure is an errno with a message (ERRNO_DENIED for a host the
 * manifest does not allow). It blocks until the response is read. */
export function httpRequest(req: HttpRequest): HttpResult {
  const w = new Writer();
  w.raw("{");
  if (req.method.length > 0) {
    w.raw("\"method\":");
    w.string(req.method);
    w.raw(",");
  }
  w.raw("\"url\":");
  w.string(req.url);
  const names = req.headers.keys();
  if (names.length > 0) {
    w.raw(",\"headers\":{");
    for (let i = 0; i < names.length; i++) {
      if (i > 0) w.raw(",");
      w.string(names[i]);
      w.raw(":[");
      const values = req.headers.get(names[i]);
      for (let j = 0; j < values.length; j++) {
        if (j > 0) w.raw(",");
        w.string(values[j]);
      }
      w.raw("]");
    }
    w.raw("}");
  }
  w.raw("}");
  const doc = String.UTF8.encode(w.toString());
  const out = new StaticArray<u32>(5); // status, headers handle and length, body handle and length
  const errno = http_request(changetype<usize>(doc), <u32>doc.byteLength, req.body.dataStart, <u32>req.body.length, changetype<usize>(out));
  if (errno != 0) return failed(HostError.last(errno));
  const resp = new HttpResponse();
  resp.status = out[0];
  const buffers = new Buffers();
  const headers = buffers.read(out[1], out[2]);
  resp.body = buffers.read(out[3], out[4]);
  if (buffers.error != null) return failed(buffers.error!);
  if (headers.length > 0) {
    const parsed = parse(decodeUTF8(headers, headers.length));
    const v = parsed.value;
    if (v == null || v.kind != Kind.Object) return new HttpResult(null, ERRNO_IO, "the host's response headers are not a JSON object: " + parsed.error);
    for (let i = 0; i < v.keys.length; i++) {
      const values: string[] = [];
      const items = v.values[i].items;
      for (let j = 0; j < items.length; j++) values.push(items[j].str);
      resp.headers.set(v.keys[i], values);
    }
  }
  return new HttpResult(resp, 0, "");
}

function failed(e: HostError): HttpResult {
  return new HttpResult(null, e.errno, e.message);
}
