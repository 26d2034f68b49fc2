//go:build ignore

/* semver.c: see semver.h. */
#include "semver.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Numbers must be below 2^63, so the next number up always fits. */
#define NUMBER_LIMIT ((uint64_t)1 << 63)

static int errf(char *err, size_t cap, const char *format, ...)
{
	va_list ap;
	va_start(ap, format);
	vsnprintf(err, cap, format, ap);
	va_end(ap);
	return -1;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static int is_ident_char(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

static int all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_digit(s[i]))
			return 0;
	return 1;
}

/* describe writes a short description of the byte at p (or the end). */
static const char *describe(const char *p, const char *end, char buf[16])
{
	if (p >= end)
		return "the end";
	unsigned char c = (unsigned char)*p;
	if (c > 0x20 && c < 0x7f)
		snprintf(buf, 16, "'%c'", c);
	else
		snprintf(buf, 16, "byte 0x%02x", c);
	return buf;
}

/* parse_number reads a number without leading zeros below NUMBER_LIMIT. */
static int parse_number(const char **s, const char *end, uint64_t *out, const char *what, char *err, size_t cap)
{
	const char *p = *s;
	uint64_t n = 0;
	if (p >= end)
		return errf(err, cap, "%s is missing", what);
	if (!is_digit(*p)) {
		char b[16];
		const char *hint = *p == 'x' || *p == 'X' || *p == '*'
			? " (wildcards are not supported: write 1.2 for 1.2.x)" : "";
		return errf(err, cap, "%s must be a number, not %s%s", what, describe(p, end, b), hint);
	}
	if (*p == '0' && p + 1 < end && is_digit(p[1]))
		return errf(err, cap, "%s has a leading zero", what);
	for (; p < end && is_digit(*p); p++) {
		n = n * 10 + (uint64_t)(*p - '0');
		if (n >= NUMBER_LIMIT)
			return errf(err, cap, "%s is too large (2^63 or more)", what);
	}
	*out = n;
	*s = p;
	return 0;
}

/* parse_identifiers reads dot-separated, non-empty identifiers of
 * [0-9A-Za-z-]; numeric ones may not have leading zeros if strict. */
static int parse_identifiers(const char **s, const char *end, const char **out, size_t *out_len,
			     const char *what, int strict, char *err, size_t cap)
{
	const char *p = *s;
	for (int i = 1;; i++, p++) {
		const char *id = p;
		while (p < end && is_ident_char(*p))
			p++;
		size_t n = (size_t)(p - id);
		if (n == 0) {
			char b[16];
			return errf(err, cap, "%s identifier %d is empty (found %s)", what, i, describe(p, end, b));
		}
		if (strict && n > 1 && *id == '0' && all_digits(id, n))
			return errf(err, cap, "%s identifier \"%.*s\" is a number with a leading zero", what, (int)n, id);
		if (p >= end || *p != '.')
			break;
	}
	*out = *s;
	*out_len = (size_t)(p - *s);
	*s = p;
	return 0;
}

/* parse_partial reads [v]MAJOR[.MINOR[.PATCH[-PRERELEASE][+BUILD]]] at
 * *s, stopping at the first byte that cannot continue it. It returns how
 * many of MAJOR, MINOR and PATCH it read (those left out are 0), or -1. */
static int parse_partial(const char **s, const char *end, semver *v, char *err, size_t cap)
{
	static const char *const names[] = {"MAJOR", "MINOR", "PATCH"};
	uint64_t *const numbers[] = {&v->major, &v->minor, &v->patch};
	const char *p = *s;
	memset(v, 0, sizeof *v);
	if (p < end && (*p == 'v' || *p == 'V'))
		p++;
	int parts = 0;
	while (parts < 3) {
		if (parse_number(&p, end, numbers[parts], names[parts], err, cap) < 0)
			return -1;
		if (++parts == 3 || p >= end || *p != '.')
			break;
		p++;
	}
	if (parts == 3 && p < end && *p == '-') {
		p++;
		if (parse_identifiers(&p, end, &v->pre, &v->pre_len, "prerelease", 1, err, cap) < 0)
			return -1;
	}
	if (parts == 3 && p < end && *p == '+') {
		p++;
		if (parse_identifiers(&p, end, &v->build, &v->build_len, "build", 0, err, cap) < 0)
			return -1;
	}
	*s = p;
	return parts;
}

int semver_parse(semver *v, const char *s, size_t len, char *err, size_t errcap)
{
	if (len > SEMVER_MAX_LEN)
		return errf(err, errcap, "it is %zu bytes long; the limit is %d", len, SEMVER_MAX_LEN);
	const char *p = s, *end = s + len;
	int parts = parse_partial(&p, end, v, err, errcap);
	if (parts < 0)
		return -1;
	if (parts < 3)
		return errf(err, errcap, "want MAJOR.MINOR.PATCH, such as 1.2.3");
	if (p < end) {
		char b[16];
		const char *hint = v->pre_len > 0 || v->build_len > 0 ? "; prerelease and build identifiers use only [0-9A-Za-z-]" : "";
		return errf(err, errcap, "invalid character %s at byte %zu%s", describe(p, end, b), (size_t)(p - s), hint);
	}
	return 0;
}

static int compare_numbers(uint64_t a, uint64_t b) { return (a > b) - (a < b); }

/* compare_identifier compares two prerelease identifiers: numeric ones
 * numerically (they have no leading zeros, so longer is larger), numeric
 * below alphanumeric, alphanumeric ones in ASCII order. */
static int compare_identifier(const char *a, size_t an, const char *b, size_t bn)
{
	int anum = all_digits(a, an), bnum = all_digits(b, bn);
	if (anum != bnum)
		return anum ? -1 : 1;
	if (anum && an != bn)
		return an < bn ? -1 : 1;
	int c = memcmp(a, b, an < bn ? an : bn);
	if (c != 0)
		return c < 0 ? -1 : 1;
	return compare_numbers(an, bn);
}

int semver_compare(const semver *a, const semver *b)
{
	int c = compare_numbers(a->major, b->major);
	if (c == 0)
		c = compare_numbers(a->minor, b->minor);
	if (c == 0)
		c = compare_numbers(a->patch, b->patch);
	if (c != 0)
		return c;
	/* A prerelease is below the release. */
	if (a->pre_len == 0 || b->pre_len == 0)
		return (a->pre_len == 0) - (b->pre_len == 0);
	const char *p = a->pre, *pe = a->pre + a->pre_len;
	const char *q = b->pre, *qe = b->pre + b->pre_len;
	for (;;) {
		const char *pd = memchr(p, '.', (size_t)(pe - p)), *qd = memchr(q, '.', (size_t)(qe - q));
		const char *pi = pd ? pd : pe, *qi = qd ? qd : qe;
		c = compare_identifier(p, (size_t)(pi - p), q, (size_t)(qi - q));
		if (c != 0)
			return c;
		if (pd == NULL || qd == NULL) /* the one with more identifiers is higher */
			return (pd != NULL) - (qd != NULL);
		p = pd + 1;
		q = qd + 1;
	}
}

typedef enum { OP_EQ, OP_LT, OP_LE, OP_GT, OP_GE, OP_TILDE, OP_CARET } op;

/* bound is one primitive comparison a comparator expands to. */
typedef struct {
	op op; /* OP_EQ, OP_LT, OP_LE, OP_GT or OP_GE */
	semver v;
} bound;

/* next_up is the lowest release above every version starting with
 * v's numbers up to index (0 MAJOR, 1 MINOR, 2 PATCH): 1.2.3 at 1 is
 * 1.3.0. */
static semver next_up(const semver *v, int index)
{
	semver r = {.major = v->major, .minor = v->minor, .patch = v->patch};
	switch (index) {
	case 0: r.major++; r.minor = 0; r.patch = 0; break;
	case 1: r.minor++; r.patch = 0; break;
	default: r.patch++; break;
	}
	return r;
}

/* expand turns a comparator on a partial version with parts numbers into
 * at most two bounds (see semver.h); it returns how many. */
static int expand(op o, const semver *v, int parts, bound out[2])
{
	const int last = parts - 1;
	out[0].v = *v;
	switch (o) {
	case OP_EQ:
		if (parts == 3) {
			out[0].op = OP_EQ;
			return 1;
		}
		out[0].op = OP_GE;
		out[1] = (bound){OP_LT, next_up(v, last)};
		return 2;
	case OP_GT: /* >1.2 is >=1.3.0 */
	case OP_LE: /* <=1.2 is <1.3.0 */
		if (parts == 3) {
			out[0].op = o;
			return 1;
		}
		out[0] = (bound){o == OP_GT ? OP_GE : OP_LT, next_up(v, last)};
		return 1;
	case OP_GE:
	case OP_LT:
		out[0].op = o;
		return 1;
	case OP_TILDE:
		out[0].op = OP_GE;
		out[1] = (bound){OP_LT, next_up(v, parts == 1 ? 0 : 1)};
		return 2;
	case OP_CARET: {
		int keep = v->major != 0 || parts == 1 ? 0 : v->minor != 0 || parts == 2 ? 1 : 2;
		out[0].op = OP_GE;
		out[1] = (bound){OP_LT, next_up(v, keep)};
		return 2;
	}
	}
	return 0;
}

static int holds(const semver *v, const bound *b)
{
	int c = semver_compare(v, &b->v);
	switch (b->op) {
	case OP_EQ: return c == 0;
	case OP_LT: return c < 0;
	case OP_LE: return c <= 0;
	case OP_GT: return c > 0;
	case OP_GE: return c >= 0;
	default: return 0;
	}
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static const char *skip_space(const char *p, const char *end)
{
	while (p < end && is_space(*p))
		p++;
	return p;
}

/* parse_op reads an operator, if any; no operator means OP_EQ. */
static op parse_op(const char **s, const char *end)
{
	const char *p = *s;
	op o = OP_EQ;
	if (p < end) {
		switch (*p) {
		case '=': p++; break;
		case '~': o = OP_TILDE; p++; break;
		case '^': o = OP_CARET; p++; break;
		case '<':
		case '>':
			o = *p == '<' ? OP_LT : OP_GT;
			if (++p < end && *p == '=') {
				o = o == OP_LT ? OP_LE : OP_GE;
				p++;
			}
			break;
		}
	}
	*s = p;
	return o;
}

/* comparator_error reports a bad comparator quoting it, from start up to
 * the next separator. */
static int comparator_error(const char *start, const char *end, const char *why, char *err, size_t cap)
{
	const char *p = start;
	while (p < end && !is_space(*p) && *p != ',' && *p != '|')
		p++;
	if (p == start)
		return errf(err, cap, "%s", why);
	return errf(err, cap, "in \"%.*s\": %s", (int)(p - start), start, why);
}

int semver_satisfies(const semver *v, const char *c, size_t len, char *err, size_t errcap)
{
	if (len > SEMVER_MAX_CONSTRAINT)
		return errf(err, errcap, "it is %zu bytes long; the limit is %d", len, SEMVER_MAX_CONSTRAINT);
	const char *p = c, *end = c + len;
	int satisfied = 0;
	for (int set = 1;; set++) {
		int all = 1, prerelease_allowed = v->pre_len == 0, comparators = 0;
		for (;;) {
			p = skip_space(p, end);
			if (comparators > 0 && p < end && *p == ',') {
				p = skip_space(p + 1, end);
				if (p >= end || *p == ',' || *p == '|')
					return errf(err, errcap, "a ',' must be followed by a comparator");
			}
			if (p >= end || *p == '|')
				break;
			const char *start = p;
			op o = parse_op(&p, end);
			p = skip_space(p, end);
			semver cv;
			char why[128];
			int parts = parse_partial(&p, end, &cv, why, sizeof why);
			if (parts < 0)
				return comparator_error(start, end, why, err, errcap);
			if (p < end && !is_space(*p) && *p != ',' && *p != '|') {
				char b[16];
				snprintf(why, sizeof why, "invalid character %s", describe(p, end, b));
				return comparator_error(start, end, why, err, errcap);
			}
			bound bounds[2];
			for (int i = 0, n = expand(o, &cv, parts, bounds); i < n; i++) {
				all &= holds(v, &bounds[i]);
				const semver *b = &bounds[i].v;
				if (b->pre_len > 0 && b->major == v->major && b->minor == v->minor && b->patch == v->patch)
					prerelease_allowed = 1;
			}
			comparators++;
		}
		if (comparators == 0)
			return errf(err, errcap, set == 1 && p >= end ? "it is empty" : "alternative %d of the '||' is empty", set);
		satisfied |= all && prerelease_allowed;
		if (p >= end)
			return satisfied;
		if (p + 1 >= end || p[1] != '|')
			return errf(err, errcap, "a single '|' at byte %zu; write '||' between alternatives", (size_t)(p - c));
		p += 2;
	}
}
