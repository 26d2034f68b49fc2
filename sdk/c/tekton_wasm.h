/*
 * tekton_wasm.h: the C SDK for tekton-wasm plugins. It owns the plugin
 * side of the host ABI (hostabi/README.md, version tekton-wasm/v1), as
 * the Go SDK (hostabi/guest) does: reading the Request from stdin and
 * checking its ABI version and params, typed access to params with clear
 * errors, building the Response (Succeeded, Failed, Running with
 * requeueAfter, results, extraFields), validating it against the ABI's
 * rules and limits and writing it, once, to stdout. The JSON underneath
 * is tekton_json.h, which a plugin may use for its spec.
 *
 * A complete plugin:
 *
 *	#include "tekton_wasm.h"
 *
 *	static void handle(const tw_request *req, tw_response *resp)
 *	{
 *		const char *name;
 *		size_t len;
 *		static const char *const params[] = {"name"};
 *		if (tw_param_string(req, resp, "name", 1, &name, &len) < 0 ||  // MissingParam, InvalidParam
 *		    tw_only(req, resp, params, 1) < 0)                            // UnexpectedParams
 *			return;
 *		tw_resultf(resp, "greeting", "hello %.*s", (int)len, name);
 *		tw_succeed(resp, "Greeted", "said hello");
 *	}
 *
 *	TW_REACTOR(handle)               // a reactor: exports tekton_run
 *	// or: int main(void) { return tw_run(handle); }   // a command
 *
 * Build (sdk/c/README.md), a reactor:
 *	clang --target=wasm32-wasi --sysroot=/usr -O2 -mexec-model=reactor \
 *	  -I sdk/c -o plugin.wasm plugin.c sdk/c/tekton_*.c
 * or, for a command, the same without -mexec-model=reactor.
 *
 * Logging is writing to stderr. Stdout is the response: what else a
 * handler prints there makes the response invalid (PluginInvalidResponse).
 * Strings the SDK is given are copied; json_value pointers into the
 * request stay valid until tw_run returns. Running out of memory aborts
 * the plugin (the host reports PluginTrapped or PluginOutOfMemory).
 */
#ifndef TEKTON_WASM_H
#define TEKTON_WASM_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "tekton_json.h"

/* TW_ABI_VERSION is the ABI this SDK speaks. */
#define TW_ABI_VERSION "tekton-wasm/v1"

/* TW_MAX_REQUEST bounds what tw_run reads from stdin; a CustomRun is far
 * smaller (the apiserver stores objects of at most about 1.5 MiB). */
#define TW_MAX_REQUEST (16u << 20)

/* The ABI's limits on a response (hostabi/README.md, "Limits"): past
 * them tw_run answers Failed, TW_REASON_RESULTS_TOO_LARGE, saying which. */
#define TW_MAX_RESULTS 64                  /* results in one response */
#define TW_MAX_RESULT_VALUE_BYTES (16 << 10) /* one result value */
#define TW_MAX_RESULTS_BYTES (64 << 10)    /* all result names and values */
#define TW_MAX_EXTRA_FIELDS_BYTES (64 << 10) /* extraFields as compact JSON */
#define TW_MAX_MESSAGE_BYTES (4 << 10)     /* a longer message is cut, ending in "…" */
#define TW_MAX_REASON_BYTES 64             /* a reason */
#define TW_MAX_JSON_DEPTH 100              /* nesting in the response; extraFields is one level down */

/* Reasons tw_run sets on the Failed responses it makes itself, as the Go
 * SDK does. */
#define TW_REASON_INVALID_REQUEST "InvalidRequest"
#define TW_REASON_UNSUPPORTED_ABI_VERSION "UnsupportedABIVersion"
#define TW_REASON_INVALID_RESPONSE "InvalidResponse"
#define TW_REASON_RESULTS_TOO_LARGE "ResultsTooLarge"
/* Reasons of the param accessors' failures. */
#define TW_REASON_MISSING_PARAM "MissingParam"
#define TW_REASON_INVALID_PARAM "InvalidParam"
#define TW_REASON_UNEXPECTED_PARAMS "UnexpectedParams"

/* tw_request is the request of the call: root is the whole document (a
 * JSON object; read any field with json_member), params its params,
 * already checked to be a list of {name, value} with a string name and a
 * value that is a string, an array of strings or an object of strings
 * (NULL when the request has none). */
typedef struct {
	const json_value *root;
	const json_value *params;
} tw_request;

/* tw_response is the answer being built; a handler changes it only
 * through the functions below. */
typedef struct tw_response tw_response;

/* tw_handler handles one call: it fills resp, which starts as Failed with
 * reason "Failed" and no message, so a handler that forgets to answer
 * fails visibly. */
typedef void (*tw_handler)(const tw_request *req, tw_response *resp);

/* tw_run serves one call: it reads the request from stdin (refusing it
 * with TW_REASON_INVALID_REQUEST or TW_REASON_UNSUPPORTED_ABI_VERSION
 * without calling h), runs h, validates the response (a reason that is
 * not one CamelCase word or is reserved for the host, or a broken limit,
 * becomes a Failed response saying why) and writes it to stdout. It
 * returns the exit code: 0, or 1 if stdout could not be written. */
int tw_run(tw_handler h);

/* TW_REACTOR(h) defines the reactor's export tekton_run, which serves the
 * call with h. Build with -mexec-model=reactor: wasi-libc's _initialize
 * then runs constructors, ahead of the call. */
#define TW_REACTOR(h)                                                  \
	__attribute__((export_name("tekton_run"))) void tekton_run(void) \
	{                                                                \
		int tw_code_ = tw_run(h);                                \
		if (tw_code_ != 0)                                       \
			_Exit(tw_code_);                                 \
	}

/* The answer. Each sets the status, the reason (a CamelCase word of the
 * plugin's own) and a printf-style message, replacing those set before;
 * tw_fail also drops the results. requeue_ms is how long the host waits
 * before calling again (at least 100ms; never past the deadline). */
void tw_succeed(tw_response *r, const char *reason, const char *format, ...) __attribute__((format(printf, 3, 4)));
void tw_fail(tw_response *r, const char *reason, const char *format, ...) __attribute__((format(printf, 3, 4)));
void tw_running(tw_response *r, const char *reason, uint64_t requeue_ms, const char *format, ...)
	__attribute__((format(printf, 4, 5)));

/* tw_result adds the result name with value[0..len), tw_resultf one with
 * a printf-style value. Results are written on every status; the host
 * keeps them on Succeeded. */
void tw_result(tw_response *r, const char *name, const char *value, size_t len);
void tw_resultf(tw_response *r, const char *name, const char *format, ...) __attribute__((format(printf, 3, 4)));

/* tw_extra_fields sets extraFields to the JSON text json[0..len). It
 * returns 0, or -1 after failing r with TW_REASON_INVALID_RESPONSE when
 * the text is not one JSON value. */
int tw_extra_fields(tw_response *r, const char *json, size_t len);

/* tw_param finds the param name (the first of that name) and checks that
 * its value has the given type (JSON_STRING, JSON_ARRAY or JSON_OBJECT).
 * It returns 1 with *value set; 0 when the param is absent and not
 * required; or -1 after failing r: TW_REASON_MISSING_PARAM when it is
 * absent and required, TW_REASON_INVALID_PARAM when it has another type
 * ("param \"version\" must be a string, not an array"). */
int tw_param(const tw_request *req, tw_response *r, const char *name, json_type type, int required,
	     const json_value **value);

/* tw_param_string is tw_param for a string, giving its text and length. */
int tw_param_string(const tw_request *req, tw_response *r, const char *name, int required, const char **value,
		    size_t *len);

/* tw_only returns 0, or -1 after failing r with
 * TW_REASON_UNEXPECTED_PARAMS when the run passes params not among
 * names[0..n), listing them in order as the Go SDK does (cut to about
 * 1 KiB, ending in " ..."):
 *	unexpected params: [colour size]; this plugin takes [name] */
int tw_only(const tw_request *req, tw_response *r, const char *const *names, size_t n);

/* The HTTP capability (hostabi/README.md, "Host capabilities"), as the Go
 * SDK's guest.DoHTTP. The plugin's manifest must grant it
 * (capabilities.http), else the plugin does not load; a plugin that never
 * calls tw_http_request does not import it (the linker drops it), and
 * needs no grant. */

/* TW_ERRNO_*: what the host functions return (hostabi/README.md,
 * "Errnos"). */
#define TW_ERRNO_INVAL 1
#define TW_ERRNO_FAULT 2
#define TW_ERRNO_DENIED 3
#define TW_ERRNO_TOO_LARGE 4
#define TW_ERRNO_LIMIT 5
#define TW_ERRNO_IO 7
#define TW_ERRNO_NOT_CAPABLE 8

/* tw_http_response is the final response, after the redirects the host
 * followed: any status is a response. headers is JSON text, an object of
 * arrays keyed by canonical header name (read it with json_parse); both
 * buffers are NUL-terminated (body may hold NUL bytes: body_len counts).
 * tw_http_free releases them. */
typedef struct {
	uint32_t status;
	char *headers;
	size_t headers_len;
	char *body;
	size_t body_len;
} tw_http_response;

/* tw_http_request sends one request and reads the whole response into
 * *resp. method NULL or "" is GET; url is an absolute http or https URL
 * whose host the manifest allows; headers_json is NULL or a JSON object
 * of arrays of strings ({"Content-Type": ["application/json"]}); body may
 * be NULL when body_len is 0. It returns 0, or an errno (TW_ERRNO_DENIED
 * for a host the manifest does not allow) with the host's message, which
 * says what to change, in err[0..err_len) (NUL-terminated, cut to fit). */
int tw_http_request(const char *method, const char *url, const char *headers_json, const void *body, size_t body_len,
		    tw_http_response *resp, char *err, size_t err_len);
void tw_http_free(tw_http_response *resp);

/* The Kubernetes capability (hostabi/README.md, "Kubernetes"), as the Go
 * SDK's guest.DoKubernetes. The plugin's manifest must grant it
 * (capabilities.kubernetes, RBAC-shaped rules), else the plugin does not
 * load; a plugin that never calls tw_kubernetes_request does not import
 * it. The host makes each request as the run's ServiceAccount, in the
 * run's namespace. */

/* tw_kubernetes_req is one request, the fields of the request document
 * (hostabi.KubernetesRequest): NULL or "" leaves a string out, 0 limit
 * and force. verb is get, list, create, patch or delete; api_version and
 * kind name the resource as in an object ("tekton.dev/v1",
 * "PipelineRun"); namespace is the run's or NULL; name is required for
 * get, patch and delete, and left out for create and list;
 * label_selector, limit and continue_ are for list; patch_type
 * ("merge", the default, or "apply") for patch; field_manager for create
 * and patch; force for an apply patch. */
typedef struct {
	const char *verb;
	const char *api_version;
	const char *kind;
	const char *namespace_;
	const char *name;
	const char *label_selector;
	int64_t limit;
	const char *continue_;
	const char *patch_type;
	const char *field_manager;
	int force;
} tw_kubernetes_req;

/* tw_kubernetes_response is the apiserver's answer: any status is an
 * answer (200 or 201 success, 403 a request the run's ServiceAccount may
 * not make, 404 no such object, 409 already exists...). body is the
 * object, the list or (for an error) a Status object whose "message"
 * says why, as JSON (read it with json_parse), NUL-terminated;
 * tw_kubernetes_free releases it. */
typedef struct {
	uint32_t status;
	char *body;
	size_t body_len;
} tw_kubernetes_response;

/* tw_kubernetes_request sends *req with body (the object to create, or
 * the patch; NULL when body_len is 0, for get, list and delete) and reads
 * the whole answer into *resp. It returns 0, or an errno with the host's
 * message, which says what to change, in err[0..err_len) (NUL-terminated,
 * cut to fit): TW_ERRNO_DENIED for a request outside the manifest's rules
 * or the run's namespace, TW_ERRNO_INVAL for a bad request or a kind the
 * cluster does not serve, TW_ERRNO_NOT_CAPABLE when the host serves no
 * Kubernetes (tkn-wasm run without --kubeconfig). */
int tw_kubernetes_request(const tw_kubernetes_req *req, const void *body, size_t body_len,
			  tw_kubernetes_response *resp, char *err, size_t err_len);
void tw_kubernetes_free(tw_kubernetes_response *resp);

#endif
