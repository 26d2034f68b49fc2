// Command registry is CNCF Distribution's registry server at the version
// this module requires, built from source for the rig's OCI registry
// (hack/cluster.sh). It links only what the rig uses, the filesystem
// storage driver and htpasswd basic auth, not the cloud storage drivers of
// Distribution's own cmd/registry:
//
//	registry serve CONFIG.yml   Distribution's server
//	registry htpasswd USER      print USER's htpasswd line, for the password
//	                            read from stdin (Distribution takes bcrypt only)
package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/distribution/distribution/v3/registry"
	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	"github.com/spf13/cobra"
	"golang.org/x/crypto/bcrypt"
)

var htpasswdCmd = &cobra.Command{
	Use:   "htpasswd USER",
	Short: "print USER's htpasswd line for the password read from stdin",
	Args:  cobra.ExactArgs(1),
	RunE: func(cmd *cobra.Command, args []string) error {
		b, err := io.ReadAll(io.LimitReader(os.Stdin, 1<<10))
		if err != nil {
			return err
		}
		pass := strings.TrimRight(string(b), "\r\n")
		if pass == "" {
			return fmt.Errorf("no password on stdin")
		}
		// The lowest cost: the registry checks the password on every
		// request, and at the default cost each check takes ~50 ms of CPU.
		// The rig's registry listens on loopback only.
		hash, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s:%s\n", args[0], hash)
		return err
	},
}

func main() {
	registry.RootCmd.AddCommand(htpasswdCmd)
	if err := registry.RootCmd.Execute(); err != nil {
		os.Exit(1)
	}
}
