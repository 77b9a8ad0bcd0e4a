// Command stackfns lists the functions of an OpenFaaS stack file, one per line
// as "name<TAB>lang<TAB>handler", sorted by name. It parses the file with
// faas-cli's own stack package (anchors, merge keys, ${VAR:-default}), so
// .ci/shrinkwrap-check sees exactly what `faas-cli build` sees.
//
//	go run ./stackfns ../../../stack.yml
package main

import (
	"fmt"
	"os"
	"sort"

	"github.com/openfaas/faas-cli/stack"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: stackfns STACK_FILE")
		os.Exit(2)
	}
	services, err := stack.ParseYAMLFile(os.Args[1], "", "", true)
	if err != nil {
		fmt.Fprintf(os.Stderr, "stackfns: %v\n", err)
		os.Exit(1)
	}
	names := make([]string, 0, len(services.Functions))
	for name := range services.Functions {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fn := services.Functions[name]
		fmt.Printf("%s\t%s\t%s\n", name, fn.Language, fn.Handler)
	}
}
