/* tekton_host.c: the host capabilities, HTTP and Kubernetes; see
 * tw_http_request and tw_kubernetes_request in tekton_wasm.h. Each wrapper
 * is a function of its own, so a plugin imports only the host functions
 * of the wrappers it calls. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tekton_wasm.h"

#define TEKTON_IMPORT(name) __attribute__((import_module("tekton"), import_name(name)))
TEKTON_IMPORT("http_request")
uint32_t tekton_http_request(const char *req, uint32_t req_len, const void *body, uint32_t body_len, uint32_t out[5]);
TEKTON_IMPORT("kubernetes_request")
uint32_t tekton_kubernetes_request(const char *req, uint32_t req_len, const void *body, uint32_t body_len,
				   uint32_t out[3]);
TEKTON_IMPORT("buffer_read") uint32_t tekton_buffer_read(uint32_t handle, void *buf, uint32_t buf_len);
TEKTON_IMPORT("buffer_close") uint32_t tekton_buffer_close(uint32_t handle);
TEKTON_IMPORT("last_error") int32_t tekton_last_error(char *buf, uint32_t buf_len);

/* host_error returns errno after copying the host's message to err. */
static int host_error(uint32_t errno_, char *err, size_t err_len)
{
	if (err_len == 0)
		return (int)errno_;
	int32_t n = tekton_last_error(err, (uint32_t)(err_len - 1));
	size_t len = n < 0 ? 0 : (size_t)n < err_len - 1 ? (size_t)n : err_len - 1;
	err[len] = '\0';
	if (len == 0)
		snprintf(err, err_len, "the host function failed with errno %u", errno_);
	return (int)errno_;
}

/* read_buffer copies the host buffer handle of n bytes into a malloc'd,
 * NUL-terminated *out, and closes it. */
static uint32_t read_buffer(uint32_t handle, uint32_t n, char **out)
{
	*out = calloc(1, (size_t)n + 1);
	if (*out == NULL) {
		fputs("tekton_wasm: out of memory\n", stderr);
		abort();
	}
	if (handle == 0)
		return 0;
	uint32_t e = tekton_buffer_read(handle, *out, n);
	tekton_buffer_close(handle);
	return e;
}

/* open_doc opens a memory stream for a request document. */
static FILE *open_doc(char **doc, size_t *doc_len)
{
	FILE *f = open_memstream(doc, doc_len);
	if (f == NULL) {
		fputs("tekton_wasm: out of memory\n", stderr);
		abort();
	}
	return f;
}

int tw_http_request(const char *method, const char *url, const char *headers_json, const void *body, size_t body_len,
		    tw_http_response *resp, char *err, size_t err_len)
{
	memset(resp, 0, sizeof *resp);
	char *doc = NULL;
	size_t doc_len = 0;
	FILE *f = open_doc(&doc, &doc_len);
	fputs("{\"url\":", f);
	json_write_string(f, url, strlen(url));
	if (method != NULL && method[0] != '\0') {
		fputs(",\"method\":", f);
		json_write_string(f, method, strlen(method));
	}
	if (headers_json != NULL)
		fprintf(f, ",\"headers\":%s", headers_json);
	fputc('}', f);
	fclose(f);
	uint32_t out[5]; /* status, headers handle and length, body handle and length */
	uint32_t e = tekton_http_request(doc, (uint32_t)doc_len, body, (uint32_t)body_len, out);
	free(doc);
	if (e != 0)
		return host_error(e, err, err_len);
	resp->status = out[0];
	resp->headers_len = out[2];
	resp->body_len = out[4];
	if ((e = read_buffer(out[1], out[2], &resp->headers)) != 0 || (e = read_buffer(out[3], out[4], &resp->body)) != 0) {
		tw_http_free(resp);
		return host_error(e, err, err_len);
	}
	return 0;
}

void tw_http_free(tw_http_response *resp)
{
	free(resp->headers);
	free(resp->body);
	memset(resp, 0, sizeof *resp);
}

/* write_field writes ,"key":"value" when value is neither NULL nor "". */
static void write_field(FILE *f, const char *key, const char *value)
{
	if (value == NULL || value[0] == '\0')
		return;
	fprintf(f, ",\"%s\":", key);
	json_write_string(f, value, strlen(value));
}

int tw_kubernetes_request(const tw_kubernetes_req *req, const void *body, size_t body_len,
			  tw_kubernetes_response *resp, char *err, size_t err_len)
{
	memset(resp, 0, sizeof *resp);
	char *doc = NULL;
	size_t doc_len = 0;
	FILE *f = open_doc(&doc, &doc_len);
	fputs("{\"verb\":", f);
	json_write_string(f, req->verb ? req->verb : "", req->verb ? strlen(req->verb) : 0);
	write_field(f, "apiVersion", req->api_version);
	write_field(f, "kind", req->kind);
	write_field(f, "namespace", req->namespace_);
	write_field(f, "name", req->name);
	write_field(f, "labelSelector", req->label_selector);
	if (req->limit != 0)
		fprintf(f, ",\"limit\":%lld", (long long)req->limit);
	write_field(f, "continue", req->continue_);
	write_field(f, "patchType", req->patch_type);
	write_field(f, "fieldManager", req->field_manager);
	if (req->force)
		fputs(",\"force\":true", f);
	fputc('}', f);
	fclose(f);
	uint32_t out[3]; /* status, body handle and length */
	uint32_t e = tekton_kubernetes_request(doc, (uint32_t)doc_len, body, (uint32_t)body_len, out);
	free(doc);
	if (e != 0)
		return host_error(e, err, err_len);
	resp->status = out[0];
	resp->body_len = out[2];
	if ((e = read_buffer(out[1], out[2], &resp->body)) != 0) {
		tw_kubernetes_free(resp);
		return host_error(e, err, err_len);
	}
	return 0;
}

void tw_kubernetes_free(tw_kubernetes_response *resp)
{
	free(resp->body);
	memset(resp, 0, sizeof *resp);
}
