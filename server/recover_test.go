package server

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/gen"
)

func TestAPanicIsA500EnvelopeWithItsStackOnlyInTheLog(t *testing.T) {
	var logs strings.Builder
	cfg := Config{
		HTTPAddress:                 "127.0.0.1:0",
		DataDir:                     t.TempDir(),
		SessionDuration:             time.Hour,
		EntitlementsRefreshInterval: time.Hour,
	}
	s, err := New(t.Context(), cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	require.NoError(t, err)
	defer s.Close()
	// A route behind the same middleware as every other, whose handler has a bug.
	s.echo.GET("/boom", func(echo.Context) error {
		panic("handler bug: the widget table is empty")
	})

	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/boom", nil))

	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	requestID := rec.Header().Get(echo.HeaderXRequestID)
	assert.NotEmpty(t, requestID, "every response carries a request id")
	var env gen.Response
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &env), "body: %s", rec.Body)
	assert.Equal(t, "An internal error occurred. Try again, and report it if it persists.", env.Message)
	require.NotNil(t, env.Detail)
	assert.Contains(t, *env.Detail, requestID, "the detail names the request id to report")
	for _, leak := range []string{"goroutine", "panic", "widget", ".go:"} {
		assert.NotContains(t, rec.Body.String(), leak)
	}
	assert.Contains(t, logs.String(), "the widget table is empty", "the operator sees the cause")
	assert.Contains(t, logs.String(), "recover_test.go", "and the stack")
	assert.Contains(t, logs.String(), requestID)

	rec = httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	assert.Equal(t, http.StatusOK, rec.Code, "the server keeps serving")
}
