//go:build ignore

/*
 * main.c: the SemVer custom task (semver.tekton-wasm.dev/v1alpha1, kind
 * SemVer) as a tekton-wasm plugin in C. It reads the Request on stdin,
 * parses the version param, optionally checks it against the constraint
 * param, and writes one Response on stdout; see README.md.
 *
 * Build: the Makefile compiles every .c file of this directory with
 *   clang --target=wasm32-wasi --sysroot=/usr -O2 -Wall -Wextra -Werror
 * plus the flags in CFLAGS, into bin/plugins/semver.wasm. CFLAGS puts the
 * 32 KiB stack first in memory, so an overflow traps instead of silently
 * overwriting data, and strips debug and name sections.
 *
 * The "//go:build ignore" line that opens each .c file is for the Go
 * tool, which would otherwise refuse this directory's Go test as a
 * package with C files but no cgo; clang reads it as a comment.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "semver.h"

#define ABI_VERSION "tekton-wasm/v1"

/* MAX_REQUEST bounds stdin; a CustomRun is far smaller (the apiserver
 * stores objects of at most about 1.5 MiB). */
#define MAX_REQUEST (16u << 20)

#define MAX_RESULTS 6

typedef struct {
	const char *name;
	const char *value;
	size_t len;
	char number[24]; /* the value, for numeric results */
} result;

typedef struct {
	const char *status;
	const char *reason;
	char message[2048];
	result results[MAX_RESULTS];
	int nresults;
} response;

/* respond sets the status, reason and formatted message of r. */
static void respond(response *r, const char *status, const char *reason, const char *format, ...)
{
	va_list ap;
	r->status = status;
	r->reason = reason;
	va_start(ap, format);
	vsnprintf(r->message, sizeof r->message, format, ap);
	va_end(ap);
}

/* fail makes r a Failed response without results. */
#define fail(r, ...) ((r)->nresults = 0, respond((r), "Failed", __VA_ARGS__))

static void add_result(response *r, const char *name, const char *value, size_t len)
{
	r->results[r->nresults++] = (result){.name = name, .value = value, .len = len};
}

static void add_number(response *r, const char *name, uint64_t n)
{
	result *res = &r->results[r->nresults++];
	int len = snprintf(res->number, sizeof res->number, "%llu", (unsigned long long)n);
	res->name = name;
	res->value = res->number;
	res->len = (size_t)len;
}

/* Params this plugin takes. */
static const char *const known_params[] = {"version", "constraint", "require"};
#define NPARAMS (sizeof known_params / sizeof known_params[0])

/* valid_value reports whether v is a Tekton param value: a string, an
 * array of strings or an object of strings. */
static int valid_value(const json_value *v)
{
	if (v == NULL)
		return 0;
	if (v->type == JSON_STRING)
		return 1;
	if (v->type != JSON_ARRAY && v->type != JSON_OBJECT)
		return 0;
	for (const json_value *e = v->child; e != NULL; e = e->next)
		if (e->type != JSON_STRING)
			return 0;
	return 1;
}

/* valid_params fails r unless params is absent, null, or a list of
 * params each with a string name and a valid value. */
static int valid_params(response *r, const json_value *params)
{
	if (params == NULL || params->type == JSON_NULL)
		return 0;
	if (params->type != JSON_ARRAY) {
		fail(r, "InvalidRequest", "the request's params are not a list");
		return -1;
	}
	for (const json_value *p = params->child; p != NULL; p = p->next) {
		const json_value *name = json_member(p, "name");
		if (name == NULL || name->type != JSON_STRING || !valid_value(json_member(p, "value"))) {
			fail(r, "InvalidRequest", "the request has a param without a name, or whose value is not a string, "
						  "an array of strings or an object of strings");
			return -1;
		}
	}
	return 0;
}

/* string_param finds the string param name (the first of that name) in
 * params that passed valid_params: it returns 1 with *value set, 0 when
 * absent, or -1 after failing r when the param is not a string. */
static int string_param(response *r, const json_value *params, const char *name, const json_value **value)
{
	for (const json_value *p = params ? params->child : NULL; p != NULL; p = p->next) {
		if (!json_equals(json_member(p, "name"), name))
			continue;
		const json_value *v = json_member(p, "value");
		if (v->type != JSON_STRING) {
			fail(r, "InvalidParam", "param \"%s\" must be a string, not %s", name, v->type == JSON_ARRAY ? "an array" : "an object");
			return -1;
		}
		*value = v;
		return 1;
	}
	return 0;
}

/* unexpected_params fails r if params (which passed valid_params) holds
 * params this plugin does not take, listing them as Go's %v prints a
 * list (cut to about 1 KiB, ending in " ..."). */
static int unexpected_params(response *r, const json_value *params)
{
	char list[1024];
	size_t n = 0;
	for (const json_value *p = params ? params->child : NULL; p != NULL && n < sizeof list; p = p->next) {
		const json_value *name = json_member(p, "name");
		size_t i = 0;
		while (i < NPARAMS && !json_equals(name, known_params[i]))
			i++;
		if (i < NPARAMS)
			continue;
		int w = snprintf(list + n, sizeof list - n, "%s%.*s", n > 0 ? " " : "", (int)name->len, name->str);
		n = w < 0 ? sizeof list : n + (size_t)w;
	}
	if (n == 0)
		return 0;
	if (n >= sizeof list) {
		/* Mark the cut, at the start of the UTF-8 sequence it falls in. */
		size_t cut = sizeof list - sizeof " ...";
		while (cut > 0 && ((unsigned char)list[cut] & 0xC0) == 0x80)
			cut--;
		memcpy(list + cut, " ...", sizeof " ...");
	}
	fail(r, "UnexpectedParams", "unexpected params: [%s]; this plugin takes [version constraint require]", list);
	return -1;
}

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

/* handle decodes the request in[0..in_len) and fills r. */
static void handle(response *r, json_doc *doc, const char *in, size_t in_len)
{
	if (json_parse(doc, in, in_len) < 0) {
		fail(r, "InvalidRequest", "stdin is not a JSON request: %s (at byte %zu)", doc->error, doc->error_at);
		return;
	}
	const json_value *req = doc->root;
	if (req->type != JSON_OBJECT) {
		fail(r, "InvalidRequest", "stdin is not a JSON request: the top-level value is not an object");
		return;
	}
	const json_value *abi = json_member(req, "abiVersion");
	if (!json_equals(abi, ABI_VERSION)) {
		int n = abi != NULL && abi->type == JSON_STRING ? (int)(abi->len < 64 ? abi->len : 64) : 0;
		fail(r, "UnsupportedABIVersion", "the host speaks ABI \"%.*s\" but this plugin was built for \"%s\"; "
						 "rebuild it against the host's ABI", n, n > 0 ? abi->str : "", ABI_VERSION);
		return;
	}

	const json_value *params = json_member(req, "params"), *version = NULL, *constraint = NULL, *require = NULL;
	if (valid_params(r, params) < 0 || string_param(r, params, "version", &version) < 0)
		return;
	size_t len = version ? version->len : 0;
	const char *text = version ? trim(version->str, &len) : "";
	if (len == 0) {
		fail(r, "MissingVersion", "The version param was not passed");
		return;
	}
	if (unexpected_params(r, params) < 0 || string_param(r, params, "constraint", &constraint) < 0 ||
	    string_param(r, params, "require", &require) < 0)
		return;
	int required = 0;
	if (require != NULL) {
		if (!json_equals(require, "true") && !json_equals(require, "false")) {
			fail(r, "InvalidParam", "param \"require\" must be \"true\" or \"false\", not \"%.*s\"",
			     (int)(require->len < 64 ? require->len : 64), require->str);
			return;
		}
		required = json_equals(require, "true");
		if (required && constraint == NULL) {
			fail(r, "InvalidParam", "param \"require\" is \"true\" but there is no constraint to require; pass the constraint param");
			return;
		}
	}

	char why[256];
	semver v;
	if (semver_parse(&v, text, len, why, sizeof why) < 0) {
		fail(r, "InvalidVersion", "version \"%.*s\" is not a semantic version: %s", (int)(len < 80 ? len : 80), text, why);
		return;
	}
	add_number(r, "major", v.major);
	add_number(r, "minor", v.minor);
	add_number(r, "patch", v.patch);
	add_result(r, "prerelease", v.pre, v.pre_len);
	add_result(r, "build", v.build, v.build_len);
	if (constraint == NULL) {
		respond(r, "Succeeded", "ValidVersion", "%.*s is a valid semantic version", (int)len, text);
		return;
	}

	size_t clen = constraint->len;
	const char *ctext = trim(constraint->str, &clen);
	int ok = semver_satisfies(&v, ctext, clen, why, sizeof why);
	if (ok < 0) {
		fail(r, "InvalidConstraint", "constraint \"%.*s\" is invalid: %s", (int)(clen < 200 ? clen : 200), ctext, why);
		return;
	}
	const char *verdict = ok ? "satisfies" : "does not satisfy";
	if (!ok && required) {
		fail(r, "ConstraintNotSatisfied", "%.*s %s \"%.*s\"", (int)len, text, verdict, (int)clen, ctext);
		return;
	}
	add_result(r, "satisfied", ok ? "true" : "false", ok ? 4 : 5);
	respond(r, "Succeeded", ok ? "ConstraintSatisfied" : "ConstraintNotSatisfied", "%.*s %s \"%.*s\"", (int)len, text,
		verdict, (int)clen, ctext);
}

static void write_member(FILE *out, const char *name, const char *value, size_t len)
{
	fprintf(out, ",\"%s\":", name);
	json_write_string(out, value, len);
}

static int write_response(FILE *out, const response *r)
{
	fputs("{\"abiVersion\":\"" ABI_VERSION "\"", out);
	write_member(out, "status", r->status, strlen(r->status));
	write_member(out, "reason", r->reason, strlen(r->reason));
	write_member(out, "message", r->message, strlen(r->message));
	if (r->nresults > 0) {
		fputs(",\"results\":[", out);
		for (int i = 0; i < r->nresults; i++) {
			fprintf(out, "%s{\"name\":\"%s\",\"value\":", i > 0 ? "," : "", r->results[i].name);
			json_write_string(out, r->results[i].value, r->results[i].len);
			fputc('}', out);
		}
		fputc(']', out);
	}
	fputs("}\n", out);
	return fflush(out) == 0 && !ferror(out) ? 0 : -1;
}

/* read_all reads stdin into a malloc'd buffer; it returns NULL after
 * failing r when stdin cannot be read or is too large. */
static char *read_all(response *r, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	while (buf != NULL) {
		n += fread(buf + n, 1, cap - n, stdin);
		if (ferror(stdin)) {
			fail(r, "InvalidRequest", "reading the request from stdin failed");
			break;
		}
		if (feof(stdin)) {
			*len = n;
			return buf;
		}
		if (cap >= MAX_REQUEST) {
			fail(r, "InvalidRequest", "the request is larger than %u bytes", MAX_REQUEST);
			break;
		}
		char *grown = realloc(buf, cap * 2);
		if (grown == NULL)
			break;
		buf = grown;
		cap *= 2;
	}
	if (r->status == NULL)
		fail(r, "InvalidRequest", "out of memory reading the request");
	free(buf);
	return NULL;
}

int main(void)
{
	response r = {0};
	json_doc doc = {0};
	size_t len = 0;
	char *in = read_all(&r, &len);
	if (in != NULL)
		handle(&r, &doc, in, len);
	int code = write_response(stdout, &r) == 0 ? 0 : 1;
	if (code != 0)
		fputs("semver: writing the response to stdout failed\n", stderr);
	json_free(&doc);
	free(in);
	return code;
}
