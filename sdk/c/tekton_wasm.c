/* tekton_wasm.c: see tekton_wasm.h. */
#include "tekton_wasm.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	char *name, *value;
	size_t len;
} tw_result_t;

struct tw_response {
	const char *status;
	char *reason, *message;
	uint64_t requeue_ms;
	tw_result_t *results;
	size_t nresults, cap;
	json_doc extra;   /* extraFields, parsed; extra.root is NULL when unset */
	char *extra_text; /* the text extra's numbers point into */
};

/* xalloc is realloc that aborts when memory runs out (tekton_wasm.h). */
static void *xalloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (p == NULL) {
		fputs("tekton_wasm: out of memory\n", stderr);
		abort();
	}
	return p;
}

static char *xstrndup(const char *s, size_t n)
{
	char *d = xalloc(NULL, n + 1);
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

static char *vformat(const char *format, va_list ap)
{
	va_list again;
	va_copy(again, ap);
	int n = vsnprintf(NULL, 0, format, ap);
	char *s = xalloc(NULL, n < 0 ? 1 : (size_t)n + 1);
	if (n < 0)
		s[0] = '\0';
	else
		vsnprintf(s, (size_t)n + 1, format, again);
	va_end(again);
	return s;
}

static void set(tw_response *r, const char *status, const char *reason, char *message)
{
	r->status = status;
	free(r->reason);
	r->reason = xstrndup(reason, strlen(reason));
	free(r->message);
	r->message = message;
}

static void drop_results(tw_response *r)
{
	for (size_t i = 0; i < r->nresults; i++) {
		free(r->results[i].name);
		free(r->results[i].value);
	}
	r->nresults = 0;
}

void tw_succeed(tw_response *r, const char *reason, const char *format, ...)
{
	va_list ap;
	va_start(ap, format);
	set(r, "Succeeded", reason, vformat(format, ap));
	va_end(ap);
}

void tw_fail(tw_response *r, const char *reason, const char *format, ...)
{
	va_list ap;
	va_start(ap, format);
	set(r, "Failed", reason, vformat(format, ap));
	va_end(ap);
	drop_results(r);
}

void tw_running(tw_response *r, const char *reason, uint64_t requeue_ms, const char *format, ...)
{
	va_list ap;
	va_start(ap, format);
	set(r, "Running", reason, vformat(format, ap));
	va_end(ap);
	r->requeue_ms = requeue_ms;
}

static void add_result(tw_response *r, const char *name, char *value, size_t len)
{
	if (r->nresults == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 8;
		r->results = xalloc(r->results, r->cap * sizeof *r->results);
	}
	r->results[r->nresults++] = (tw_result_t){.name = xstrndup(name, strlen(name)), .value = value, .len = len};
}

void tw_result(tw_response *r, const char *name, const char *value, size_t len)
{
	add_result(r, name, xstrndup(value, len), len);
}

void tw_resultf(tw_response *r, const char *name, const char *format, ...)
{
	va_list ap;
	va_start(ap, format);
	char *v = vformat(format, ap);
	va_end(ap);
	add_result(r, name, v, strlen(v));
}

static void drop_extra_fields(tw_response *r)
{
	json_free(&r->extra);
	memset(&r->extra, 0, sizeof r->extra);
	free(r->extra_text);
	r->extra_text = NULL;
}

int tw_extra_fields(tw_response *r, const char *json, size_t len)
{
	drop_extra_fields(r);
	r->extra_text = xstrndup(json, len);
	if (json_parse(&r->extra, r->extra_text, len) < 0) {
		char error[sizeof r->extra.error];
		size_t at = r->extra.error_at;
		memcpy(error, r->extra.error, sizeof error);
		drop_extra_fields(r);
		tw_fail(r, TW_REASON_INVALID_RESPONSE, "the plugin's extraFields are not JSON: %s (at byte %zu)", error, at);
		return -1;
	}
	return 0;
}

static const char *type_name(json_type t)
{
	switch (t) {
	case JSON_STRING: return "a string";
	case JSON_ARRAY: return "an array";
	case JSON_OBJECT: return "an object";
	default: return "another type";
	}
}

int tw_param(const tw_request *req, tw_response *r, const char *name, json_type type, int required,
	     const json_value **value)
{
	for (const json_value *p = req->params ? req->params->child : NULL; p != NULL; p = p->next) {
		if (!json_equals(json_member(p, "name"), name))
			continue;
		const json_value *v = json_member(p, "value");
		if (v->type != type) {
			tw_fail(r, TW_REASON_INVALID_PARAM, "param \"%s\" must be %s, not %s", name, type_name(type),
				type_name(v->type));
			return -1;
		}
		*value = v;
		return 1;
	}
	if (required) {
		tw_fail(r, TW_REASON_MISSING_PARAM, "param \"%s\" is required", name);
		return -1;
	}
	return 0;
}

int tw_param_string(const tw_request *req, tw_response *r, const char *name, int required, const char **value,
		    size_t *len)
{
	const json_value *v = NULL;
	int found = tw_param(req, r, name, JSON_STRING, required, &v);
	if (found == 1) {
		*value = v->str;
		*len = v->len;
	}
	return found;
}

int tw_only(const tw_request *req, tw_response *r, const char *const *names, size_t n)
{
	char list[1024];
	size_t used = 0;
	for (const json_value *p = req->params ? req->params->child : NULL; p != NULL && used < sizeof list; p = p->next) {
		const json_value *name = json_member(p, "name");
		size_t i = 0;
		while (i < n && !json_equals(name, names[i]))
			i++;
		if (i < n)
			continue;
		int w = snprintf(list + used, sizeof list - used, "%s%.*s", used > 0 ? " " : "", (int)name->len, name->str);
		used = w < 0 ? sizeof list : used + (size_t)w;
	}
	if (used == 0)
		return 0;
	if (used >= sizeof list) {
		/* Mark the cut, at the start of the UTF-8 sequence it falls in. */
		size_t cut = sizeof list - sizeof " ...";
		while (cut > 0 && ((unsigned char)list[cut] & 0xC0) == 0x80)
			cut--;
		memcpy(list + cut, " ...", sizeof " ...");
	}
	char takes[1024];
	size_t t = 0;
	for (size_t i = 0; i < n && t < sizeof takes; i++) {
		int w = snprintf(takes + t, sizeof takes - t, "%s%s", i > 0 ? " " : "", names[i]);
		t = w < 0 ? sizeof takes : t + (size_t)w;
	}
	tw_fail(r, TW_REASON_UNEXPECTED_PARAMS, "unexpected params: [%s]; this plugin takes [%s]", list, takes);
	return -1;
}

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

/* read_request parses doc from in[0..len) into req, or fails r. */
static int read_request(tw_request *req, tw_response *r, json_doc *doc, const char *in, size_t len)
{
	if (json_parse(doc, in, len) < 0) {
		tw_fail(r, TW_REASON_INVALID_REQUEST, "stdin is not a JSON request: %s (at byte %zu)", doc->error, doc->error_at);
		return -1;
	}
	if (doc->root->type != JSON_OBJECT) {
		tw_fail(r, TW_REASON_INVALID_REQUEST, "stdin is not a JSON request: the top-level value is not an object");
		return -1;
	}
	const json_value *abi = json_member(doc->root, "abiVersion");
	if (!json_equals(abi, TW_ABI_VERSION)) {
		int n = abi != NULL && abi->type == JSON_STRING ? (int)(abi->len < 64 ? abi->len : 64) : 0;
		tw_fail(r, TW_REASON_UNSUPPORTED_ABI_VERSION,
			"the host speaks ABI \"%.*s\" but this plugin was built for \"%s\"; rebuild it against the host's ABI", n,
			n > 0 ? abi->str : "", TW_ABI_VERSION);
		return -1;
	}
	req->root = doc->root;
	const json_value *params = json_member(doc->root, "params");
	if (params == NULL || params->type == JSON_NULL)
		return 0;
	if (params->type != JSON_ARRAY) {
		tw_fail(r, TW_REASON_INVALID_REQUEST, "the request's params are not a list");
		return -1;
	}
	for (const json_value *p = params->child; p != NULL; p = p->next) {
		const json_value *name = json_member(p, "name");
		if (name == NULL || name->type != JSON_STRING || !valid_value(json_member(p, "value"))) {
			tw_fail(r, TW_REASON_INVALID_REQUEST, "the request has a param without a name, or whose value is not a string, "
							     "an array of strings or an object of strings");
			return -1;
		}
	}
	req->params = params;
	return 0;
}

/* read_all reads stdin into a malloc'd buffer; it returns NULL after
 * failing r when stdin cannot be read or is too large. */
static char *read_all(tw_response *r, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = xalloc(NULL, cap);
	for (;;) {
		n += fread(buf + n, 1, cap - n, stdin);
		if (ferror(stdin)) {
			tw_fail(r, TW_REASON_INVALID_REQUEST, "reading the request from stdin failed");
			break;
		}
		if (feof(stdin)) {
			*len = n;
			return buf;
		}
		if (cap >= TW_MAX_REQUEST) {
			tw_fail(r, TW_REASON_INVALID_REQUEST, "the request is larger than %u bytes", TW_MAX_REQUEST);
			break;
		}
		cap *= 2;
		buf = xalloc(buf, cap);
	}
	free(buf);
	return NULL;
}

/* Validation, as hostabi.Response.Validate. */

static int alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

static int valid_reason(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > TW_MAX_REASON_BYTES || s[0] < 'A' || s[0] > 'Z')
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!alnum(s[i]))
			return 0;
	return 1;
}

static int reserved(const char *s)
{
	static const char *const prefixes[] = {"CustomRun", "CustomTask", "Plugin", "Workspace"};
	static const char *const reasons[] = {"Started", "Retrying", "StatusUpdateRejected"};
	for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++)
		if (strncmp(s, prefixes[i], strlen(prefixes[i])) == 0)
			return 1;
	for (size_t i = 0; i < sizeof reasons / sizeof *reasons; i++)
		if (strcmp(s, reasons[i]) == 0)
			return 1;
	return 0;
}

static int valid_result_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || !alnum(s[0]) || !alnum(s[n - 1]))
		return 0;
	for (size_t i = 1; i + 1 < n; i++)
		if (!alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return 0;
	return 1;
}

/* string_length is the length of s[0..len) as json_write_string writes
 * it. */
static size_t string_length(const char *s, size_t len)
{
	size_t n = 2;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		n += c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t' ? 2 : c < 0x20 ? 6 : 1;
	}
	return n;
}

/* write_value writes v as compact JSON to out (NULL to only count) and
 * returns its length; *why is set when v breaks a rule of the ABI: a
 * non-finite number, a repeated key, nesting deeper than depth allows. */
static size_t write_value(FILE *out, const json_value *v, int depth, const char **why)
{
	size_t n = 0;
	switch (v->type) {
	case JSON_NULL: n = 4; if (out) fputs("null", out); break;
	case JSON_BOOL: n = v->boolean ? 4 : 5; if (out) fputs(v->boolean ? "true" : "false", out); break;
	case JSON_NUMBER: {
		char num[64];
		snprintf(num, sizeof num, "%.*s", (int)(v->len < 63 ? v->len : 63), v->str);
		if (v->len >= 63 || !isfinite(strtod(num, NULL)))
			*why = "a number is not a finite 64-bit float";
		n = v->len;
		if (out) fwrite(v->str, 1, v->len, out);
		break;
	}
	case JSON_STRING:
		n = string_length(v->str, v->len);
		if (out) json_write_string(out, v->str, v->len);
		break;
	case JSON_ARRAY:
	case JSON_OBJECT:
		if (depth >= TW_MAX_JSON_DEPTH) {
			*why = "arrays and objects nest deeper than 100 levels";
			return 0;
		}
		if (out) fputc(v->type == JSON_ARRAY ? '[' : '{', out);
		n = 2;
		for (const json_value *e = v->child; e != NULL && *why == NULL; e = e->next) {
			if (e != v->child) {
				n++;
				if (out) fputc(',', out);
			}
			if (v->type == JSON_OBJECT) {
				for (const json_value *f = v->child; f != e; f = f->next)
					if (f->key_len == e->key_len && memcmp(f->key, e->key, e->key_len) == 0)
						*why = "a key appears twice in one object";
				n += 3 + e->key_len;
				if (out) {
					json_write_string(out, e->key, e->key_len);
					fputc(':', out);
				}
			}
			n += write_value(out, e, depth + 1, why);
		}
		if (out) fputc(v->type == JSON_ARRAY ? ']' : '}', out);
		break;
	}
	return n;
}

/* validate returns NULL, or why r breaks the ABI with *limit set when it
 * is a size limit; it cuts an over-long message. */
static char *validate(tw_response *r, int *limit)
{
	static char why[256];
	*limit = 0;
	if (r->reason[0] != '\0' && !valid_reason(r->reason)) {
		snprintf(why, sizeof why, "response reason \"%.80s\" is not a CamelCase word of at most %d bytes", r->reason,
			 TW_MAX_REASON_BYTES);
		return why;
	}
	if (reserved(r->reason)) {
		snprintf(why, sizeof why,
			 "response reason \"%s\" is reserved for the host, which sets it itself; choose a reason of the plugin's own",
			 r->reason);
		return why;
	}
	if (strlen(r->message) > TW_MAX_MESSAGE_BYTES) {
		static const char mark[] = "…";
		size_t cut = TW_MAX_MESSAGE_BYTES - (sizeof mark - 1);
		while (cut > 0 && ((unsigned char)r->message[cut] & 0xC0) == 0x80)
			cut--;
		memcpy(r->message + cut, mark, sizeof mark);
	}
	if (r->extra.root != NULL) {
		const char *rule = NULL;
		size_t n = write_value(NULL, r->extra.root, 1, &rule);
		if (rule != NULL) {
			snprintf(why, sizeof why, "response extraFields: %s", rule);
			return why;
		}
		if (n > TW_MAX_EXTRA_FIELDS_BYTES) {
			*limit = 1;
			snprintf(why, sizeof why, "extraFields are %zu bytes; the limit is %d", n, TW_MAX_EXTRA_FIELDS_BYTES);
			return why;
		}
	}
	*limit = 1;
	if (r->nresults > TW_MAX_RESULTS) {
		snprintf(why, sizeof why, "the plugin returned %zu results; the limit is %d", r->nresults, TW_MAX_RESULTS);
		return why;
	}
	size_t total = 0;
	for (size_t i = 0; i < r->nresults; i++) {
		const tw_result_t *res = &r->results[i];
		if (!valid_result_name(res->name)) {
			snprintf(why, sizeof why,
				 "result name \"%.80s\" is invalid: use letters, digits, '-', '_' and '.', starting and ending with a letter or digit",
				 res->name);
			return why;
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(r->results[j].name, res->name) == 0) {
				snprintf(why, sizeof why, "result \"%.80s\" is returned twice", res->name);
				return why;
			}
		if (res->len > TW_MAX_RESULT_VALUE_BYTES) {
			snprintf(why, sizeof why, "result \"%.80s\" is %zu bytes; the limit is %d", res->name, res->len,
				 TW_MAX_RESULT_VALUE_BYTES);
			return why;
		}
		total += strlen(res->name) + res->len;
	}
	if (total > TW_MAX_RESULTS_BYTES) {
		snprintf(why, sizeof why, "results add up to %zu bytes; the limit is %d", total, TW_MAX_RESULTS_BYTES);
		return why;
	}
	*limit = 0;
	return NULL;
}

static void write_member(FILE *out, const char *name, const char *value)
{
	if (value[0] == '\0')
		return;
	fprintf(out, ",\"%s\":", name);
	json_write_string(out, value, strlen(value));
}

static int write_response(FILE *out, const tw_response *r)
{
	fputs("{\"abiVersion\":\"" TW_ABI_VERSION "\"", out);
	write_member(out, "status", r->status);
	write_member(out, "reason", r->reason);
	write_member(out, "message", r->message);
	if (r->nresults > 0) {
		fputs(",\"results\":[", out);
		for (size_t i = 0; i < r->nresults; i++) {
			fprintf(out, "%s{\"name\":", i > 0 ? "," : "");
			json_write_string(out, r->results[i].name, strlen(r->results[i].name));
			fputs(",\"value\":", out);
			json_write_string(out, r->results[i].value, r->results[i].len);
			fputc('}', out);
		}
		fputc(']', out);
	}
	if (r->extra.root != NULL) {
		const char *why = NULL;
		fputs(",\"extraFields\":", out);
		write_value(out, r->extra.root, 1, &why);
	}
	if (r->requeue_ms > 0 && strcmp(r->status, "Running") == 0)
		fprintf(out, ",\"requeueAfter\":\"%llums\"", (unsigned long long)r->requeue_ms);
	fputs("}\n", out);
	return fflush(out) == 0 && !ferror(out) ? 0 : -1;
}

int tw_run(tw_handler h)
{
	tw_response r = {0};
	tw_fail(&r, "Failed", "%s", "");
	tw_request req = {0};
	json_doc doc = {0};
	size_t len = 0;
	char *in = read_all(&r, &len);
	if (in != NULL && read_request(&req, &r, &doc, in, len) == 0)
		h(&req, &r);
	int limit;
	const char *why = validate(&r, &limit);
	if (why != NULL) {
		tw_fail(&r, limit ? TW_REASON_RESULTS_TOO_LARGE : TW_REASON_INVALID_RESPONSE,
			"the plugin returned an invalid response: %s", why);
		drop_extra_fields(&r);
	}
	int code = write_response(stdout, &r) == 0 ? 0 : 1;
	if (code != 0)
		fputs("tekton_wasm: writing the response to stdout failed\n", stderr);
	drop_results(&r);
	free(r.results);
	free(r.reason);
	free(r.message);
	drop_extra_fields(&r);
	json_free(&doc);
	free(in);
	return code;
}
