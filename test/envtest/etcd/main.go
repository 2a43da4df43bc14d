// Command etcd is a thin wrapper around go.etcd.io/etcd/server/v3/etcdmain,
// used only by the hivewall integration-test harness.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
