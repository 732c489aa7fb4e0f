// go-http-client: Go's net/http client side of Benchmarks/compare-http-client.sh. -c
// goroutines share one http.Client (at most -c connections to the host, all kept alive)
// and GET -url -n times in all, reading each body to the end; prints requests/s.
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:8080/", "the URL to GET")
	total := flag.Int("n", 10000, "requests in all")
	concurrency := flag.Int("c", 64, "goroutines (and pooled connections)")
	flag.Parse()

	transport := &http.Transport{MaxIdleConns: *concurrency, MaxIdleConnsPerHost: *concurrency, MaxConnsPerHost: *concurrency}
	client := &http.Client{Transport: transport, Timeout: 30 * time.Second}
	var next int64
	var failures int64
	var wait sync.WaitGroup
	start := time.Now()
	for g := 0; g < *concurrency; g++ {
		wait.Add(1)
		go func() {
			defer wait.Done()
			for atomic.AddInt64(&next, 1) <= int64(*total) {
				response, err := client.Get(*url)
				if err != nil {
					atomic.AddInt64(&failures, 1)
					continue
				}
				io.Copy(io.Discard, response.Body)
				response.Body.Close()
				if response.StatusCode != 200 {
					atomic.AddInt64(&failures, 1)
				}
			}
		}()
	}
	wait.Wait()
	elapsed := time.Since(start).Seconds()
	if failures > 0 {
		fmt.Fprintf(os.Stderr, "go-http-client: %d requests failed\n", failures)
		os.Exit(1)
	}
	fmt.Printf("%.0f\n", float64(*total)/elapsed)
}
