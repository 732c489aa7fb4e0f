// go-tls: the Go side of Benchmarks/compare-tls.sh, standard library only.
//
//	go-tls server     -addr 127.0.0.1:9443 -cert cert.pem -key key.pem
//	go-tls handshakes -addr 127.0.0.1:9443 -ca ca.pem -seconds 5 -c 8
//	go-tls throughput -addr 127.0.0.1:9443 -ca ca.pem -seconds 5 -c 4 -chunk 65536
//
// The server echoes every byte over TLS, a goroutine per connection (run it with
// GOMAXPROCS=1 to compare with one hub). The two client modes are the load generator for
// both servers: "handshakes" opens a new connection per handshake (full handshake, no
// resumption), sends one byte and reads it back, then closes; "throughput" keeps c
// connections echoing chunk-sized writes. Each client prints one line: the rate.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		log.Fatal("usage: go-tls server|handshakes|throughput [flags]")
	}
	mode := os.Args[1]
	flags := flag.NewFlagSet(mode, flag.ExitOnError)
	addr := flags.String("addr", "127.0.0.1:9443", "address")
	cert := flags.String("cert", "", "server certificate chain (PEM)")
	key := flags.String("key", "", "server private key (PEM)")
	ca := flags.String("ca", "", "CA the client trusts (PEM)")
	seconds := flags.Float64("seconds", 5, "how long a client runs")
	conns := flags.Int("c", 8, "concurrent client connections")
	chunk := flags.Int("chunk", 64*1024, "bytes per write (throughput)")
	flags.Parse(os.Args[2:])

	switch mode {
	case "server":
		serve(*addr, *cert, *key)
	case "handshakes", "throughput":
		pem, err := os.ReadFile(*ca)
		if err != nil {
			log.Fatal(err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			log.Fatal("no certificate in ", *ca)
		}
		config := &tls.Config{RootCAs: roots, ServerName: "localhost"}
		duration := time.Duration(*seconds * float64(time.Second))
		if mode == "handshakes" {
			handshakes(*addr, config, duration, *conns)
		} else {
			throughput(*addr, config, duration, *conns, *chunk)
		}
	default:
		log.Fatal("unknown mode ", mode)
	}
}

func serve(addr, cert, key string) {
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		log.Fatal(err)
	}
	listener, err := tls.Listen("tcp", addr, &tls.Config{Certificates: []tls.Certificate{pair}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("go-tls listening on", listener.Addr())
	for {
		conn, err := listener.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go func(conn net.Conn) {
			defer conn.Close()
			buffer := make([]byte, 16*1024)
			for {
				n, err := conn.Read(buffer)
				if n > 0 {
					if _, err := conn.Write(buffer[:n]); err != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}(conn)
	}
}

func handshakes(addr string, config *tls.Config, duration time.Duration, conns int) {
	var done, failed int64
	deadline := time.Now().Add(duration)
	start := time.Now()
	var wait sync.WaitGroup
	for i := 0; i < conns; i++ {
		wait.Add(1)
		go func() {
			defer wait.Done()
			one := []byte{'x'}
			back := make([]byte, 1)
			for time.Now().Before(deadline) {
				conn, err := tls.Dial("tcp", addr, config)
				if err != nil {
					atomic.AddInt64(&failed, 1)
					continue
				}
				if _, err := conn.Write(one); err == nil {
					if _, err := io.ReadFull(conn, back); err == nil {
						atomic.AddInt64(&done, 1)
					} else {
						atomic.AddInt64(&failed, 1)
					}
				}
				conn.Close()
			}
		}()
	}
	wait.Wait()
	elapsed := time.Since(start).Seconds()
	if failed > 0 {
		fmt.Fprintln(os.Stderr, "failed handshakes:", failed)
	}
	fmt.Printf("%.0f\n", float64(done)/elapsed)
}

func throughput(addr string, config *tls.Config, duration time.Duration, conns, chunk int) {
	var received int64
	start := time.Now()
	deadline := start.Add(duration)
	var wait sync.WaitGroup
	for i := 0; i < conns; i++ {
		conn, err := tls.Dial("tcp", addr, config)
		if err != nil {
			log.Fatal(err)
		}
		wait.Add(2)
		go func() {
			defer wait.Done()
			payload := make([]byte, chunk)
			for time.Now().Before(deadline) {
				if _, err := conn.Write(payload); err != nil {
					log.Fatal(err)
				}
			}
			conn.CloseWrite()
		}()
		go func() {
			defer wait.Done()
			buffer := make([]byte, 64*1024)
			for {
				n, err := conn.Read(buffer)
				atomic.AddInt64(&received, int64(n))
				if err != nil {
					return
				}
			}
		}()
	}
	wait.Wait()
	elapsed := time.Since(start).Seconds()
	fmt.Printf("%.1f\n", float64(received)/elapsed/1e6)
}
