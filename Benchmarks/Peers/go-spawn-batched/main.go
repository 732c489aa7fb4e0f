// Go spawn+join in batches, the same shape as `weave-micro spawn N BATCH`: BATCH goroutines,
// each yields once (runtime.Gosched) and finishes; a WaitGroup joins the batch; repeated
// until N goroutines have run. BATCH=N is the peers' all-at-once go_spawn shape.
// Usage: go-spawn-batched [N] [BATCH]   (run with GOMAXPROCS=1 to compare with one hub)
// Build: GOFLAGS=-mod=mod GOPROXY=off go build (stdlib only)
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	n, batch := 1000000, 1000
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	if len(os.Args) > 2 {
		batch, _ = strconv.Atoi(os.Args[2])
	}
	if n < 1 || batch < 1 {
		fmt.Fprintln(os.Stderr, "usage: go-spawn-batched [N>0] [BATCH>0]")
		os.Exit(2)
	}
	var wg sync.WaitGroup
	var sum int64
	start := time.Now()
	for done := 0; done < n; {
		k := batch
		if n-done < k {
			k = n - done
		}
		wg.Add(k)
		for i := 0; i < k; i++ {
			go func() {
				runtime.Gosched()
				atomic.AddInt64(&sum, 1)
				wg.Done()
			}()
		}
		wg.Wait()
		done += k
	}
	d := time.Since(start).Seconds()
	if sum != int64(n) {
		panic("lost tasks")
	}
	fmt.Printf("{\"bench\":\"spawn\",\"impl\":\"go-goroutine-batched\",\"n\":%d,\"batch\":%d,\"gomaxprocs\":%d,\"secs\":%.3f,\"tasks_per_s\":%.0f}\n",
		n, batch, runtime.GOMAXPROCS(0), d, float64(n)/d)
}
