/*
 * probe.c: a test plugin that answers what its params ask for, so the C
 * SDK's tests (sdk/c/test) can check every part of a response through the
 * host's engine. It is built as a reactor (CFLAGS) with the SDK's TW_REACTOR.
 *
 * Params (all strings, all optional): status (Succeeded, Failed or
 * Running; default Succeeded), reason, message, requeueMs, extra (the
 * extraFields' JSON text), bigResult (a result "big" of that many bytes),
 * messageBytes (a message of that many 'é' bytes, two each), list (when
 * present, an array param "items" is required and its length is the
 * result "items"); url (send a POST there with body "ping" and header
 * X-Probe: 1, and answer results status, type (the Content-Type) and body;
 * a failed request is Failed, reason HTTPErrno<n>); kube (a verb: send
 * that Kubernetes request for the ConfigMap "cm", each verb with the
 * fields it takes, and answer results status and body; a failed request
 * is Failed, reason KubernetesErrno<n>); and results, an object param of
 * results to add.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tekton_wasm.h"

static const char *const known[] = {"status", "reason", "message", "requeueMs", "extra", "bigResult", "messageBytes", "list", "items", "results", "url", "kube"};

static const char *str(const tw_request *req, tw_response *r, const char *name, const char *def, int *bad)
{
	const char *v;
	size_t len;
	int found = tw_param_string(req, r, name, 0, &v, &len);
	if (found < 0)
		*bad = 1;
	return found == 1 ? v : def;
}

static void fetch(tw_response *r, const char *url)
{
	tw_http_response resp;
	char err[1024];
	int e = tw_http_request("POST", url, "{\"X-Probe\":[\"1\"]}", "ping", 4, &resp, err, sizeof err);
	if (e != 0) {
		char reason[32];
		snprintf(reason, sizeof reason, "HTTPErrno%d", e);
		tw_fail(r, reason, "%s", err);
		return;
	}
	json_doc doc = {0};
	const json_value *type = NULL;
	if (json_parse(&doc, resp.headers, resp.headers_len) == 0)
		type = json_member(doc.root, "Content-Type");
	tw_resultf(r, "status", "%u", resp.status);
	if (type != NULL && type->type == JSON_ARRAY && type->child != NULL)
		tw_result(r, "type", type->child->str, type->child->len);
	tw_result(r, "body", resp.body, resp.body_len);
	tw_succeed(r, "Fetched", "%s", url);
	json_free(&doc);
	tw_http_free(&resp);
}

/* kube sends the request verb for the ConfigMap "cm": get in the
 * namespace "ns" named explicitly; list selecting app=probe, two at a
 * time from "c1"; create with a body naming it and a field manager;
 * patch as a forced server-side apply; delete. */
static void kube(tw_response *r, const char *verb)
{
	tw_kubernetes_req req = {.verb = verb, .api_version = "v1", .kind = "ConfigMap", .name = "cm"};
	const char *body = NULL;
	if (strcmp(verb, "get") == 0)
		req.namespace_ = "ns";
	if (strcmp(verb, "list") == 0) {
		req.name = NULL;
		req.label_selector = "app=probe";
		req.limit = 2;
		req.continue_ = "c1";
	}
	if (strcmp(verb, "create") == 0) {
		req.name = NULL;
		req.field_manager = "probe";
		body = "{\"metadata\":{\"name\":\"cm\"}}";
	}
	if (strcmp(verb, "patch") == 0) {
		req.patch_type = "apply";
		req.field_manager = "probe";
		req.force = 1;
		body = "{\"data\":{\"a\":\"b\"}}";
	}
	tw_kubernetes_response resp;
	char err[1024];
	int e = tw_kubernetes_request(&req, body, body ? strlen(body) : 0, &resp, err, sizeof err);
	if (e != 0) {
		char reason[32];
		snprintf(reason, sizeof reason, "KubernetesErrno%d", e);
		tw_fail(r, reason, "%s", err);
		return;
	}
	tw_resultf(r, "status", "%u", resp.status);
	tw_result(r, "body", resp.body, resp.body_len);
	tw_succeed(r, "Answered", "%s", verb);
	tw_kubernetes_free(&resp);
}

static void handle(const tw_request *req, tw_response *r)
{
	int bad = 0;
	const char *status = str(req, r, "status", "Succeeded", &bad), *reason = str(req, r, "reason", "", &bad),
		   *message = str(req, r, "message", "", &bad), *requeue = str(req, r, "requeueMs", "0", &bad),
		   *extra = str(req, r, "extra", NULL, &bad), *big = str(req, r, "bigResult", NULL, &bad),
		   *mbytes = str(req, r, "messageBytes", NULL, &bad), *list = str(req, r, "list", NULL, &bad),
		   *url = str(req, r, "url", NULL, &bad), *verb = str(req, r, "kube", NULL, &bad);
	const json_value *results = NULL, *items = NULL;
	if (bad || tw_only(req, r, known, sizeof known / sizeof *known) < 0 ||
	    tw_param(req, r, "results", JSON_OBJECT, 0, &results) < 0 ||
	    (list != NULL && tw_param(req, r, "items", JSON_ARRAY, 1, &items) < 0))
		return;
	if (url != NULL) {
		fetch(r, url);
		return;
	}
	if (verb != NULL) {
		kube(r, verb);
		return;
	}
	if (strcmp(status, "Running") == 0)
		tw_running(r, reason, strtoull(requeue, NULL, 10), "%s", message);
	else if (strcmp(status, "Failed") == 0)
		tw_fail(r, reason, "%s", message);
	else
		tw_succeed(r, reason, "%s", message);
	if (mbytes != NULL) {
		size_t n = strtoul(mbytes, NULL, 10) / 2;
		char *m = malloc(2 * n + 1);
		for (size_t i = 0; i < n; i++)
			memcpy(m + 2 * i, "é", 2);
		m[2 * n] = '\0';
		tw_succeed(r, reason, "%s", m);
		free(m);
	}
	for (const json_value *e = results ? results->child : NULL; e != NULL; e = e->next)
		tw_result(r, e->key, e->str, e->len);
	if (items != NULL) {
		size_t n = 0;
		for (const json_value *e = items->child; e != NULL; e = e->next)
			n++;
		tw_resultf(r, "items", "%zu", n);
	}
	if (big != NULL) {
		size_t n = strtoul(big, NULL, 10);
		char *v = malloc(n);
		memset(v, 'x', n);
		tw_result(r, "big", v, n);
		free(v);
	}
	if (extra != NULL)
		tw_extra_fields(r, extra, strlen(extra));
}

TW_REACTOR(handle)
