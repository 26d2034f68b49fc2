//go:build ignore

/*
 * main.c: the SemVer custom task (semver.tekton-wasm.dev/v1alpha1, kind
 * SemVer) as a tekton-wasm plugin in C, on the C SDK (sdk/c), which reads
 * the Request and writes the Response: this file parses the version
 * param and optionally checks it against the constraint param; see
 * README.md.
 *
 * Build: the Makefile compiles every .c file of this directory and of
 * sdk/c with
 *   clang --target=wasm32-wasi --sysroot=/usr -O2 -Wall -Wextra -Werror -Isdk/c
 * plus the flags in CFLAGS, into bin/plugins/semver.wasm. CFLAGS puts the
 * 32 KiB stack first in memory, so an overflow traps instead of silently
 * overwriting data, and strips debug and name sections.
 *
 * The "//go:build ignore" line that opens each .c file is for the Go
 * tool, which would otherwise refuse this directory's Go test as a
 * package with C files but no cgo; clang reads it as a comment.
 */
#include <string.h>

#include "semver.h"
#include "tekton_wasm.h"

/* Params this plugin takes. */
static const char *const known_params[] = {"version", "constraint", "require"};
#define NPARAMS (sizeof known_params / sizeof known_params[0])

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* trim returns s without surrounding whitespace (a result written with
 * echo ends with a newline). */
static const char *trim(const char *s, size_t *len)
{
	while (*len > 0 && is_space(s[*len - 1]))
		(*len)--;
	while (*len > 0 && is_space(s[0])) {
		s++;
		(*len)--;
	}
	return s;
}

static void handle(const tw_request *req, tw_response *r)
{
	const char *text = "", *ctext = NULL, *require = NULL;
	size_t len = 0, clen = 0, rlen = 0;
	if (tw_param_string(req, r, "version", 0, &text, &len) < 0)
		return;
	text = trim(text, &len);
	if (len == 0) {
		tw_fail(r, "MissingVersion", "The version param was not passed");
		return;
	}
	if (tw_only(req, r, known_params, NPARAMS) < 0 || tw_param_string(req, r, "constraint", 0, &ctext, &clen) < 0 ||
	    tw_param_string(req, r, "require", 0, &require, &rlen) < 0)
		return;
	int required = 0;
	if (require != NULL) {
		int yes = rlen == 4 && memcmp(require, "true", 4) == 0, no = rlen == 5 && memcmp(require, "false", 5) == 0;
		if (!yes && !no) {
			tw_fail(r, "InvalidParam", "param \"require\" must be \"true\" or \"false\", not \"%.*s\"",
				(int)(rlen < 64 ? rlen : 64), require);
			return;
		}
		required = yes;
		if (required && ctext == NULL) {
			tw_fail(r, "InvalidParam", "param \"require\" is \"true\" but there is no constraint to require; pass the constraint param");
			return;
		}
	}

	char why[256];
	semver v;
	if (semver_parse(&v, text, len, why, sizeof why) < 0) {
		tw_fail(r, "InvalidVersion", "version \"%.*s\" is not a semantic version: %s", (int)(len < 80 ? len : 80), text, why);
		return;
	}
	tw_resultf(r, "major", "%llu", (unsigned long long)v.major);
	tw_resultf(r, "minor", "%llu", (unsigned long long)v.minor);
	tw_resultf(r, "patch", "%llu", (unsigned long long)v.patch);
	tw_result(r, "prerelease", v.pre, v.pre_len);
	tw_result(r, "build", v.build, v.build_len);
	if (ctext == NULL) {
		tw_succeed(r, "ValidVersion", "%.*s is a valid semantic version", (int)len, text);
		return;
	}

	ctext = trim(ctext, &clen);
	int ok = semver_satisfies(&v, ctext, clen, why, sizeof why);
	if (ok < 0) {
		tw_fail(r, "InvalidConstraint", "constraint \"%.*s\" is invalid: %s", (int)(clen < 200 ? clen : 200), ctext, why);
		return;
	}
	const char *verdict = ok ? "satisfies" : "does not satisfy";
	if (!ok && required) {
		tw_fail(r, "ConstraintNotSatisfied", "%.*s %s \"%.*s\"", (int)len, text, verdict, (int)clen, ctext);
		return;
	}
	tw_result(r, "satisfied", ok ? "true" : "false", ok ? 4 : 5);
	tw_succeed(r, ok ? "ConstraintSatisfied" : "ConstraintNotSatisfied", "%.*s %s \"%.*s\"", (int)len, text, verdict,
		   (int)clen, ctext);
}

int main(void) { return tw_run(handle); }
