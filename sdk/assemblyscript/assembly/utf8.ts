// UTF-8 decoding as Go does it, for what the plugin reads from the host.

/** The first n bytes of b as a string, each byte that does not begin a
 * valid UTF-8 sequence read as U+FFFD, as Go's utf8.DecodeRune reads it
 * (AssemblyScript's own decoder is lenient: "\xc3" before a quote would
 * swallow the quote). */
export function decodeUTF8(b: Uint8Array, n: i32): string {
  const out = new Uint16Array(n); // UTF-16 is never longer than UTF-8
  let w = 0;
  let i = 0;
  while (i < n) {
    const c = <u32>b[i];
    if (c < 0x80) {
      out[w++] = <u16>c;
      i++;
      continue;
    }
    let size = 0;
    let lo: u32 = 0x80;
    let hi: u32 = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) size = 2;
    else if (c >= 0xe0 && c <= 0xef) {
      size = 3;
      if (c == 0xe0) lo = 0xa0;
      else if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      size = 4;
      if (c == 0xf0) lo = 0x90;
      else if (c == 0xf4) hi = 0x8f;
    }
    let ok = size > 0 && i + size <= n;
    if (ok) {
      const c1 = <u32>b[i + 1];
      ok = c1 >= lo && c1 <= hi;
      for (let k = 2; ok && k < size; k++) {
        const ck = <u32>b[i + k];
        ok = ck >= 0x80 && ck <= 0xbf;
      }
    }
    if (!ok) {
      out[w++] = 0xfffd;
      i++;
      continue;
    }
    let r: u32 = size == 2 ? c & 0x1f : size == 3 ? c & 0x0f : c & 0x07;
    for (let k = 1; k < size; k++) r = (r << 6) | (<u32>b[i + k] & 0x3f);
    if (r >= 0x10000) {
      r -= 0x10000;
      out[w++] = <u16>(0xd800 | (r >> 10));
      out[w++] = <u16>(0xdc00 | (r & 0x3ff));
    } else {
      out[w++] = <u16>r;
    }
    i += size;
  }
  return String.UTF16.decodeUnsafe(out.dataStart, <usize>w << 1);
}
