package workspace

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
)

// checkName returns an *Error (ReasonInvalid) unless n can name a
// workspace (hostabi.ValidWorkspaceName), so /workspace/<n> is a directory
// of its own.
func checkName(n string) *Error {
	if !hostabi.ValidWorkspaceName(n) {
		return invalid(`workspace name %q must be 1 to %d letters, digits, '-', '_' or '.', and not "." or ".."`, n, hostabi.MaxWorkspaceName)
	}
	return nil
}

// checkKey returns why key cannot be a file name, or nil.
func checkKey(key string) error {
	switch {
	case key == "" || key == "." || key == "..":
		return errors.New(`is not a file name (it is empty, "." or "..")`)
	case strings.ContainsAny(key, "/\x00"):
		return errors.New("is not a file name (it contains '/' or NUL)")
	case len(key) > maxName:
		return fmt.Errorf("is longer than %d bytes", maxName)
	}
	return nil
}

// cleanPath returns p cleaned, or why it is not a relative path inside
// the volume. A file may not be the volume itself (".").
func cleanPath(p string, file bool) (string, error) {
	if len(p) > MaxPath {
		return "", fmt.Errorf("is longer than %d bytes", MaxPath)
	}
	if strings.ContainsRune(p, 0) {
		return "", errors.New("must not contain NUL")
	}
	c := path.Clean(p)
	if !filepath.IsLocal(c) || (file && c == ".") {
		if file {
			return "", errors.New("must be a relative path to a file inside the volume")
		}
		return "", errors.New("must be a relative path inside the volume")
	}
	for e := range strings.SplitSeq(c, "/") {
		if len(e) > maxName {
			return "", fmt.Errorf("has a name longer than %d bytes", maxName)
		}
	}
	return c, nil
}

// layout returns an error unless files (clean paths, what says what they
// are) can all be written in one volume that also has the directory
// subPath: no file twice, and no file where a directory must be.
func layout(files []string, what, subPath string) error {
	dirs := map[string]string{} // directory → why it must be one
	need := func(p, why string) {
		for d := p; d != "." && d != ""; d = path.Dir(d) {
			if _, ok := dirs[d]; !ok {
				dirs[d] = why
			}
		}
	}
	if subPath != "" {
		need(subPath, fmt.Sprintf("subPath %q", subPath))
	}
	files = slices.Sorted(slices.Values(files))
	for _, f := range files {
		need(path.Dir(f), fmt.Sprintf("holding %q", f))
	}
	seen := make(map[string]bool, len(files))
	for _, f := range files {
		if seen[f] {
			return fmt.Errorf("two items have the path %q", f)
		}
		seen[f] = true
		if why, ok := dirs[f]; ok {
			return fmt.Errorf("%q is both a file (%s) and a directory (%s)", f, what, why)
		}
	}
	return nil
}

// hostless returns err without the host paths that *fs.PathError and
// *os.LinkError carry: what failed, not where.
func hostless(err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	if le, ok := errors.AsType[*os.LinkError](err); ok {
		return fmt.Errorf("%s: %w", le.Op, le.Err)
	}
	return err
}
