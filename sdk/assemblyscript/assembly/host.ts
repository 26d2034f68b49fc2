// The host functions every capability shares (hostabi/README.md, "Host
// capabilities"): the errnos, the buffers an answer comes in and the
// host's message for a failed call. httpRequest (http.ts) and
// kubernetesRequest (kubernetes.ts) are built on it; a host function is
// imported only by a plugin that calls its wrapper (the compiler drops
// unused imports).

import { decodeUTF8 } from "./utf8";

// @ts-ignore: decorator
@external("tekton", "buffer_read")
declare function buffer_read(handle: u32, buf: usize, bufLen: u32): u32;
// @ts-ignore: decorator
@external("tekton", "buffer_close")
declare function buffer_close(handle: u32): u32;
// @ts-ignore: decorator
@external("tekton", "last_error")
declare function last_error(buf: usize, bufLen: u32): i32;

// The errnos of the host functions (hostabi/README.md, "Errnos").
export const ERRNO_INVAL: u32 = 1;
export const ERRNO_FAULT: u32 = 2;
export const ERRNO_DENIED: u32 = 3;
export const ERRNO_TOO_LARGE: u32 = 4;
export const ERRNO_LIMIT: u32 = 5;
export const ERRNO_CANCELED: u32 = 6;
export const ERRNO_IO: u32 = 7;
export const ERRNO_NOT_CAPABLE: u32 = 8;
export const ERRNO_RANGE: u32 = 9;

/** The most bytes of a message last_error returns. */
const MAX_ERROR_BYTES: i32 = 1 << 10;

/** What a capability's wrapper returns: the answer (T), or the errno
 * (ERRNO_*) and the host's message, which says what to change (for a
 * denied request, the manifest setting that allows it). */
export class HostResult<T> {
  constructor(
    public response: T | null,
    public errno: u32,
    public error: string,
  ) {}
  get ok(): bool {
    return this.response != null;
  }
}

/** The errno and message of the host function that just failed with
 * errno (its message from last_error). */
export class HostError {
  constructor(
    public errno: u32,
    public message: string,
  ) {}

  static last(errno: u32): HostError {
    const buf = new Uint8Array(MAX_ERROR_BYTES);
    let n = last_error(buf.dataStart, <u32>buf.length);
    if (n < 0) n = 0;
    if (n > MAX_ERROR_BYTES) n = MAX_ERROR_BYTES;
    let message = decodeUTF8(buf, n);
    if (message.length == 0) message = "the host function failed with errno " + errno.toString();
    return new HostError(errno, message);
  }
}

/** Reads the buffers of one answer, closing each; error is the first
 * that could not be read (the ones after it are closed unread). */
export class Buffers {
  error: HostError | null = null;

  /** Copies the buffer handle of n bytes; empty if it cannot be read. */
  read(handle: u32, n: u32): Uint8Array {
    if (handle == 0) return new Uint8Array(0);
    if (this.error != null) {
      buffer_close(handle);
      return new Uint8Array(0);
    }
    const b = new Uint8Array(<i32>n);
    const errno = buffer_read(handle, b.dataStart, n);
    if (errno != 0) this.error = HostError.last(errno);
    buffer_close(handle);
    return errno == 0 ? b : new Uint8Array(0);
  }
}
