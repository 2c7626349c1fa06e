package main

import (
	"log"
	"net/http"
	_ "net/http/pprof"
	"os"
)

// The profiles of net/http/pprof are served on their own loopback address
// (PPROF_ADDR), away from the API; golsp-leaks scan reads them there.
func init() {
	addr := setting("PPROF_ADDR", "127.0.0.1:6060")
	go func() {
		log.Println(http.ListenAndServe(addr, nil))
	}()
}

// setting is the value of the environment variable key, else fallback.
func setting(key, fallback string) string {
	if addr := os.Getenv(key); addr != "" {
		return addr
	}
	return fallback
}
