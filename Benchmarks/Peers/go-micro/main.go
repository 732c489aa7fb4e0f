// Go's side of compare-micro.sh, standard library only. Run with GOMAXPROCS=1.
//
//	go-micro switch [ROUNDS]  two goroutines passing a value over unbuffered channels
//	go-micro spawn  [N]       N goroutines started at once, each yields once, then a WaitGroup
//	go-micro idle   [N]       N goroutines parked on one channel: RSS per goroutine
//
// Each prints one JSON line in the fields compare-micro.sh reads.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func argument(index, fallback int) int {
	if len(os.Args) > index {
		if value, err := strconv.Atoi(os.Args[index]); err == nil && value > 0 {
			return value
		}
	}
	return fallback
}

// residentBytes reads the resident set from /proc/self/statm (its second field, in pages).
func residentBytes() int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(data))
	pages, _ := strconv.ParseInt(fields[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

func pingPong(rounds int) time.Duration {
	there, back := make(chan int), make(chan int)
	go func() {
		for value := range there {
			back <- value + 1
		}
	}()
	start := time.Now()
	for index := 0; index < rounds; index++ {
		there <- index
		<-back
	}
	elapsed := time.Since(start)
	close(there)
	return elapsed
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: go-micro switch|spawn|idle [N]")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "switch":
		rounds := argument(2, 1000000)
		pingPong(10000) // warm up
		elapsed := pingPong(rounds)
		// A round trip is two switches.
		fmt.Printf("{\"bench\":\"switch\",\"impl\":\"go-chan\",\"rounds\":%d,\"gomaxprocs\":%d,\"ns_per_switch\":%.1f}\n",
			rounds, runtime.GOMAXPROCS(0), float64(elapsed.Nanoseconds())/float64(2*rounds))
	case "spawn":
		n := argument(2, 1000000)
		var group sync.WaitGroup
		var counter int64
		start := time.Now()
		group.Add(n)
		for index := 0; index < n; index++ {
			go func() {
				runtime.Gosched()
				atomic.AddInt64(&counter, 1)
				group.Done()
			}()
		}
		group.Wait()
		seconds := time.Since(start).Seconds()
		if counter != int64(n) {
			fmt.Fprintln(os.Stderr, "go-micro spawn: lost a goroutine")
			os.Exit(1)
		}
		fmt.Printf("{\"bench\":\"spawn\",\"impl\":\"go-goroutine\",\"n\":%d,\"secs\":%.3f,\"tasks_per_s\":%.0f,\"peak_rss_kb\":%d}\n",
			n, seconds, float64(n)/seconds, residentBytes()/1024)
	case "idle":
		n := argument(2, 1000000)
		release := make(chan struct{})
		var parked, done sync.WaitGroup
		parked.Add(n)
		done.Add(n)
		runtime.GC()
		before := residentBytes()
		start := time.Now()
		for index := 0; index < n; index++ {
			go func() {
				parked.Done()
				<-release
				done.Done()
			}()
		}
		parked.Wait()
		time.Sleep(50 * time.Millisecond) // the last ones reach the receive
		blocked := residentBytes()
		close(release)
		done.Wait()
		fmt.Printf("{\"bench\":\"idle\",\"impl\":\"go-goroutine\",\"n\":%d,\"rss_before_kb\":%d,\"rss_blocked_kb\":%d,\"bytes_per_task\":%d,\"secs\":%.3f}\n",
			n, before/1024, blocked/1024, (blocked-before)/int64(n), time.Since(start).Seconds())
	default:
		fmt.Fprintln(os.Stderr, "go-micro: unknown case", os.Args[1])
		os.Exit(2)
	}
}
