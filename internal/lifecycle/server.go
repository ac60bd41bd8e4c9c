package lifecycle

import (
	"context"
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
	s := &Server{srv: srv, addr: ln.Addr(), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.err = srv.Serve(ln)
	}()
	return s, nil
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
