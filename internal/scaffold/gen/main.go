// Command gen writes internal/scaffold's archives (internal/scaffold/source)
// from the repository whose root is its argument: `go generate
// ./internal/scaffold`. A language without templates has no archive.
package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/tekton-wasm/tekton-wasm/internal/scaffold/source"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gen REPOSITORY-ROOT (run go generate ./internal/scaffold)")
		os.Exit(2)
	}
	for _, l := range source.Languages {
		a, err := source.Archive(os.Args[1], l)
		if err == nil && a == nil {
			err = os.Remove(source.ArchiveFile(l.Name))
			if errors.Is(err, fs.ErrNotExist) {
				err = nil
			}
		} else if err == nil {
			err = os.WriteFile(source.ArchiveFile(l.Name), a, 0o644)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "gen: %s: %v\n", l.Name, err)
			os.Exit(1)
		}
	}
}
