// Command floor is the HTTP floor of a load run: a plain net/http server that answers every
// request with 1.5 KB of JSON, as large as the discovery document. What it serves per second on
// one core is what net/http and the kernel allow there; discovery and JWKS are read against it.
//
//	GOMAXPROCS=1 taskset -c 0 go run ./scripts/loadtest/floor -addr 127.0.0.1:18555
package main

import (
	"flag"
	"log"
	"net/http"
	"strings"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18555", "listen address (keep it on 127.0.0.1)")
	flag.Parse()
	body := []byte(`{"pad":"` + strings.Repeat("x", 1489) + `"}`)
	log.Fatal(http.ListenAndServe(*addr, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})))
}
