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

// writePKI writes into DIR what it does not hold yet:
//
//	ca.crt ca.key                  the cluster CA (clients trust it)
//	apiserver.crt apiserver.key    serving certificate for 127.0.0.1,
//	                               localhost and the in-cluster service names
//	registry.crt registry.key      the OCI registry's serving certificate,
//	                               for 127.0.0.1 and localhost
//	sa.key sa.pub                  service-account token signing key pair
//
// A certificate is written after its key, and marks the pair complete; a
// directory from an older rig gets the pairs it lacks, signed by its CA.
// Keys are ECDSA P-256: generating them takes microseconds, where RSA-2048
// takes tens of milliseconds.
func writePKI(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	ca, caKey, err := loadOrCreateCA(dir)
	if err != nil {
		return err
	}
	loopback := []net.IP{net.IPv4(127, 0, 0, 1)}
	leaves := []struct {
		name string
		tmpl x509.Certificate
	}{
		{"apiserver", x509.Certificate{
			Subject: pkix.Name{CommonName: "kube-apiserver"},
			DNSNames: []string{"localhost", "kubernetes", "kubernetes.default",
				"kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
			IPAddresses: append(loopback, net.IPv4(10, 0, 0, 1)),
		}},
		{"registry", x509.Certificate{
			Subject:     pkix.Name{CommonName: "registry"},
			DNSNames:    []string{"localhost"},
			IPAddresses: loopback,
		}},
	}
	for i, l := range leaves {
		if exists(filepath.Join(dir, l.name+".crt")) {
			continue
		}
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		tmpl := l.tmpl
		tmpl.SerialNumber = big.NewInt(time.Now().UnixNano() + int64(i))
		tmpl.NotBefore, tmpl.NotAfter = ca.NotBefore, ca.NotAfter
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		der, err := x509.CreateCertificate(rand.Reader, &tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return err
		}
		if err := writeKey(dir, l.name+".key", key); err != nil {
			return err
		}
		if err := writePEM(dir, l.name+".crt", "CERTIFICATE", der); err != nil {
			return err
		}
	}
	if exists(filepath.Join(dir, "sa.pub")) {
		return nil
	}
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	saPub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return err
	}
	if err := writeKey(dir, "sa.key", saKey); err != nil {
		return err
	}
	return writePEM(dir, "sa.pub", "PUBLIC KEY", saPub)
}

// loadOrCreateCA returns DIR's CA, making it (ca.key, then ca.crt) if
// ca.crt is missing.
func loadOrCreateCA(dir string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	if exists(filepath.Join(dir, "ca.crt")) {
		cert, err := readPEM(dir, "ca.crt")
		if err != nil {
			return nil, nil, err
		}
		ca, err := x509.ParseCertificate(cert)
		if err != nil {
			return nil, nil, fmt.Errorf("ca.crt: %w", err)
		}
		key, err := readPEM(dir, "ca.key")
		if err != nil {
			return nil, nil, err
		}
		k, err := x509.ParsePKCS8PrivateKey(key)
		if err != nil {
			return nil, nil, fmt.Errorf("ca.key: %w", err)
		}
		caKey, ok := k.(*ecdsa.PrivateKey)
		if !ok {
			return nil, nil, fmt.Errorf("ca.key is a %T, not the ECDSA key rig makes", k)
		}
		return ca, caKey, nil
	}
	now := time.Now().Add(-time.Hour)
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "tekton-wasm-rig-ca"},
		NotBefore:             now,
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, err
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	if err := writeKey(dir, "ca.key", caKey); err != nil {
		return nil, nil, err
	}
	return ca, caKey, writePEM(dir, "ca.crt", "CERTIFICATE", der)
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

func writeKey(dir, name string, k *ecdsa.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return err
	}
	return writePEM(dir, name, "PRIVATE KEY", der)
}

func writePEM(dir, name, typ string, der []byte) error {
	return os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}

// readPEM returns the DER of the first PEM block of DIR/name.
func readPEM(dir, name string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("%s holds no PEM block", name)
	}
	return block.Bytes, nil
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
