package testenv

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// RawConn is one client connection on which a test writes HTTP/1.1 requests by hand and reads
// the answers, so that nothing retries behind its back: Go's http.Transport quietly resends an
// idempotent request whose kept-alive connection was closed under it, which would hide exactly
// the cut a drain test looks for.
type RawConn struct {
	net.Conn
	reader *bufio.Reader
}

// DialRaw connects to addr.
func DialRaw(addr string, timeout time.Duration) (*RawConn, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	return &RawConn{Conn: conn, reader: bufio.NewReader(conn)}, nil
}

// Get writes GET path and reads the whole answer (its body is read and closed) within the
// time given. resp.Close says whether the server asked for the connection to be closed.
func (c *RawConn) Get(path string, within time.Duration) (*http.Response, error) {
	_ = c.SetDeadline(time.Now().Add(within))
	req, err := http.NewRequest(http.MethodGet, "http://"+c.RemoteAddr().String()+path, nil)
	if err != nil {
		return nil, err
	}
	if err := req.Write(c.Conn); err != nil {
		return nil, fmt.Errorf("write: %w", err)
	}
	resp, err := http.ReadResponse(c.reader, req)
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	return resp, nil
}
