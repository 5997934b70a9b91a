package server

import (
	"bytes"
	"context"
	"log/slog"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// slogLine is the access line as slog's own handler for format writes it.
func slogLine(t *testing.T, format string, at time.Time, level slog.Level, l *accessLine) string {
	t.Helper()
	var out bytes.Buffer
	opts := &slog.HandlerOptions{Level: slog.LevelDebug}
	var h slog.Handler = slog.NewTextHandler(&out, opts)
	if format == "json" {
		h = slog.NewJSONHandler(&out, opts)
	}
	r := slog.NewRecord(at, level, accessLogMessage, 0)
	r.AddAttrs(l.attrs()...)
	require.NoError(t, h.Handle(context.Background(), r))
	return out.String()
}

func TestAccessLineIsWhatSlogWrites(t *testing.T) {
	base := accessLine{
		requestID: "3b0c4a9e-1f7d-4c55-9d0e-2a6f1e8b7c10",
		method:    "GET",
		route:     "/api/v2/organizations/:organization",
		path:      "/api/v2/organizations/8f0e2d8c-5b1a-4f4e-9c3d-7a6b5c4d3e2f",
		status:    200,
		elapsed:   123 * time.Microsecond,
		bytesOut:  245,
		remoteIP:  "127.0.0.1",
	}
	times := []time.Time{
		time.Date(2026, 11, 27, 5, 1, 2, 0, time.UTC),
		time.Date(2026, 11, 27, 5, 1, 2, 7_000_000, time.UTC),
		time.Date(2026, 11, 27, 5, 1, 2, 999_999_999, time.UTC),
		time.Date(2026, 11, 27, 5, 1, 2, 120_400_000, time.FixedZone("", 5*3600+30*60)),
		time.Date(2026, 1, 1, 0, 0, 0, 1, time.FixedZone("", -8*3600)),
		time.Date(2026, 1, 1, 0, 0, 0, 100_000_000, time.FixedZone("", -8*3600)),
		time.Date(2026, 1, 1, 0, 0, 1, 30, time.FixedZone("", -8*3600)),
		time.Date(2026, 1, 1, 8, 0, 1, 30, time.UTC), // the same instant, in another zone
		time.Date(999, 12, 31, 23, 59, 59, 5_000_000, time.UTC),
		time.Now(),
	}
	durations := []time.Duration{0, 999 * time.Nanosecond, time.Microsecond, 10 * time.Microsecond,
		999 * time.Microsecond, 1500 * time.Microsecond, 123456789 * time.Microsecond, 1000 * time.Second,
		2 * time.Hour, 30 * 24 * time.Hour}
	variants := []func(l *accessLine){
		func(*accessLine) {},
		func(l *accessLine) { l.status, l.bytesOut = 503, 0 },
		func(l *accessLine) { l.method, l.route = "HEAD", unmatchedRoute },
		func(l *accessLine) { l.path = "/api/v2/organizations/a%2Fb:c~d!$'()*+,;@" },
		func(l *accessLine) { l.remoteIP = "2001:db8::1" },
	}
	// One stamp throughout, as a log buffer keeps one: the times change second and zone, and
	// each is formatted many times over.
	var stamp secondStamp
	for _, format := range []string{"text", "json"} {
		for _, level := range []slog.Level{slog.LevelInfo, slog.LevelError} {
			for _, at := range times {
				for _, d := range durations {
					for _, vary := range variants {
						l := base
						l.elapsed = d
						vary(&l)
						got, ok := appendAccessLine(nil, format, &stamp, at, level, &l)
						require.True(t, ok, "a plain line was refused: %+v", l)
						assert.Equal(t, slogLine(t, format, at, level, &l), string(got), "%s %v %v %+v", format, level, at, l)
					}
				}
			}
		}
	}
}

// withoutTime drops the time from a log line, text or JSON.
func withoutTime(line string) string {
	return regexp.MustCompile(`^time=\S+ |"time":"[^"]*",`).ReplaceAllString(line, "")
}

func TestAccessLineNeedingQuotesGoesThroughSlog(t *testing.T) {
	at := time.Date(2026, 11, 27, 5, 1, 2, 0, time.UTC)
	for _, path := range []string{"/a b", "/a=b", `/a"b`, `/a\b`, "/a<b>&", "/a\x00b", "/ü", "/a\tb", ""} {
		for _, format := range []string{"text", "json"} {
			l := accessLine{requestID: "r", method: "GET", route: unmatchedRoute, path: path, status: 404, remoteIP: "127.0.0.1"}
			got, ok := appendAccessLine([]byte("kept"), format, &secondStamp{}, at, slog.LevelInfo, &l)
			assert.False(t, ok, "%q was appended as it is", path)
			assert.Equal(t, "kept", string(got), "a refused line left bytes behind")

			// Through the logger NewLogger makes, the line is slog's own.
			var out bytes.Buffer
			cfg := Config{LogFormat: format}
			logger := cfg.NewLogger(&out)
			logAccess(context.Background(), logger, slog.LevelInfo, time.Now(), &l)
			flushLogs(logger)
			assert.Equal(t, withoutTime(slogLine(t, format, at, slog.LevelInfo, &l)), withoutTime(out.String()), "%s %q", format, path)
		}
	}
}
