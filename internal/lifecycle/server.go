package lifecycle

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
)

// Server is an HTTP server serving on its listener until Shutdown.
type Server struct {
	srv  *http.Server
	addr net.Addr
	done chan struct{}
	err  error // Serve's return, once done is closed
}

// Listen listens on addr and serves srv there. Its error names addr; what the caller adds says which settings chose it.
func Listen(addr string, srv *http.Server) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening for HTTP on %s: %w", addr, err)
	}
	return serve(srv, ln), nil
}

// ListenTLS listens on addr with TLS (cfg) and, when plainAddr is not empty, on plainAddr in plaintext, and serves
// srv on both: Druid's Jetty has a connector per enabled port and one handler behind them. Addr is the TLS one.
func ListenTLS(addr string, cfg *tls.Config, plainAddr string, srv *http.Server) (*Server, error) {
	ln, err := tls.Listen("tcp", addr, cfg)
	if err != nil {
		return nil, fmt.Errorf("listening for HTTPS on %s: %w", addr, err)
	}
	lns := []net.Listener{ln}
	if plainAddr != "" {
		pl, err := net.Listen("tcp", plainAddr)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("listening for HTTP on %s: %w", plainAddr, err)
		}
		lns = append(lns, pl)
	}
	return serve(srv, lns...), nil
}

// serve serves srv on every listener; the first to fail closes the others, so that the server stops as one.
func serve(srv *http.Server, lns ...net.Listener) *Server {
	s := &Server{srv: srv, addr: lns[0].Addr(), done: make(chan struct{})}
	errs := make(chan error, len(lns))
	for _, ln := range lns {
		go func() { errs <- srv.Serve(ln) }()
	}
	go func() {
		defer close(s.done)
		for range lns {
			err := <-errs
			if s.err == nil || errors.Is(s.err, http.ErrServerClosed) && !errors.Is(err, http.ErrServerClosed) {
				s.err = err
			}
			if !errors.Is(err, http.ErrServerClosed) {
				srv.Close()
			}
		}
	}()
	return s
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.addr }

// Done is closed when the server stops, by itself or after Shutdown; Err then says why.
func (s *Server) Done() <-chan struct{} { return s.done }

// Err is why the server stopped (http.ErrServerClosed after Shutdown), once Done is closed.
func (s *Server) Err() error {
	<-s.done
	return s.err
}

// Shutdown stops taking connections and waits within ctx for the requests in flight, then closes those left. Its
// error says what was cut off; a server that had already stopped by itself adds nothing (its end was reported when
// it happened).
func (s *Server) Shutdown(ctx context.Context) error {
	select {
	case <-s.done:
		return nil
	default:
	}
	var errs []error
	if err := s.srv.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("stopping the HTTP server: %w", err))
		s.srv.Close()
	}
	if err := s.Err(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		errs = append(errs, fmt.Errorf("the HTTP server: %w", err))
	}
	return errors.Join(errs...)
}
