/*
 * tekton_json.h: the C SDK's small, strict JSON (RFC 8259) reader and a string writer, as
 * much as a plugin needs to read its Request and write its Response.
 *
 * json_parse builds a tree of json_value nodes in an arena owned by the
 * json_doc; json_free releases it all. Every read is bounds-checked
 * against the input length (the input need not be NUL-terminated), input
 * must be valid UTF-8, nesting is limited to JSON_MAX_DEPTH, and strings
 * are decoded (escapes, \uXXXX and surrogate pairs) to UTF-8 as Go's
 * encoding/json does, a lone surrogate becoming U+FFFD.
 *
 * Cost: one pass over the input; memory is one json_value per value (32
 * bytes on wasm32) plus the decoded strings, so at worst 16 times the
 * input (for [0,0,0,...]). Running out of memory is a parse error.
 */
#ifndef TEKTON_JSON_H
#define TEKTON_JSON_H

#include <stddef.h>
#include <stdio.h>

/* JSON_MAX_DEPTH bounds the nesting of arrays and objects (and so the
 * parser's recursion). */
#define JSON_MAX_DEPTH 128

typedef enum {
	JSON_NULL,
	JSON_BOOL,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT,
} json_type;

typedef struct json_value json_value;

struct json_value {
	json_type type;
	/* JSON_BOOL: 0 or 1. */
	int boolean;
	/* JSON_STRING: the decoded UTF-8 text, NUL-terminated; it may hold
	 * NUL bytes (from \u0000), so len is authoritative.
	 * JSON_NUMBER: the number's literal text in the input (not
	 * NUL-terminated). */
	const char *str;
	size_t len;
	/* The decoded name of this value when it is an object member, else
	 * NULL. */
	const char *key;
	size_t key_len;
	/* JSON_ARRAY, JSON_OBJECT: the first element or member, in input
	 * order; the rest follow through next. */
	json_value *child;
	json_value *next;
};

struct json_block;

typedef struct {
	/* root is the parsed document when json_parse succeeded. */
	json_value *root;
	/* error describes why json_parse failed; error_at is the byte
	 * offset in the input where it did. */
	char error[96];
	size_t error_at;
	struct json_block *blocks;
} json_doc;

/* json_parse parses text[0..len) as one JSON document (surrounding
 * whitespace allowed) into doc. It returns 0 on success and -1 on error,
 * with doc->error and doc->error_at set (out of memory is an error too).
 * Number nodes point into text, which must outlive doc. Call json_free
 * in both cases. */
int json_parse(json_doc *doc, const char *text, size_t len);

/* json_free releases everything json_parse allocated. */
void json_free(json_doc *doc);

/* json_member returns the member of obj named key (the last one if the
 * name repeats, as Go's encoding/json decides), or NULL when obj is not
 * an object or has no such member. */
const json_value *json_member(const json_value *obj, const char *key);

/* json_equals reports whether v is a string equal to s. */
int json_equals(const json_value *v, const char *s);

/* json_write_string writes s[0..len) to out as a JSON string literal,
 * quotes included: '"', '\\' and control characters are escaped, other
 * bytes are copied (s must be UTF-8). It returns 0, or -1 if out failed. */
int json_write_string(FILE *out, const char *s, size_t len);

#endif
