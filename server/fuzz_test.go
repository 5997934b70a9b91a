package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"entitle/gen"
	"entitle/internal/testenv"
	"entitle/server"
)

// FuzzAPIRequest feeds arbitrary requests (method, request target, header lines, body, and
// where, if anywhere, the owner's session token goes) through the whole server on SQLite:
// the router, authentication, validation, handlers and store. Whatever arrives, the server
// must never panic or answer 5xx, every error it writes is the JSON envelope, no answer
// carries SQL, a stack trace or the token, and nothing but a public route answers 2xx to a
// request without a token.
//
// The seed corpus (testdata/fuzz/FuzzAPIRequest) holds cases of the hostile-input catalogue
// (e2e/hostile_test.go) and every crasher found so far; `go test` runs it, `make fuzz`
// mutates it.
func FuzzAPIRequest(f *testing.F) {
	serverErrors := &testenv.LockedBuffer{}
	inst := testenv.StartWithLogger(f, testenv.Databases()[0].NewConfig(f),
		slog.New(slog.NewTextHandler(serverErrors, &slog.HandlerOptions{Level: slog.LevelError})))
	errorsSeen := 0
	h := inst.Server().Handler()
	owner := &fuzzSession{handler: h, token: inst.SetupOwner(f)}
	public := publicPaths(f)

	// The plain request of every operation, signed in where it needs to be.
	doc, err := gen.GetSwagger()
	if err != nil {
		f.Fatal(err)
	}
	for _, path := range doc.Paths.Keys() {
		for method := range doc.Paths.Value(path).Operations() {
			target := server.APIPrefix + strings.NewReplacer("{organization}", "default", "{user}", "me", "{id}", "1").Replace(path)
			f.Add(method, target, "Content-Type: application/json", []byte(`{}`), uint8(tokenInHeader))
		}
	}

	f.Fuzz(func(t *testing.T, method, target, headers string, body []byte, place uint8) {
		token := ""
		if tokenPlace(place%5) != noToken {
			token = owner.current()
		}
		req, ok := serverRequest(method, target, headers, body, tokenPlace(place%5), token)
		if !ok {
			return // net/http itself refuses it with a 400 before any handler runs
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		describe := func() string {
			return req.Method + " " + req.RequestURI + " (token " + tokenPlace(place%5).String() + "): " + rec.Body.String()
		}

		// Only errors are logged, so the buffer stays small; what is new belongs to this request.
		all := serverErrors.String()
		logged := all[errorsSeen:]
		errorsSeen = len(all)
		if rec.Code >= 500 {
			t.Fatalf("%d for %s", rec.Code, describe())
		}
		if logged != "" {
			t.Fatalf("the server logged an error for %s\n%s", describe(), logged)
		}
		if rec.Code >= 400 && req.Method != http.MethodHead && !servesFiles(req.URL.Path) {
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("error with Content-Type %q for %s", ct, describe())
			}
			var env struct {
				Message string `json:"message"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil || env.Message == "" {
				t.Fatalf("error without the JSON envelope for %s", describe())
			}
		}
		if rec.Code >= 200 && rec.Code < 300 && token == "" && !public(req.URL.Path) {
			t.Fatalf("%d without a token on a route that needs one: %s", rec.Code, describe())
		}
		text := rec.Body.String()
		for _, marker := range []string{"SQLSTATE", "sqlite", "gorm.", "goroutine ", ".go:", "panic:", "runtime error"} {
			if strings.Contains(text, marker) {
				t.Fatalf("the answer leaks %q for %s", marker, describe())
			}
		}
		if token != "" && strings.Contains(text, token) {
			t.Fatalf("the answer carries the session token for %s", describe())
		}
		if token != "" && rec.Code < 300 {
			// The request may have signed the owner out (POST /users/logout).
			owner.renewIfSignedOut(t)
		}
	})
}

// tokenPlace is where a fuzzed request carries the owner's session token.
type tokenPlace uint8

const (
	noToken tokenPlace = iota
	tokenInHeader
	tokenInCookie
	tokenInQuery
	tokenAsBearer
)

func (p tokenPlace) String() string {
	return [...]string{"none", "header", "cookie", "query", "bearer"}[p]
}

// serverRequest writes the fuzzed parts as the bytes of an HTTP/1.1 request and reads them
// back as net/http's server does, refusing what it refuses. The fuzzer does not control the
// framing (Host, Content-Length, Transfer-Encoding): the body is exactly the body.
func serverRequest(method, target, headers string, body []byte, place tokenPlace, token string) (*http.Request, bool) {
	if place == tokenInQuery {
		sep := "?"
		if strings.Contains(target, "?") {
			sep = "&"
		}
		target += sep + "coder_session_token=" + token
	}
	var raw bytes.Buffer
	raw.WriteString(method + " " + target + " HTTP/1.1\r\nHost: entitle.test\r\n")
	for line := range strings.SplitSeq(headers, "\n") {
		line = strings.TrimSuffix(line, "\r")
		name, _, _ := strings.Cut(line, ":")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "", "host", "content-length", "transfer-encoding":
			continue
		}
		raw.WriteString(line + "\r\n")
	}
	switch place {
	case tokenInHeader:
		raw.WriteString(server.SessionHeader + ": " + token + "\r\n")
	case tokenInCookie:
		raw.WriteString("Cookie: coder_session_token=" + token + "\r\n")
	case tokenAsBearer:
		raw.WriteString("Authorization: Bearer " + token + "\r\n")
	}
	raw.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n")
	raw.Write(body)
	req, err := http.ReadRequest(bufio.NewReader(&raw))
	if err != nil {
		return nil, false
	}
	// What net/http's server checks after reading a request, answering 400 itself.
	for name, values := range req.Header {
		if !validFieldName(name) {
			return nil, false
		}
		for _, v := range values {
			if !validFieldValue(v) {
				return nil, false
			}
		}
	}
	req.RemoteAddr = "192.0.2.1:1234"
	return req, true
}

// validFieldName is RFC 9110's token, as net/http requires of a header name.
func validFieldName(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range []byte(name) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// validFieldValue refuses control characters but tab, as net/http does.
func validFieldValue(v string) bool {
	for _, c := range []byte(v) {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// servesFiles says whether the path is one of the documents served as files (the spec,
// Swagger UI), which answer Range and conditional requests as HTTP's file rules say (206,
// 304, 412, 416 in plain text), not with the API's envelope.
func servesFiles(path string) bool {
	return path == server.SpecJSONPath || path == server.SpecYAMLPath || strings.HasPrefix(path, strings.TrimSuffix(server.SwaggerPath, "/"))
}

// publicPaths says whether a decoded path is one that answers without a sign-in: the spec's
// operations with `security: []`, the health checks and the documents.
func publicPaths(tb testing.TB) func(path string) bool {
	doc, err := gen.GetSwagger()
	if err != nil {
		tb.Fatal(err)
	}
	paths := map[string]bool{"/healthz": true, "/readyz": true}
	for _, path := range doc.Paths.Keys() {
		for _, op := range doc.Paths.Value(path).Operations() {
			if op.Security != nil && len(*op.Security) == 0 {
				if strings.Contains(path, "{") {
					tb.Fatalf("public route %s has parameters: teach publicPaths to match them", path)
				}
				paths[server.APIPrefix+path] = true
			}
		}
	}
	return func(path string) bool { return paths[path] || servesFiles(path) }
}

// fuzzSession is the owner's session token, renewed when a fuzzed request signs it out.
type fuzzSession struct {
	handler http.Handler
	mu      sync.Mutex
	token   string
}

func (s *fuzzSession) current() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.token
}

// renewIfSignedOut signs the owner in again when the token no longer works. It signs in from
// another address than the fuzzed requests, so their failed sign-ins never throttle it.
func (s *fuzzSession) renewIfSignedOut(t *testing.T) {
	s.mu.Lock()
	defer s.mu.Unlock()
	me := httptest.NewRequestWithContext(context.Background(), http.MethodGet, server.APIPrefix+"/users/me", nil)
	me.Header.Set(server.SessionHeader, s.token)
	rec := httptest.NewRecorder()
	s.handler.ServeHTTP(rec, me)
	if rec.Code != http.StatusUnauthorized {
		return
	}
	body, _ := json.Marshal(map[string]string{"email": testenv.OwnerEmail, "password": testenv.OwnerPassword})
	login := httptest.NewRequestWithContext(context.Background(), http.MethodPost, server.APIPrefix+"/users/login", bytes.NewReader(body))
	login.Header.Set("Content-Type", "application/json")
	login.RemoteAddr = "192.0.2.200:1234"
	rec = httptest.NewRecorder()
	s.handler.ServeHTTP(rec, login)
	var out struct {
		SessionToken string `json:"session_token"`
	}
	if rec.Code != http.StatusCreated || json.Unmarshal(rec.Body.Bytes(), &out) != nil {
		t.Fatalf("sign the owner in again: %d %s", rec.Code, rec.Body)
	}
	s.token = out.SessionToken
}
