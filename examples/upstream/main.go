// Command upstream is an example local segment server for `druid-sidecar serve` (druid.sidecar.upstream): it
// takes the load and drop hooks, keeps the set of loaded segments and their directories, and answers
// timeBoundary and segmentMetadata queries from their metadata. It is documentation in code form for the contract
// in docs/upstream.md, and a stand-in for tests and the sandbox; it serves no real data.
//
//	go run ./examples/upstream -listen 127.0.0.1:8100
//
// It prints "listening on http://ADDR" once it accepts connections (with port 0, ADDR has the port chosen), and
// stops on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8100", "host:port to listen on (port 0 picks a free one)")
	quiet := flag.Bool("quiet", false, "do not log each load and drop")
	flag.Parse()
	logf := log.New(os.Stderr, "upstream: ", log.LstdFlags).Printf
	if *quiet {
		logf = func(string, ...any) {}
	}
	if err := run(*listen, logf); err != nil {
		fmt.Fprintf(os.Stderr, "upstream: %v\n", err)
		os.Exit(1)
	}
}

func run(listen string, logf func(string, ...any)) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", listen, err)
	}
	fmt.Printf("listening on http://%s\n", ln.Addr())
	srv := &http.Server{Handler: NewServer(logf), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
