// Package scaffold writes a new plugin's directory for `tkn-wasm init`:
// the language's templates, rendered, and its SDK beside them in sdk/, so
// the plugin builds with no checkout of this repository and no network.
// Both travel inside the binary, one txtar archive per language
// (LANG.txtar, written by `go generate` from sdk/LANG/template and the
// SDK's sources: internal/scaffold/source), so the SDK a plugin gets is
// the one of the tkn-wasm that wrote it.
package scaffold

//go:generate go run ./gen ../..

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"

	"golang.org/x/tools/txtar"

	"github.com/tekton-wasm/tekton-wasm/internal/scaffold/source"
)

//go:embed *.txtar
var archives embed.FS

// Data is what templates are executed with.
type Data struct {
	// Name is the plugin's name: its directory's, its manifest's, its
	// module's (NAME.wasm).
	Name string
	// Kind and APIVersion are the custom task it serves.
	Kind       string
	APIVersion string
	// Version is the version of the tkn-wasm that writes the plugin, and
	// of its SDK.
	Version string
}

// Languages are the languages with templates in this binary.
func Languages() []string {
	var langs []string
	for _, l := range source.Languages {
		if _, err := fs.Stat(archives, source.ArchiveFile(l.Name)); err == nil {
			langs = append(langs, l.Name)
		}
	}
	return langs
}

// namePattern is what a plugin's name must look like: a DNS label (it
// names a ConfigMap) that is also a Go module path, a Cargo package and an
// npm package.
var namePattern = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)

// checkName says why name cannot name a plugin, if it cannot.
func checkName(name string) error {
	if !namePattern.MatchString(name) {
		return fmt.Errorf("plugin name %q is not lower-case letters, digits and '-', starting with a letter and at most 63 long (it names the module, the ConfigMap and the package); try %q",
			name, suggest(name))
	}
	return nil
}

// kindPattern and apiVersionPattern are what a custom task's kind and
// apiVersion (GROUP/VERSION, the group a DNS subdomain) look like; the
// templates put them in YAML and source code as they are.
var (
	kindPattern       = regexp.MustCompile(`^[A-Z][A-Za-z0-9]{0,62}$`)
	apiVersionPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?/v[0-9]+((alpha|beta)[0-9]+)?$`)
)

// check says what is wrong with d, if anything.
func (d Data) check() error {
	if err := checkName(d.Name); err != nil {
		return err
	}
	if !kindPattern.MatchString(d.Kind) {
		return fmt.Errorf("kind %q is not a Kubernetes kind: a capital letter, then letters and digits, such as MyTask", d.Kind)
	}
	if !apiVersionPattern.MatchString(d.APIVersion) || !strings.Contains(strings.Split(d.APIVersion, "/")[0], ".") {
		return fmt.Errorf("apiVersion %q is not GROUP/VERSION with a domain as the group, such as my-task.example.com/v1alpha1", d.APIVersion)
	}
	return nil
}

// suggest is name made a plugin name, as far as that goes.
func suggest(name string) string {
	s := strings.Trim(regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(name), "-"), "-")
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		s = "plugin-" + s
	}
	return strings.TrimSuffix(s[:min(len(s), 63)], "-")
}

// Kind is the default kind of a plugin named name: its words in
// CamelCase, my-task → MyTask.
func Kind(name string) string {
	var b strings.Builder
	for _, w := range strings.Split(name, "-") {
		if w != "" {
			b.WriteString(strings.ToUpper(w[:1]) + w[1:])
		}
	}
	return b.String()
}

// Write writes the plugin of language lang into dir, which must not exist
// or be empty: each template file rendered with d (a .tmpl suffix
// dropped), the SDK's files into dir/sdk. It returns the files written,
// relative to dir.
func Write(dir, lang string, d Data) ([]string, error) {
	b, err := archives.ReadFile(source.ArchiveFile(lang))
	if err != nil {
		return nil, fmt.Errorf("no language %q; use one of %s", lang, strings.Join(Languages(), ", "))
	}
	if err := d.check(); err != nil {
		return nil, err
	}
	switch entries, err := os.ReadDir(dir); {
	case err == nil && len(entries) > 0:
		return nil, fmt.Errorf("%s exists and is not empty; give another name or remove it", dir)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	var written []string
	for _, f := range txtar.Parse(b).Files {
		name, data := f.Name, f.Data
		switch {
		case strings.HasPrefix(name, source.TemplatePrefix):
			name = strings.TrimPrefix(name, source.TemplatePrefix)
			if strings.HasSuffix(name, ".tmpl") {
				name = strings.TrimSuffix(name, ".tmpl")
				if data, err = render(name, data, d); err != nil {
					return written, err
				}
			}
		case strings.HasPrefix(name, source.SDKPrefix):
		default:
			return written, fmt.Errorf("%s: file %s is neither a template nor the SDK's", source.ArchiveFile(lang), name)
		}
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return written, err
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return written, err
		}
		written = append(written, name)
	}
	return written, nil
}

// render executes the template text of file name with d.
func render(name string, text []byte, d Data) ([]byte, error) {
	t, err := template.New(name).Option("missingkey=error").Parse(string(text))
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", name, err)
	}
	var b strings.Builder
	if err := t.Execute(&b, d); err != nil {
		return nil, fmt.Errorf("template %s: %w", name, err)
	}
	return []byte(b.String()), nil
}
