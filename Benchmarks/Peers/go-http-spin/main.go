// Go's side of compare-cores.sh: the handlers of Weave's http-server sample on net/http,
// standard library only.
//
//	go-http-spin [-host 127.0.0.1] [-port 8080] [-procs N]
//
// GET / answers "Hello, World!"; GET /spin?us=N busy-computes for N µs (1..1000000; a bad or
// missing N gets 400) with the same loop as the sample and answers the 16 hex digits it ends
// on. -procs sets GOMAXPROCS (default: the GOMAXPROCS environment variable, else 2). Prints
// "listening on HOST:PORT" once it accepts connections (-port 0: any free port).
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"time"
)

var (
	hello   = []byte("Hello, World!")
	badSpin = []byte("us must be a whole number of microseconds from 1 to 1000000\n")
)

// spin computes until `us` microseconds have passed on the monotonic clock (time.Since reads
// it), checking it every 256 rounds, and returns the last value.
func spin(us int) uint64 {
	start := time.Now()
	limit := time.Duration(us) * time.Microsecond
	x := uint64(0x9E3779B97F4A7C15) ^ uint64(us)
	for {
		for i := 0; i < 256; i++ {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
		}
		if time.Since(start) >= limit {
			return x
		}
	}
}

// microseconds is the `us` parameter if it is all digits and within 1..1000000.
func microseconds(r *http.Request) (int, bool) {
	text := r.URL.Query().Get("us")
	if text == "" || len(text) > 7 {
		return 0, false
	}
	for _, c := range text {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	value, _ := strconv.Atoi(text)
	return value, value >= 1 && value <= 1000000
}

func handle(w http.ResponseWriter, r *http.Request) {
	header := w.Header()
	header["Content-Type"] = []string{"text/plain"}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/":
		header["Content-Length"] = []string{"13"}
		w.Write(hello)
	case r.Method == http.MethodGet && r.URL.Path == "/spin":
		us, ok := microseconds(r)
		if !ok {
			header["Content-Length"] = []string{strconv.Itoa(len(badSpin))}
			w.WriteHeader(http.StatusBadRequest)
			w.Write(badSpin)
			return
		}
		header["Content-Length"] = []string{"17"}
		fmt.Fprintf(w, "%016x\n", spin(us))
	default:
		http.NotFound(w, r)
	}
}

func main() {
	host := flag.String("host", "127.0.0.1", "address to listen on")
	port := flag.Int("port", 8080, "port to listen on (0: any free port)")
	procs := 2
	if value, err := strconv.Atoi(os.Getenv("GOMAXPROCS")); err == nil && value > 0 {
		procs = value
	}
	flag.IntVar(&procs, "procs", procs, "GOMAXPROCS (default: $GOMAXPROCS, else 2)")
	flag.Parse()
	if procs < 1 {
		fmt.Fprintln(os.Stderr, "-procs must be at least 1")
		os.Exit(2)
	}
	runtime.GOMAXPROCS(procs)
	listener, err := net.Listen("tcp", net.JoinHostPort(*host, strconv.Itoa(*port)))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("listening on %s (GOMAXPROCS=%d)\n", listener.Addr(), runtime.GOMAXPROCS(0))
	os.Stdout.Sync()
	if err := http.Serve(listener, http.HandlerFunc(handle)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
