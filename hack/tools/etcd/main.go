// Command etcd is the etcd server at the version this module requires, built
// from source because the rig has no container images and Debian's etcd is
// too old for the apiserver.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
