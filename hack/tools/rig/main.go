// Command rig holds the small chores hack/cluster.sh cannot do portably in
// shell, so the rig needs nothing beyond bash, coreutils and Go (no openssl,
// no curl):
//
//	rig pki DIR            write the cluster's keys and certificates into DIR
//	                       (kept if already there)
//	rig ports N            print N distinct free TCP ports on 127.0.0.1
//	rig wait URL TIMEOUT   poll URL until it answers 200 OK, or fail after
//	                       TIMEOUT (a Go duration); https is not verified
//	                       (loopback only) and $RIG_TOKEN, if set, is sent as
//	                       a bearer token
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "rig:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	usage := errors.New("usage: rig pki DIR | rig ports N | rig wait URL TIMEOUT")
	if len(args) == 0 {
		return usage
	}
	switch cmd, args := args[0], args[1:]; {
	case cmd == "pki" && len(args) == 1:
		return writePKI(args[0])
	case cmd == "ports" && len(args) == 1:
		n, err := strconv.Atoi(args[0])
		if err != nil || n < 1 {
			return fmt.Errorf("ports: %q is not a positive count", args[0])
		}
		return printFreePorts(n)
	case cmd == "wait" && len(args) == 2:
		timeout, err := time.ParseDuration(args[1])
		if err != nil {
			return fmt.Errorf("wait: timeout: %w", err)
		}
		return waitOK(args[0], timeout)
	}
	return usage
}

// writePKI writes, unless DIR/ca.crt already exists:
//
//	ca.crt ca.key                  the cluster CA (clients trust it)
//	apiserver.crt apiserver.key    serving certificate for 127.0.0.1,
//	                               localhost and the in-cluster service names
//	sa.key sa.pub                  service-account token signing key pair
//
// Keys are ECDSA P-256: generating them takes microseconds, where RSA-2048
// takes tens of milliseconds.
func writePKI(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "ca.crt")); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	now := time.Now().Add(-time.Hour)
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "tekton-wasm-rig-ca"},
		NotBefore:             now,
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	srv := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    now,
		NotAfter:     ca.NotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"localhost", "kubernetes", "kubernetes.default",
			"kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv4(10, 0, 0, 1)},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srv, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	saPub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return err
	}
	var keys [3][]byte
	for i, k := range []*ecdsa.PrivateKey{caKey, srvKey, saKey} {
		if keys[i], err = x509.MarshalPKCS8PrivateKey(k); err != nil {
			return err
		}
	}
	files := []struct {
		name, typ string
		der       []byte
	}{
		{"ca.key", "PRIVATE KEY", keys[0]},
		{"apiserver.key", "PRIVATE KEY", keys[1]},
		{"sa.key", "PRIVATE KEY", keys[2]},
		{"sa.pub", "PUBLIC KEY", saPub},
		{"apiserver.crt", "CERTIFICATE", srvDER},
		// ca.crt last: its presence marks a complete directory.
		{"ca.crt", "CERTIFICATE", caDER},
	}
	for _, f := range files {
		data := pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der})
		if err := os.WriteFile(filepath.Join(dir, f.name), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// printFreePorts holds all N listeners open until every port is chosen, so
// the N ports are distinct. Another process may still take a port between
// this call and its use; the rig's callers start at once and fail loudly if
// that happens.
func printFreePorts(n int) error {
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		defer l.Close()
		fmt.Println(l.Addr().(*net.TCPAddr).Port)
	}
	return nil
}

// waitOK polls url every 100 ms until it answers 200 OK.
func waitOK(url string, timeout time.Duration) error {
	client := &http.Client{
		Timeout: 2 * time.Second,
		// Loopback only, to a server whose CA the caller just made.
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
	}
	deadline := time.Now().Add(timeout)
	var last error
	for {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if tok := os.Getenv("RIG_TOKEN"); tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s: %s", resp.Status, body)
		}
		last = err
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s: %w", url, timeout, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
