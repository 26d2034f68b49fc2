/*
 * semver.h: Semantic Versioning 2.0.0 versions, their precedence, and
 * range constraints in the npm style.
 *
 * Version: [v]MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD] as in semver.org,
 * with an optional leading 'v' or 'V' (git tags). Numbers have no leading
 * zeros and are below 2^63.
 *
 * Constraint grammar (whitespace may surround every token):
 *
 *   constraint := set ( "||" set )*          any set matches
 *   set        := comparator ( [","] comparator )*   all comparators match
 *   comparator := [op] partial
 *   op         := "=" | ">" | ">=" | "<" | "<=" | "~" | "^"
 *   partial    := [v]MAJOR[.MINOR[.PATCH[-PRERELEASE][+BUILD]]]
 *
 * A partial version covers every version it is a prefix of:
 *   1.2 and =1.2  >=1.2.0 <1.3.0      >1.2   >=1.3.0      <=1.2  <1.3.0
 *   1   and =1    >=1.0.0 <2.0.0      >=1.2  >=1.2.0      <1.2   <1.2.0
 * Tilde allows patch updates (minor ones if only MAJOR is given):
 *   ~1.2.3  >=1.2.3 <1.3.0     ~1.2  >=1.2.0 <1.3.0     ~1  >=1.0.0 <2.0.0
 * Caret allows updates that keep the left-most non-zero number:
 *   ^1.2.3  >=1.2.3 <2.0.0     ^0.2.3  >=0.2.3 <0.3.0   ^0.0.3  >=0.0.3 <0.0.4
 *   ^1.2    >=1.2.0 <2.0.0     ^0.2    >=0.2.0 <0.3.0   ^0.0    >=0.0.0 <0.1.0
 *   ^1      >=1.0.0 <2.0.0     ^0      >=0.0.0 <1.0.0
 *
 * Comparisons use semver precedence (build metadata is ignored). As in
 * npm, a version with a prerelease matches a set only if some comparator
 * of that set names a prerelease of the same MAJOR.MINOR.PATCH: so
 * 2.0.0-rc.1 does not match ^1.2 or <2.0.0, but 1.3.0-beta.2 matches
 * >=1.3.0-beta.1.
 */
#ifndef SEMVER_SEMVER_H
#define SEMVER_SEMVER_H

#include <stddef.h>
#include <stdint.h>

/* SEMVER_MAX_LEN bounds the length of a version, SEMVER_MAX_CONSTRAINT
 * that of a constraint, so every message quoting them stays short. */
#define SEMVER_MAX_LEN 256
#define SEMVER_MAX_CONSTRAINT 1024

typedef struct {
	uint64_t major, minor, patch;
	/* The dot-separated prerelease and build identifiers, without their
	 * '-' or '+', pointing into the parsed text; len 0 when absent. */
	const char *pre;
	size_t pre_len;
	const char *build;
	size_t build_len;
} semver;

/* semver_parse parses s[0..len) as a complete version. It returns 0, or
 * -1 with a sentence saying what is wrong written to err (NUL-terminated,
 * truncated to errcap). v points into s. */
int semver_parse(semver *v, const char *s, size_t len, char *err, size_t errcap);

/* semver_compare returns <0, 0 or >0 as a has lower, equal or higher
 * precedence than b. */
int semver_compare(const semver *a, const semver *b);

/* semver_satisfies checks v against the constraint c[0..len). It returns
 * 1 or 0 for whether v satisfies it, or -1 with a sentence in err when
 * the constraint is invalid. The whole constraint is checked even when
 * an early set already matches. */
int semver_satisfies(const semver *v, const char *c, size_t len, char *err, size_t errcap);

#endif
