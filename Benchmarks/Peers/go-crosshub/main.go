// Messages per second through a buffered Go channel from one goroutine to another (run with
// GOMAXPROCS=2, so the two may sit on two threads), printed as one JSON line beside
// weave-crosshub's.
//
//	go-crosshub [MESSAGES=2000000] [CAPACITY=1024]
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

func argument(index int, fallback int) int {
	if len(os.Args) <= index {
		return fallback
	}
	value, err := strconv.Atoi(os.Args[index])
	if err != nil || value <= 0 {
		fmt.Fprintln(os.Stderr, "usage: go-crosshub [MESSAGES>0] [CAPACITY>0]")
		os.Exit(2)
	}
	return value
}

func main() {
	messages := argument(1, 2000000)
	capacity := argument(2, 1024)
	channel := make(chan int, capacity)
	start := time.Now()
	go func() {
		for message := 0; message < messages; message++ {
			channel <- message
		}
		close(channel)
	}()
	sum := 0
	for message := range channel {
		sum += message
	}
	seconds := time.Since(start).Seconds()
	if sum != messages*(messages-1)/2 {
		fmt.Fprintln(os.Stderr, "lost or duplicated messages")
		os.Exit(1)
	}
	fmt.Printf("{\"impl\":\"go-crosshub\",\"messages\":%d,\"capacity\":%d,\"seconds\":%g,\"msgs_per_sec\":%d}\n",
		messages, capacity, seconds, int(float64(messages)/seconds))
}
