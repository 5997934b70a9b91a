package server_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"entitle/internal/testenv"
	"entitle/server"
)

func TestAccessLinesWaitABoundedTimeAndEveryOtherLineIsWrittenAtOnce(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			var logs testenv.LockedBuffer
			cfg := server.Config{LogFormat: format}
			logger := cfg.NewLogger(&logs)

			logger.Info("request", "n", 1)
			assert.Empty(t, logs.String(), "an access line was written at once: a syscall per request")
			deadline := time.Now().Add(time.Second)
			for !strings.Contains(logs.String(), "request") {
				if time.Now().After(deadline) {
					t.Fatal("an access line waited more than a second to be written")
				}
				time.Sleep(5 * time.Millisecond)
			}

			logger.Info("request", "n", 2)
			logger.Warn("disk is full")
			out := logs.String()
			assert.Contains(t, out, "disk is full", "a warning waited")
			second := map[string]string{"text": "n=2", "json": `"n":2`}[format]
			assert.Contains(t, out, second, "the access line logged before a warning waited after it")
			assert.Less(t, strings.Index(out, second), strings.Index(out, "disk is full"), "lines out of order")

			logger.With("component", "x").Info("serving")
			assert.Contains(t, logs.String(), "serving", "a line other than the access log's waited")
		})
	}
}
