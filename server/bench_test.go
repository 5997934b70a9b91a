package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"entitle/gen"
	"entitle/internal/testenv"
	"entitle/server"
)

// serve runs one request through the whole handler (middleware, auth, validation, handler,
// store) without the network, so the figures are the server's own cost. Each call gets its own
// copy of req, as every real request is a new one.
func serve(b *testing.B, h http.Handler, template *http.Request) {
	req := template.Clone(context.Background())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("%s %s: %d %s", req.Method, req.URL.Path, rec.Code, rec.Body.String())
	}
}

// processCPU is the CPU time this process has used, in nanoseconds. The machines these run on
// are shared, so wall time per operation (ns/op) swings with the neighbours' load; CPU time per
// operation (cpu-ns/op: the server's goroutines, the garbage collector and, on SQLite, the
// database) is the steadier figure. PostgreSQL's own CPU is not in it.
func processCPU(b *testing.B) int64 {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		b.Fatal(err)
	}
	return u.Utime.Nano() + u.Stime.Nano()
}

// startForBench starts a server that logs as `entitle server` does (every request at info,
// as text) into a file, so the access log's cost is part of the figures.
func startForBench(b *testing.B, db testenv.Database) *testenv.Instance {
	cfg := db.NewConfig(b)
	logFile, err := os.Create(filepath.Join(b.TempDir(), "server.log"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = logFile.Close() })
	return testenv.StartWithLogger(b, cfg, cfg.NewLogger(logFile))
}

// benchGet measures GET path on every database, signed in as the owner when signedIn, after
// setup (given the instance and the owner's token) has made what the path names.
func benchGet(b *testing.B, signedIn bool, path func(b *testing.B, inst *testenv.Instance, token string) string) {
	for _, db := range testenv.Databases() {
		b.Run(db.Name, func(b *testing.B) {
			inst := startForBench(b, db)
			token := inst.SetupOwner(b)
			req := httptest.NewRequest(http.MethodGet, server.APIPrefix+path(b, inst, token), nil)
			if signedIn {
				req.Header.Set(server.SessionHeader, token)
			}
			h := inst.Server().Handler()
			b.ReportAllocs()
			cpu := processCPU(b)
			for b.Loop() {
				serve(b, h, req)
			}
			b.ReportMetric(float64(processCPU(b)-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// createBenchOrganization creates the organization "bench", owned by the owner.
func createBenchOrganization(b *testing.B, inst *testenv.Instance, token string) gen.Organization {
	created, err := inst.ClientWithToken(b, token).CreateOrganizationWithResponse(context.Background(), gen.CreateOrganizationRequest{Name: "bench"})
	if err != nil || created.JSON201 == nil {
		b.Fatalf("create organization: %v %s", err, created.Body)
	}
	return *created.JSON201
}

func BenchmarkGetEntitlements(b *testing.B) {
	benchGet(b, false, func(*testing.B, *testenv.Instance, string) string { return "/entitlements" })
}

func BenchmarkGetOrganizationSignedIn(b *testing.B) {
	benchGet(b, true, func(b *testing.B, inst *testenv.Instance, token string) string {
		createBenchOrganization(b, inst, token)
		return "/organizations/bench"
	})
}

func BenchmarkGetOrganizationByIDSignedIn(b *testing.B) {
	benchGet(b, true, func(b *testing.B, inst *testenv.Instance, token string) string {
		return "/organizations/" + createBenchOrganization(b, inst, token).Id.String()
	})
}

func BenchmarkGetCurrentUser(b *testing.B) {
	benchGet(b, true, func(*testing.B, *testenv.Instance, string) string { return "/users/me" })
}

// BenchmarkListOrganizations measures a read no cache serves: a page of organizations.
func BenchmarkListOrganizations(b *testing.B) {
	benchGet(b, true, func(b *testing.B, inst *testenv.Instance, token string) string {
		createBenchOrganization(b, inst, token)
		return "/organizations"
	})
}
