// Command ceiling is the yardstick `make bench` measures entitle against: bare Echo on the same
// machine, answering each benchmarked route with exactly the bytes entitle answered it with,
// with no authentication, no validation and no database. What entitle reaches as a fraction of
// this ceiling, measured in the same run, is the figure to quote: on a shared machine the
// absolute requests per second mean little.
//
// Usage: ceiling -addr 127.0.0.1:PORT -routes FILE
//
// FILE has one route per line, tab-separated: METHOD, PATH, STATUS, BODY-FILE (a path relative
// to FILE's directory holding the response body, served as application/json).
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/labstack/echo/v4"

	"entitle/bench/benchhttp"
)

// route is one canned answer.
type route struct {
	method string
	path   string
	status int
	body   []byte
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	routesFile := flag.String("routes", "", "file of routes: METHOD<TAB>PATH<TAB>STATUS<TAB>BODY-FILE per line")
	flag.Parse()
	if err := run(*addr, *routesFile); err != nil {
		fmt.Fprintln(os.Stderr, "ceiling:", err)
		os.Exit(1)
	}
}

func run(addr, routesFile string) error {
	routes, err := readRoutes(routesFile)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return benchhttp.Serve(ctx, addr, newHandler(routes), "ceiling", "routes", len(routes))
}

// newHandler is bare Echo with one static route per canned answer and nothing else: no
// middleware, so it costs what the framework and the network cost and no more.
func newHandler(routes []route) http.Handler {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	for _, r := range routes {
		e.Add(r.method, r.path, func(c echo.Context) error {
			return c.Blob(r.status, echo.MIMEApplicationJSON, r.body)
		})
	}
	return e
}

func readRoutes(path string) ([]route, error) {
	if path == "" {
		return nil, errors.New("-routes is required")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open routes: %w", err)
	}
	defer func() { _ = f.Close() }()
	var routes []route
	scanner := bufio.NewScanner(f)
	for line := 1; scanner.Scan(); line++ {
		text := strings.TrimSpace(scanner.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Split(text, "\t")
		if len(fields) != 4 {
			return nil, fmt.Errorf("%s:%d: want METHOD<TAB>PATH<TAB>STATUS<TAB>BODY-FILE, got %d fields", path, line, len(fields))
		}
		status, err := strconv.Atoi(fields[2])
		if err != nil || status < 100 || status > 599 {
			return nil, fmt.Errorf("%s:%d: status %q is not an HTTP status", path, line, fields[2])
		}
		bodyPath := fields[3]
		if !filepath.IsAbs(bodyPath) {
			bodyPath = filepath.Join(filepath.Dir(path), bodyPath)
		}
		body, err := os.ReadFile(bodyPath)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: read body: %w", path, line, err)
		}
		routes = append(routes, route{method: fields[0], path: fields[1], status: status, body: body})
	}
	if err := scanner.Err(); err != nil {
		return nil, fmt.Errorf("read routes: %w", err)
	}
	if len(routes) == 0 {
		return nil, fmt.Errorf("%s lists no routes", path)
	}
	return routes, nil
}
