/* tekton_json.c: see tekton_json.h. */
#include "tekton_json.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The arena: nodes and decoded strings are carved out of blocks of at
 * least BLOCK_BYTES, freed together by json_free. */
#define BLOCK_BYTES 4096

struct json_block {
	struct json_block *next;
	size_t used, cap;
	max_align_t data[];
};

static void *arena_alloc(json_doc *doc, size_t n)
{
	if (n > SIZE_MAX / 2)
		return NULL;
	n = (n + 7) & ~(size_t)7;
	struct json_block *b = doc->blocks;
	if (b == NULL || b->cap - b->used < n) {
		size_t cap = n > BLOCK_BYTES ? n : BLOCK_BYTES;
		b = malloc(sizeof *b + cap);
		if (b == NULL)
			return NULL;
		b->next = doc->blocks;
		b->used = 0;
		b->cap = cap;
		doc->blocks = b;
	}
	void *p = (char *)b->data + b->used;
	b->used += n;
	return p;
}

void json_free(json_doc *doc)
{
	while (doc->blocks != NULL) {
		struct json_block *next = doc->blocks->next;
		free(doc->blocks);
		doc->blocks = next;
	}
	doc->root = NULL;
}

typedef struct {
	const unsigned char *start, *p, *end;
	json_doc *doc;
	int depth;
} parser;

/* The parser recurses through parse_value and parse_container only; the
 * helpers they call are kept out of line so that each level of nesting
 * costs a small stack frame (wasm32's shadow stack is 64 KiB). */
#define OUT_OF_LINE __attribute__((noinline))

/* fail records the first error at the current position and returns -1. */
OUT_OF_LINE static int fail(parser *ps, const char *format, ...)
{
	va_list ap;
	va_start(ap, format);
	vsnprintf(ps->doc->error, sizeof ps->doc->error, format, ap);
	va_end(ap);
	ps->doc->error_at = (size_t)(ps->p - ps->start);
	return -1;
}

/* unexpected fails on the byte at the current position (or the end). */
OUT_OF_LINE static int unexpected(parser *ps, const char *context)
{
	if (ps->p >= ps->end)
		return fail(ps, "unexpected end of input %s", context);
	unsigned c = *ps->p;
	if (c >= 0x20 && c < 0x7f)
		return fail(ps, "invalid character '%c' %s", (int)c, context);
	return fail(ps, "invalid byte 0x%02x %s", c, context);
}

OUT_OF_LINE static json_value *new_value(parser *ps, json_type type)
{
	json_value *v = arena_alloc(ps->doc, sizeof *v);
	if (v == NULL) {
		fail(ps, "out of memory");
		return NULL;
	}
	memset(v, 0, sizeof *v);
	v->type = type;
	return v;
}

static void skip_space(parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static int is_digit(unsigned c) { return c >= '0' && c <= '9'; }

/* digits consumes one or more digits. */
static int digits(parser *ps, const char *context)
{
	if (ps->p >= ps->end || !is_digit(*ps->p))
		return unexpected(ps, context);
	while (ps->p < ps->end && is_digit(*ps->p))
		ps->p++;
	return 0;
}

OUT_OF_LINE static int parse_number(parser *ps, json_value *v)
{
	const unsigned char *s = ps->p;
	if (*ps->p == '-')
		ps->p++;
	if (ps->p < ps->end && *ps->p == '0')
		ps->p++;
	else if (digits(ps, "in a number") < 0)
		return -1;
	if (ps->p < ps->end && *ps->p == '.') {
		ps->p++;
		if (digits(ps, "after the decimal point in a number") < 0)
			return -1;
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
		ps->p++;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		if (digits(ps, "in the exponent of a number") < 0)
			return -1;
	}
	v->str = (const char *)s;
	v->len = (size_t)(ps->p - s);
	return 0;
}

/* utf8_length returns the length of the valid UTF-8 sequence at s (at
 * most n bytes available), or 0 if there is none: no overlong forms, no
 * surrogates, nothing above U+10FFFF. */
static size_t utf8_length(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	unsigned lo = 0x80, hi = 0xBF; /* range of the second byte */
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else
		return 0;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return len;
}

static size_t utf8_encode(unsigned cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* hex4 reads the 4 hex digits of a \u escape at s, which must end before
 * end; it returns the code unit or -1. */
static long hex4(const unsigned char *s, const unsigned char *end)
{
	if (end - s < 4)
		return -1;
	long v = 0;
	for (int i = 0; i < 4; i++) {
		unsigned c = s[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/* parse_string decodes the string literal at the current position (which
 * is '"') into the arena. The decoded text is never longer than the
 * literal: an escape of n bytes decodes to at most n-2 (\uXXXX to 3,
 * a surrogate pair of 12 to 4). */
OUT_OF_LINE static int parse_string(parser *ps, const char **out, size_t *out_len)
{
	const unsigned char *p = ++ps->p, *q = p;
	while (q < ps->end && *q != '"')
		q += *q == '\\' ? 2 : 1;
	if (q >= ps->end) {
		ps->p = ps->end;
		return unexpected(ps, "in a string");
	}
	/* q is the closing quote; every escape lies wholly before it. */
	char *buf = arena_alloc(ps->doc, (size_t)(q - p) + 1);
	if (buf == NULL)
		return fail(ps, "out of memory");
	size_t n = 0;
	while (p < q) {
		unsigned c = *p;
		ps->p = p;
		if (c < 0x20)
			return fail(ps, "invalid control character 0x%02x in a string; escape it", c);
		if (c >= 0x80) {
			size_t len = utf8_length(p, (size_t)(q - p));
			if (len == 0)
				return fail(ps, "invalid UTF-8 in a string");
			memcpy(buf + n, p, len);
			n += len;
			p += len;
			continue;
		}
		if (c != '\\') {
			buf[n++] = (char)c;
			p++;
			continue;
		}
		switch (p[1]) {
		case '"': buf[n++] = '"'; break;
		case '\\': buf[n++] = '\\'; break;
		case '/': buf[n++] = '/'; break;
		case 'b': buf[n++] = '\b'; break;
		case 'f': buf[n++] = '\f'; break;
		case 'n': buf[n++] = '\n'; break;
		case 'r': buf[n++] = '\r'; break;
		case 't': buf[n++] = '\t'; break;
		case 'u': {
			long cp = hex4(p + 2, q);
			if (cp < 0)
				return fail(ps, "invalid \\u escape in a string; want 4 hex digits");
			p += 6;
			if (cp >= 0xD800 && cp <= 0xDBFF && q - p >= 6 && p[0] == '\\' && p[1] == 'u') {
				long lo = hex4(p + 2, q);
				if (lo >= 0xDC00 && lo <= 0xDFFF) {
					cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
					p += 6;
				}
			}
			if (cp >= 0xD800 && cp <= 0xDFFF)
				cp = 0xFFFD; /* a lone surrogate, as Go decodes it */
			n += utf8_encode((unsigned)cp, buf + n);
			continue;
		}
		default:
			return fail(ps, "invalid escape '\\%c' in a string", p[1] >= 0x20 && p[1] < 0x7f ? p[1] : '?');
		}
		p += 2;
	}
	buf[n] = '\0';
	*out = buf;
	*out_len = n;
	ps->p = q + 1;
	return 0;
}

static int parse_value(parser *ps, json_value **out);

/* parse_container parses the elements of an array or the members of an
 * object; the current position is just after the opening bracket. */
static int parse_container(parser *ps, json_value *v)
{
	const int object = v->type == JSON_OBJECT;
	const unsigned char close = object ? '}' : ']';
	if (++ps->depth > JSON_MAX_DEPTH)
		return fail(ps, "arrays and objects nest deeper than %d levels", JSON_MAX_DEPTH);
	json_value **tail = &v->child;
	skip_space(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		ps->depth--;
		return 0;
	}
	for (;;) {
		const char *key = NULL;
		size_t key_len = 0;
		if (object) {
			skip_space(ps);
			if (ps->p >= ps->end || *ps->p != '"')
				return unexpected(ps, "looking for the beginning of an object key");
			if (parse_string(ps, &key, &key_len) < 0)
				return -1;
			skip_space(ps);
			if (ps->p >= ps->end || *ps->p != ':')
				return unexpected(ps, "after an object key");
			ps->p++;
		}
		if (parse_value(ps, tail) < 0)
			return -1;
		(*tail)->key = key;
		(*tail)->key_len = key_len;
		tail = &(*tail)->next;
		skip_space(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == close) {
			ps->p++;
			ps->depth--;
			return 0;
		}
		return unexpected(ps, object ? "after an object member" : "after an array element");
	}
}

OUT_OF_LINE static int parse_literal(parser *ps, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return fail(ps, "invalid literal; want %s", word);
	ps->p += n;
	return 0;
}

static int parse_value(parser *ps, json_value **out)
{
	skip_space(ps);
	if (ps->p >= ps->end)
		return unexpected(ps, "looking for the beginning of a value");
	json_value *v;
	switch (*ps->p) {
	case '{':
	case '[':
		if ((v = new_value(ps, *ps->p == '{' ? JSON_OBJECT : JSON_ARRAY)) == NULL)
			return -1;
		ps->p++;
		*out = v;
		return parse_container(ps, v);
	case '"':
		if ((v = new_value(ps, JSON_STRING)) == NULL)
			return -1;
		*out = v;
		return parse_string(ps, &v->str, &v->len);
	case 't':
	case 'f':
		if ((v = new_value(ps, JSON_BOOL)) == NULL)
			return -1;
		v->boolean = *ps->p == 't';
		*out = v;
		return parse_literal(ps, v->boolean ? "true" : "false");
	case 'n':
		if ((v = new_value(ps, JSON_NULL)) == NULL)
			return -1;
		*out = v;
		return parse_literal(ps, "null");
	default:
		if (*ps->p != '-' && !is_digit(*ps->p))
			return unexpected(ps, "looking for the beginning of a value");
		if ((v = new_value(ps, JSON_NUMBER)) == NULL)
			return -1;
		*out = v;
		return parse_number(ps, v);
	}
}

int json_parse(json_doc *doc, const char *text, size_t len)
{
	memset(doc, 0, sizeof *doc);
	parser ps = {
		.start = (const unsigned char *)text,
		.p = (const unsigned char *)text,
		.end = (const unsigned char *)text + len,
		.doc = doc,
	};
	json_value *root = NULL;
	if (parse_value(&ps, &root) < 0)
		return -1;
	skip_space(&ps);
	if (ps.p != ps.end)
		return unexpected(&ps, "after the top-level value");
	doc->root = root;
	return 0;
}

const json_value *json_member(const json_value *obj, const char *key)
{
	if (obj == NULL || obj->type != JSON_OBJECT)
		return NULL;
	size_t n = strlen(key);
	const json_value *found = NULL;
	for (const json_value *m = obj->child; m != NULL; m = m->next)
		if (m->key_len == n && memcmp(m->key, key, n) == 0)
			found = m;
	return found;
}

int json_equals(const json_value *v, const char *s)
{
	return v != NULL && v->type == JSON_STRING && v->len == strlen(s) && memcmp(v->str, s, v->len) == 0;
}

int json_write_string(FILE *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	fputc('"', out);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '"': fputs("\\\"", out); break;
		case '\\': fputs("\\\\", out); break;
		case '\n': fputs("\\n", out); break;
		case '\r': fputs("\\r", out); break;
		case '\t': fputs("\\t", out); break;
		default:
			if (c < 0x20) {
				fputs("\\u00", out);
				fputc(hex[c >> 4], out);
				fputc(hex[c & 0xF], out);
			} else
				fputc(c, out);
		}
	}
	fputc('"', out);
	return ferror(out) ? -1 : 0;
}
