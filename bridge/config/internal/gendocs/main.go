// Command gendocs writes bridge/config/example_docs.go: the documentation comments of the
// configuration's fields, read from the source (go generate in bridge/config runs it).
package main

import (
	"flag"
	"log"
	"os"
	"path/filepath"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/config/internal/schemadoc"
)

func main() {
	out := flag.String("o", "example_docs.go", "output file")
	flag.Parse()
	// go generate runs in bridge/config: the module is two directories up.
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		log.Fatal(err)
	}
	src, err := schemadoc.Generate(config.SchemaStructs(), root)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		log.Fatal(err)
	}
}
