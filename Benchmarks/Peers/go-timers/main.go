// Go's timers in the shapes of `weave-timers` (Benchmarks/Sources/WeaveTimers): run with
// GOMAXPROCS=1 to compare with one hub. One JSON line per case.
//
//	go-timers lateness [ROUNDS=200]  one goroutine sleeps 1, 2, 5, 10 and 2.5 ms, ROUNDS times each
//	go-timers sleepers [N=100000]    N goroutines started at once, each sleeping 1..50 ms
//	go-timers instant [N=100000] [LEAD_MS=2000]  N goroutines sleep until one instant, LEAD_MS after the start
//
// Build: GOFLAGS=-mod=mod GOPROXY=off go build (stdlib only)
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"time"
)

func argument(index, value int) int {
	if len(os.Args) > index {
		n, err := strconv.Atoi(os.Args[index])
		if err != nil || n < 1 {
			fmt.Fprintln(os.Stderr, "go-timers: expected a positive number")
			os.Exit(2)
		}
		return n
	}
	return value
}

func quantileMicros(sorted []int64, p float64) float64 {
	i := int(float64(len(sorted)) * p)
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return float64(sorted[i]) / 1000
}

func sortInt64(v []int64) { sort.Slice(v, func(a, b int) bool { return v[a] < v[b] }) }

func lateness() {
	rounds := argument(2, 200)
	for _, d := range []struct {
		label string
		nanos int64
	}{{"1", 1e6}, {"2", 2e6}, {"5", 5e6}, {"10", 10e6}, {"2.5", 2.5e6}} {
		late := make([]int64, rounds)
		for i := range late {
			start := time.Now()
			time.Sleep(time.Duration(d.nanos))
			late[i] = int64(time.Since(start)) - d.nanos
		}
		sortInt64(late)
		fmt.Printf("{\"bench\":\"lateness\",\"impl\":\"go\",\"gomaxprocs\":%d,\"sleep_ms\":\"%s\",\"rounds\":%d,\"late_p50_us\":%.1f,\"late_p99_us\":%.1f,\"late_max_us\":%.1f,\"earliest_us\":%.1f}\n",
			runtime.GOMAXPROCS(0), d.label, rounds, quantileMicros(late, 0.5), quantileMicros(late, 0.99),
			float64(late[rounds-1])/1000, float64(late[0])/1000)
	}
}

func sleepers() {
	n := argument(2, 100000)
	late := make([]int64, n)
	started := make([]time.Time, n)
	woke := make([]time.Time, n)
	var wg sync.WaitGroup
	wg.Add(n)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		go func(i int) {
			d := time.Duration(1+i%50) * time.Millisecond
			start := time.Now()
			started[i] = start
			time.Sleep(d)
			end := time.Now()
			woke[i] = end
			late[i] = int64(end.Sub(start) - d)
			wg.Done()
		}(i)
	}
	spawned := time.Since(t0)
	wg.Wait()
	first, last := started[0], woke[0]
	for i := range started {
		if started[i].Before(first) {
			first = started[i]
		}
		if woke[i].After(last) {
			last = woke[i]
		}
	}
	sortInt64(late)
	fmt.Printf("{\"bench\":\"sleepers\",\"impl\":\"go\",\"gomaxprocs\":%d,\"n\":%d,\"sleep_ms\":\"1..50\",\"spawn_ms\":%.1f,\"first_sleep_to_last_wake_ms\":%.1f,\"late_p50_us\":%.1f,\"late_p99_us\":%.1f,\"late_max_us\":%.1f,\"earliest_us\":%.1f}\n",
		runtime.GOMAXPROCS(0), n, float64(spawned)/1e6, float64(last.Sub(first))/1e6,
		quantileMicros(late, 0.5), quantileMicros(late, 0.99), float64(late[n-1])/1000, float64(late[0])/1000)
}

func instant() {
	n := argument(2, 100000)
	lead := time.Duration(argument(3, 2000)) * time.Millisecond
	var wg sync.WaitGroup
	var mu sync.Mutex
	count := 0
	var last time.Time
	wg.Add(n)
	t0 := time.Now()
	at := t0.Add(lead)
	for i := 0; i < n; i++ {
		go func() {
			time.Sleep(time.Until(at))
			mu.Lock()
			count++
			if count == n {
				last = time.Now()
			}
			mu.Unlock()
			wg.Done()
		}()
	}
	spawned := time.Since(t0)
	wg.Wait()
	if spawned >= lead {
		fmt.Fprintln(os.Stderr, "go-timers: spawning took longer than the lead time")
		os.Exit(1)
	}
	wake := last.Sub(at)
	fmt.Printf("{\"bench\":\"instant\",\"impl\":\"go\",\"gomaxprocs\":%d,\"n\":%d,\"spawn_ms\":%.1f,\"wake_all_ms\":%.1f,\"ns_per_wake\":%.1f,\"wakes_per_s\":%.0f}\n",
		runtime.GOMAXPROCS(0), n, float64(spawned)/1e6, float64(wake)/1e6, float64(wake)/float64(n), float64(n)/wake.Seconds())
}

func main() {
	mode := ""
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	switch mode {
	case "lateness":
		lateness()
	case "sleepers":
		sleepers()
	case "instant":
		instant()
	default:
		fmt.Fprintln(os.Stderr, "usage: go-timers lateness|sleepers|instant [N]")
		os.Exit(2)
	}
}
