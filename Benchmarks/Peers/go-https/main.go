// Go's side of compare-https.sh, standard library only:
//
//	go-https server -addr 127.0.0.1:0 -cert server.pem -key server.key
//	go-https handshakes -addr 127.0.0.1:PORT -ca ca.pem -seconds 5 -c 8
//
// server: net/http over crypto/tls answering every GET / with "Hello, World!" (Content-Length
// 13, as Weave's http-server sample), GOMAXPROCS from the environment (the script sets 1);
// prints "listening on HOST:PORT" once it accepts connections.
// handshakes: C goroutines each, in a loop, open a TCP connection, run a full TLS handshake
// (no session cache, so no resumption), send one `GET /` with `Connection: close`, read the
// answer to its end and close; prints the completed handshakes per second.
package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

var hello = []byte("Hello, World!")

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: go-https server|handshakes [flags]")
	}
	mode := os.Args[1]
	flags := flag.NewFlagSet(mode, flag.ExitOnError)
	addr := flags.String("addr", "127.0.0.1:0", "address to listen on or connect to")
	cert := flags.String("cert", "", "server certificate chain (PEM)")
	key := flags.String("key", "", "server private key (PEM)")
	ca := flags.String("ca", "", "CA certificate the client trusts (PEM)")
	seconds := flags.Int("seconds", 5, "how long the client runs")
	conns := flags.Int("c", 8, "client goroutines")
	flags.Parse(os.Args[2:])
	switch mode {
	case "server":
		serve(*addr, *cert, *key)
	case "handshakes":
		pem, err := os.ReadFile(*ca)
		if err != nil {
			fail("%v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			fail("no certificate in %s", *ca)
		}
		config := &tls.Config{RootCAs: pool, ServerName: "localhost"}
		handshakes(*addr, config, time.Duration(*seconds)*time.Second, *conns)
	default:
		fail("unknown mode %q", mode)
	}
}

func serve(addr, cert, key string) {
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		fail("%v", err)
	}
	listener, err := net.Listen("tcp", addr)
	if err != nil {
		fail("%v", err)
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		header := w.Header()
		header["Content-Type"] = []string{"text/plain"}
		header["Content-Length"] = []string{"13"}
		w.Write(hello)
	})
	server := &http.Server{Handler: handler, TLSConfig: &tls.Config{Certificates: []tls.Certificate{pair}}}
	fmt.Printf("listening on %s\n", listener.Addr())
	os.Stdout.Sync()
	fail("%v", server.ServeTLS(listener, "", ""))
}

// handshakes prints the handshakes per second completed (each with one request) in duration.
func handshakes(addr string, config *tls.Config, duration time.Duration, conns int) {
	var done, failed atomic.Int64
	deadline := time.Now().Add(duration)
	request := []byte("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
	var group sync.WaitGroup
	for i := 0; i < conns; i++ {
		group.Add(1)
		go func() {
			defer group.Done()
			for time.Now().Before(deadline) {
				if err := oneHandshake(addr, config, request); err != nil {
					failed.Add(1)
					continue
				}
				done.Add(1)
			}
		}()
	}
	group.Wait()
	if n := failed.Load(); n > 0 {
		fmt.Fprintf(os.Stderr, "go-https handshakes: %d failed\n", n)
	}
	fmt.Printf("%d\n", done.Load()/int64(duration/time.Second))
}

func oneHandshake(addr string, config *tls.Config, request []byte) error {
	conn, err := tls.Dial("tcp", addr, config)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write(request); err != nil {
		return err
	}
	response, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return err
	}
	defer response.Body.Close()
	if _, err := io.Copy(io.Discard, response.Body); err != nil {
		return err
	}
	if response.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", response.StatusCode)
	}
	return nil
}
