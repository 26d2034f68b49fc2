// Command escape is a hostile plugin: it attacks the workspace it is given
// (the first of the request's workspaces) as its "attack" param says, by
// default the attack of its kind (in parentheses), and reports what the
// host let it do. It is the engine's regression test of package sandboxfs
// and, built by `make hostile`, a module of the hostile e2e and demo.
//
//	links (Escape)   symlink "up" -> "../../../../../../../../..", then read
//	                 the "secret" param's host path (default /etc/hostname)
//	                 and the controller's ServiceAccount token through it,
//	                 list / through it, write the "target" param's host
//	                 path (default /tmp/tekton-wasm-escaped) through it,
//	                 hard-link the secret through it, open
//	                 <workspace>/../../<secret>, and read through every
//	                 symbolic link it finds in the workspace
//	readonly (ReadOnlyWrite)
//	                 create, truncate, append, mkdir, rename, chtimes,
//	                 symlink and unlink in a read-only workspace (WASI
//	                 preview 1 has no chmod: Go's os.Chmod only stats)
//	fds (DescriptorFlood)
//	                 open files and keep them open, up to "max" (100000)
//	fill (WorkspaceFill)
//	                 truncate a file to "max" bytes (1 GiB), write one byte
//	                 at that offset, then write 1 MiB chunks up to "max"
//
// Every attack ends Failed, reason SandboxHeld, with what each step got in
// its message, when the host refused what it should; and Succeeded, reason
// SandboxEscaped, with the same listing, when the host let the plugin do
// any of it.
package main

import (
	"context"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/tekton-wasm/tekton-wasm/hostabi"
	"github.com/tekton-wasm/tekton-wasm/hostabi/guest"
)

func main() {
	guest.Run(func(_ context.Context, req *hostabi.Request) (*hostabi.Response, error) {
		p := guest.Params(req)
		attack, err := p.OptionalString("attack", attacks[req.Kind])
		if err != nil {
			return nil, err
		}
		if len(req.Workspaces) == 0 {
			return nil, guest.Fail("NoWorkspace", "bind a workspace to attack")
		}
		a := &attempts{ws: req.Workspaces[0].Path}
		switch attack {
		case "links":
			secret, _ := p.OptionalString("secret", "/etc/hostname")
			target, _ := p.OptionalString("target", "/tmp/tekton-wasm-escaped")
			a.links(secret, target)
		case "readonly":
			a.readonly()
		case "fds":
			a.fds(param(p, "max", 100000))
		case "fill":
			a.fill(int64(param(p, "max", 1<<30)))
		default:
			return nil, guest.Fail("UnknownAttack", "unknown attack %q", attack)
		}
		resp := &hostabi.Response{Status: hostabi.StatusFailed, Reason: "SandboxHeld", Message: strings.Join(a.log, "\n")}
		if a.escaped {
			resp.Status, resp.Reason = hostabi.StatusSucceeded, "SandboxEscaped"
		}
		return resp, nil
	})
}

// attacks are the default attacks by kind.
var attacks = map[string]string{"Escape": "links", "ReadOnlyWrite": "readonly", "DescriptorFlood": "fds", "WorkspaceFill": "fill"}

func param(p guest.ParamSet, name string, def int) int {
	s, _ := p.OptionalString(name, strconv.Itoa(def))
	n, err := strconv.Atoi(s)
	if err != nil {
		return def
	}
	return n
}

// attempts records each step: "<step>: <error>" when the host refused it,
// "<step>: ALLOWED ..." when it did not.
type attempts struct {
	ws      string
	log     []string
	escaped bool
}

// try records a step that the host must refuse.
func (a *attempts) try(step string, err error, allowed string) {
	if err != nil {
		a.log = append(a.log, step+": "+err.Error())
		return
	}
	a.escaped = true
	a.log = append(a.log, step+": ALLOWED "+allowed)
}

const serviceAccountToken = "/var/run/secrets/kubernetes.io/serviceaccount/token"

func (a *attempts) links(secret, target string) {
	up := path.Join(a.ws, "up")
	a.try("symlink up -> ../../../../../../../../..", os.Symlink("../../../../../../../../..", up), "")
	b, err := os.ReadFile(up + secret)
	a.try("read up"+secret, err, fmt.Sprintf("%q", b))
	b, err = os.ReadFile(up + serviceAccountToken)
	a.try("read up"+serviceAccountToken, err, fmt.Sprintf("%d bytes", len(b)))
	entries, err := os.ReadDir(up)
	a.try("list up", err, fmt.Sprintf("%d entries", len(entries)))
	a.try("write up"+target, os.WriteFile(up+target, []byte("escaped\n"), 0o644), "")
	a.try("link up"+secret, os.Link(up+secret, path.Join(a.ws, "stolen")), "")
	b, err = os.ReadFile(a.ws + "/../.." + secret)
	a.try("read "+a.ws+"/../.."+secret, err, fmt.Sprintf("%q", b))
	a.try("link "+a.ws+"/../.."+secret, os.Link(a.ws+"/../.."+secret, path.Join(a.ws, "stolen2")), "")
	entries, _ = os.ReadDir(a.ws)
	for _, e := range entries {
		if e.Type()&os.ModeSymlink == 0 || e.Name() == "up" {
			continue
		}
		link := path.Join(a.ws, e.Name())
		target, _ := os.Readlink(link)
		found, err := os.ReadDir(link)
		if err == nil {
			a.try("list "+e.Name()+" -> "+target, nil, fmt.Sprintf("%d entries", len(found)))
			continue
		}
		b, err := os.ReadFile(link)
		a.try("read "+e.Name()+" -> "+target, err, fmt.Sprintf("%q", b))
	}
}

func (a *attempts) readonly() {
	p := func(name string) string { return path.Join(a.ws, name) }
	entries, err := os.ReadDir(a.ws)
	if err != nil || len(entries) == 0 {
		a.log = append(a.log, fmt.Sprintf("the read-only workspace must hold a file to attack (%v)", err))
		return
	}
	existing := p(entries[0].Name())
	_, err = os.Create(p("new"))
	a.try("create new", err, "")
	a.try("truncate "+entries[0].Name(), os.Truncate(existing, 0), "")
	f, err := os.OpenFile(existing, os.O_WRONLY|os.O_APPEND, 0)
	if err == nil {
		_, err = f.WriteString("x")
		f.Close()
	}
	a.try("append to "+entries[0].Name(), err, "")
	a.try("mkdir dir", os.Mkdir(p("dir"), 0o755), "")
	a.try("rename "+entries[0].Name(), os.Rename(existing, p("renamed")), "")
	a.try("chtimes "+entries[0].Name(), os.Chtimes(existing, time.Unix(0, 0), time.Unix(0, 0)), "")
	a.try("symlink link", os.Symlink(entries[0].Name(), p("link")), "")
	a.try("unlink "+entries[0].Name(), os.Remove(existing), "")
}

func (a *attempts) fds(max int) {
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	for len(files) < max {
		f, err := os.Open(a.ws)
		if err != nil {
			a.log = append(a.log, fmt.Sprintf("opened %d files, then: %v", len(files), err))
			return
		}
		files = append(files, f)
	}
	a.try(fmt.Sprintf("open %d files", max), nil, "")
}

func (a *attempts) fill(max int64) {
	big := path.Join(a.ws, "big")
	f, err := os.Create(big)
	if err != nil {
		a.log = append(a.log, "create big: "+err.Error())
		return
	}
	defer f.Close()
	a.try(fmt.Sprintf("truncate big to %d bytes", max), f.Truncate(max), "")
	_, err = f.WriteAt([]byte{1}, max)
	a.try(fmt.Sprintf("write 1 byte at offset %d", max), err, "")

	g, err := os.Create(path.Join(a.ws, "fill"))
	if err != nil {
		a.log = append(a.log, "create fill: "+err.Error())
		return
	}
	defer g.Close()
	chunk := make([]byte, 1<<20)
	var written int64
	for written < max {
		n, err := g.Write(chunk)
		written += int64(n)
		if err != nil {
			a.log = append(a.log, fmt.Sprintf("wrote %d bytes, then: %v", written, err))
			return
		}
	}
	a.try(fmt.Sprintf("write %d bytes", written), nil, "")
}
