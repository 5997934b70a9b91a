package server

import (
	"context"
	"log/slog"
	"strconv"
	"time"
)

// The access log writes a line for every request, and formatting it through slog's handlers
// was the largest single cost of a cheap request (a fifth of GET /entitlements: attribute
// values boxed and walked, a buffer taken from a pool, every string checked for quoting). The
// line's shape never changes, so when the logger is the one NewLogger made, the line is
// appended straight into the log buffer, byte for byte as slog's text or JSON handler would
// write it (TestAccessLineIsWhatSlogWrites holds the two together). Any other logger, and any
// line with a value that would need quoting or escaping, goes through slog as before.

// accessLine is what the access log says of one request.
type accessLine struct {
	requestID string
	method    string
	route     string
	path      string
	status    int
	elapsed   time.Duration
	bytesOut  int64
	remoteIP  string
}

// durationMS is the request's duration in milliseconds, to the microsecond.
func (l *accessLine) durationMS() float64 { return float64(l.elapsed.Microseconds()) / 1000 }

// attrs are the line's attributes, for slog.
func (l *accessLine) attrs() []slog.Attr {
	return []slog.Attr{
		slog.String("request_id", l.requestID),
		slog.String("method", l.method),
		slog.String("route", l.route),
		slog.String("path", l.path),
		slog.Int("status", l.status),
		slog.Float64("duration_ms", l.durationMS()),
		slog.Int64("bytes_out", l.bytesOut),
		slog.String("remote_ip", l.remoteIP),
	}
}

// logAccess writes the line at level, appended directly, with the time at (the request's end),
// when logger allows it; otherwise through slog, which stamps the line itself.
func logAccess(ctx context.Context, logger *slog.Logger, level slog.Level, at time.Time, line *accessLine) {
	if h, ok := logger.Handler().(bufferingHandler); ok && h.format != "" && h.Enabled(ctx, level) {
		if h.buffer.appendAccessLine(h.format, at, level, line) {
			return
		}
	}
	logger.LogAttrs(ctx, level, accessLogMessage, line.attrs()...)
}

// appendAccessLine appends the line to b as slog's handler for format ("text" or "json")
// would write it, and says false, appending nothing, when some value needs slog's quoting or
// escaping. It is the only line of the access log that waits in the buffer (see logbuffer.go),
// unless it is a warning or worse, which is written out at once like every other such line.
// stamp keeps the last second formatted, for the line's time.
func appendAccessLine(b []byte, format string, stamp *secondStamp, t time.Time, level slog.Level, l *accessLine) ([]byte, bool) {
	for _, s := range [...]string{l.requestID, l.method, l.route, l.path, l.remoteIP} {
		if !plainLogValue(s) {
			return b, false
		}
	}
	ms := l.durationMS()
	if format == "json" {
		b = append(b, `{"time":"`...)
		b = stamp.appendRFC3339Nano(b, t)
		b = append(b, `","level":"`...)
		b = append(b, level.String()...)
		b = append(b, `","msg":"`+accessLogMessage+`","request_id":"`...)
		b = append(b, l.requestID...)
		b = append(b, `","method":"`...)
		b = append(b, l.method...)
		b = append(b, `","route":"`...)
		b = append(b, l.route...)
		b = append(b, `","path":"`...)
		b = append(b, l.path...)
		b = append(b, `","status":`...)
		b = strconv.AppendInt(b, int64(l.status), 10)
		b = append(b, `,"duration_ms":`...)
		// encoding/json, which slog uses for floats, writes a duration's milliseconds (at
		// least 0.001, under 1e21) in plain decimal notation.
		b = strconv.AppendFloat(b, ms, 'f', -1, 64)
		b = append(b, `,"bytes_out":`...)
		b = strconv.AppendInt(b, l.bytesOut, 10)
		b = append(b, `,"remote_ip":"`...)
		b = append(b, l.remoteIP...)
		b = append(b, "\"}\n"...)
		return b, true
	}
	b = append(b, "time="...)
	b = stamp.appendRFC3339Millis(b, t)
	b = append(b, " level="...)
	b = append(b, level.String()...)
	b = append(b, " msg="+accessLogMessage+" request_id="...)
	b = append(b, l.requestID...)
	b = append(b, " method="...)
	b = append(b, l.method...)
	b = append(b, " route="...)
	b = append(b, l.route...)
	b = append(b, " path="...)
	b = append(b, l.path...)
	b = append(b, " status="...)
	b = strconv.AppendInt(b, int64(l.status), 10)
	b = append(b, " duration_ms="...)
	b = strconv.AppendFloat(b, ms, 'g', -1, 64)
	b = append(b, " bytes_out="...)
	b = strconv.AppendInt(b, l.bytesOut, 10)
	b = append(b, " remote_ip="...)
	b = append(b, l.remoteIP...)
	b = append(b, '\n')
	return b, true
}

// plainLogValue says whether s is written as it is by both of slog's handlers: not empty, and
// only printable ASCII that neither quotes (text) nor escapes (JSON): no space, '=', '"', '\\',
// and none of the characters JSON encoders may escape for HTML.
func plainLogValue(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '=' || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// appendRFC3339Millis writes t as slog's text handler does: RFC 3339 with exactly three digits
// of the second's fraction, truncated.
func appendRFC3339Millis(b []byte, t time.Time) []byte {
	const prefixLen = len("2006-01-02T15:04:05.000")
	n := len(b)
	// RFC3339Nano trims trailing zeros: a tenth of a millisecond added keeps four digits, and
	// the fourth is dropped.
	t = t.Truncate(time.Millisecond).Add(time.Millisecond / 10)
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b[:n+prefixLen], b[n+prefixLen+1:]...)
}

// secondStamp formats times as appendRFC3339Millis and RFC3339Nano do, from the last second it
// formatted: the lines within one second differ only in the fraction, and working out the date
// and the zone again for each was a tenth of the access line's cost.
type secondStamp struct {
	unix int64
	loc  *time.Location
	// date is the second, "2006-01-02T15:04:05"; zone is what follows the fraction, "Z" or
	// "-07:00". Both are empty until a second is kept.
	date, zone []byte
}

// kept makes t's second the one kept, and says false for a time it does not keep (a year
// without four digits).
func (s *secondStamp) kept(t time.Time) bool {
	if len(s.date) > 0 && t.Unix() == s.unix && t.Location() == s.loc {
		return true
	}
	if year := t.Year(); year < 1000 || year > 9999 {
		return false
	}
	const dateLen = len("2006-01-02T15:04:05")
	full := t.Truncate(time.Second).AppendFormat(nil, time.RFC3339)
	s.unix, s.loc = t.Unix(), t.Location()
	s.date, s.zone = full[:dateLen], full[dateLen:]
	return true
}

// appendRFC3339Millis is the package's appendRFC3339Millis, from the kept second.
func (s *secondStamp) appendRFC3339Millis(b []byte, t time.Time) []byte {
	if !s.kept(t) {
		return appendRFC3339Millis(b, t)
	}
	const digits = "0123456789"
	ms := t.Nanosecond() / int(time.Millisecond)
	b = append(b, s.date...)
	b = append(b, '.', digits[ms/100], digits[ms/10%10], digits[ms%10])
	return append(b, s.zone...)
}

// appendRFC3339Nano is t.AppendFormat(b, time.RFC3339Nano), from the kept second: the fraction
// has its trailing zeros trimmed, and a whole second has none.
func (s *secondStamp) appendRFC3339Nano(b []byte, t time.Time) []byte {
	if !s.kept(t) {
		return t.AppendFormat(b, time.RFC3339Nano)
	}
	b = append(b, s.date...)
	if ns := t.Nanosecond(); ns != 0 {
		const decimal = "0123456789"
		var digits [10]byte
		digits[0] = '.'
		for i := 9; i >= 1; i-- {
			digits[i] = decimal[ns%10]
			ns /= 10
		}
		n := 10
		for digits[n-1] == '0' {
			n--
		}
		b = append(b, digits[:n]...)
	}
	return append(b, s.zone...)
}
