package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
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

func BenchmarkGetEntitlements(b *testing.B) {
	inst := testenv.Start(b, testenv.Databases()[0].NewConfig(b))
	h := inst.Server().Handler()
	req := httptest.NewRequest(http.MethodGet, server.APIPrefix+"/entitlements", nil)
	b.ReportAllocs()
	for b.Loop() {
		serve(b, h, req)
	}
}

func BenchmarkGetOrganizationSignedIn(b *testing.B) {
	for _, db := range testenv.Databases() {
		b.Run(db.Name, func(b *testing.B) {
			inst := testenv.Start(b, db.NewConfig(b))
			token := inst.SetupOwner(b)
			created, err := inst.ClientWithToken(b, token).CreateOrganizationWithResponse(context.Background(), gen.CreateOrganizationRequest{Name: "bench"})
			if err != nil || created.JSON201 == nil {
				b.Fatalf("create organization: %v %s", err, created.Body)
			}
			h := inst.Server().Handler()
			req := httptest.NewRequest(http.MethodGet, server.APIPrefix+"/organizations/bench", nil)
			req.Header.Set(server.SessionHeader, token)
			b.ReportAllocs()
			for b.Loop() {
				serve(b, h, req)
			}
		})
	}
}
