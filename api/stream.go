package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"net/http"
	"time"

	"entitle/store"
)

// Lists are written to the client as their rows are read (see store.ChunkSize): a list of a
// million organizations is hundreds of megabytes of JSON, which the server must never hold at
// once. The rows come from the store a chunk at a time, by short queries, so a client that
// reads slowly holds a goroutine and a write buffer, never a database connection.
//
// The status is sent with the first row, once the first query has answered: an error before
// it is an ordinary error response. After it, a 200 is on its way and an error cannot become an
// error envelope; the connection is then aborted, so the client sees a broken answer (a
// truncated body) rather than a short list that looks complete.

const (
	// streamBufferSize is how much of a streamed answer is gathered before it is written.
	streamBufferSize = 32 << 10
	// streamWriteTimeout is how long the client may take to accept each write of a stream. The
	// server's write timeout bounds a whole response; a long list to a client that keeps
	// reading must outlast it, so each write moves the deadline on.
	streamWriteTimeout = 60 * time.Second
)

// RequestIDHeader carries the id the server gave each request, spelled as net/http keys it
// (X-Request-ID canonicalized), so that it is read and written without canonicalizing again.
const RequestIDHeader = "X-Request-Id"

// jsonStream is a JSON answer written while its items are read: head, the items separated by
// commas, then tail.
type jsonStream struct {
	ctx    context.Context
	logger *slog.Logger
	status int
	// head and tail surround the items: "[" and "]" for a list, or the rest of an object whose
	// one list is streamed.
	head, tail []byte
	// items yields each item's JSON, valid until the next is asked for.
	items iter.Seq2[[]byte, error]
}

// The operations answered by a stream.

// VisitListOrganizationsResponse implements gen.ListOrganizationsResponseObject.
func (s jsonStream) VisitListOrganizationsResponse(w http.ResponseWriter) error { return s.write(w) }

// VisitListUserOrganizationsResponse implements gen.ListUserOrganizationsResponseObject.
func (s jsonStream) VisitListUserOrganizationsResponse(w http.ResponseWriter) error {
	return s.write(w)
}

// VisitListOrganizationMembersResponse implements gen.ListOrganizationMembersResponseObject.
func (s jsonStream) VisitListOrganizationMembersResponse(w http.ResponseWriter) error {
	return s.write(w)
}

// VisitPaginatedOrganizationMembersResponse implements
// gen.PaginatedOrganizationMembersResponseObject.
func (s jsonStream) VisitPaginatedOrganizationMembersResponse(w http.ResponseWriter) error {
	return s.write(w)
}

// VisitListTokensResponse implements gen.ListTokensResponseObject.
func (s jsonStream) VisitListTokensResponse(w http.ResponseWriter) error { return s.write(w) }

// VisitGetLicensesResponse implements gen.GetLicensesResponseObject.
func (s jsonStream) VisitGetLicensesResponse(w http.ResponseWriter) error { return s.write(w) }

// VisitGetCurrentUserResponse implements gen.GetCurrentUserResponseObject.
func (s jsonStream) VisitGetCurrentUserResponse(w http.ResponseWriter) error { return s.write(w) }

// VisitGetUserResponse implements gen.GetUserResponseObject.
func (s jsonStream) VisitGetUserResponse(w http.ResponseWriter) error { return s.write(w) }

// An itemEncoder appends the JSON of one row of a streamed list to dst.
type itemEncoder[T any] func(dst []byte, row T) ([]byte, error)

// streamList answers 200 with the JSON array of rows, each encoded by encode. Every row is
// encoded into the same buffer, which the writer copies from before it asks for the next: a
// list of a million rows allocates nothing per row to encode it.
func streamList[T any](ctx context.Context, logger *slog.Logger, rows iter.Seq2[T, error], encode itemEncoder[T]) jsonStream {
	items := func(yield func([]byte, error) bool) {
		var item []byte
		for row, err := range rows {
			if err != nil {
				yield(nil, err)
				return
			}
			item, err = encode(item[:0], row)
			if err != nil {
				yield(nil, fmt.Errorf("encode %T: %w", row, err))
				return
			}
			if !yield(item, nil) {
				return
			}
		}
	}
	return jsonStream{ctx: ctx, logger: logger, status: http.StatusOK, head: []byte("["), tail: []byte("]\n"), items: items}
}

// rowsOf yields rows already read, for a list that is read whole (a bounded page).
func rowsOf[T any](rows []T) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		for _, row := range rows {
			if !yield(row, nil) {
				return
			}
		}
	}
}

// asJSON encodes a row as wire shows it: the bytes it has in the whole list encoded at once.
func asJSON[T, W any](wire func(T) W) itemEncoder[T] {
	return func(dst []byte, row T) ([]byte, error) {
		encoded, err := json.Marshal(wire(row))
		return append(dst, encoded...), err
	}
}

// write sends the answer. An error before anything is sent is returned, for the server's error
// writer; after, the connection is aborted (see the top of this file).
func (s jsonStream) write(w http.ResponseWriter) error {
	var out *pieceWriter // nil until the status is sent
	start := func() error {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(s.status)
		// Every stream's head is its own, so the answer gathers after it, in its spare room.
		out = &pieceWriter{w: w, buf: s.head}
		return out.maybeFlush()
	}
	for item, err := range s.items {
		if err != nil {
			if out == nil {
				return err
			}
			s.abort(w, err)
		}
		if out == nil {
			if err := start(); err != nil {
				return clientGone(err)
			}
		} else {
			out.writeByte(',')
		}
		if err := out.write(item); err != nil {
			return clientGone(err)
		}
	}
	if out == nil {
		if err := start(); err != nil {
			return clientGone(err)
		}
	}
	if err := out.write(s.tail); err != nil {
		return clientGone(err)
	}
	if err := out.flush(); err != nil {
		return clientGone(err)
	}
	return nil
}

// pieceWriter gathers a streamed answer and writes it in pieces of about streamBufferSize.
// Each piece after the first moves the write deadline on (see streamWriteTimeout); the first
// is written within the server's own, so an answer that fits in one piece, nearly every one,
// sets no deadline of its own.
type pieceWriter struct {
	w       http.ResponseWriter
	buf     []byte
	written bool // a piece has been written
}

func (p *pieceWriter) write(b []byte) error {
	p.buf = append(p.buf, b...)
	return p.maybeFlush()
}

// maybeFlush writes what is gathered once it fills a piece.
func (p *pieceWriter) maybeFlush() error {
	if len(p.buf) >= streamBufferSize {
		return p.flush()
	}
	return nil
}

// writeByte keeps c for the next write, which follows at once.
func (p *pieceWriter) writeByte(c byte) { p.buf = append(p.buf, c) }

func (p *pieceWriter) flush() error {
	if len(p.buf) == 0 {
		return nil
	}
	if p.written {
		// Not every writer has a deadline (a test's recorder has none); the server's does.
		err := http.NewResponseController(p.w).SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		if err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
	}
	p.written = true
	_, err := p.w.Write(p.buf)
	p.buf = p.buf[:0]
	return err
}

// abort ends an answer whose status is already sent: the error is logged, and the connection
// is closed without ending the body, which the client sees as a failed read.
func (s jsonStream) abort(w http.ResponseWriter, err error) {
	level := slog.LevelError
	if s.ctx.Err() != nil {
		// The client went away: the read failed because the request ended.
		level = slog.LevelInfo
	}
	s.logger.LogAttrs(s.ctx, level, "list failed after its answer began; connection aborted",
		slog.String("request_id", w.Header().Get(RequestIDHeader)),
		slog.String("error", err.Error()))
	panic(http.ErrAbortHandler)
}

// clientGone wraps an error writing to the client. The status is sent, so the server's error
// writer sends nothing more; the error only ends the request.
func clientGone(err error) error {
	return fmt.Errorf("write streamed answer: %w", err)
}

// userStream answers with the user, whose organization_ids are streamed from the database: the
// owner belongs to every organization they made, and a million ids are 39 MB of JSON.
func (a *API) userStream(ctx context.Context, u store.User) jsonStream {
	resp := streamList(ctx, a.logger, a.store.StreamOrganizationIDsOfUser(ctx, u.ID), uuidItem)
	resp.head, resp.tail = userParts(u)
	resp.tail = append(resp.tail, '\n')
	return resp
}

// streamField answers with whole, an object whose list field is written empty in it, and
// streams the rows into that list, each encoded by encode.
func streamField[T any](ctx context.Context, logger *slog.Logger, status int, whole any, field string, rows iter.Seq2[T, error], encode itemEncoder[T]) (jsonStream, error) {
	encoded, err := json.Marshal(whole)
	if err != nil {
		return jsonStream{}, err
	}
	// The key can only be the field itself: inside a JSON string every quote is escaped, and
	// the quote that ends the field's name here is not.
	key := []byte(`"` + field + `":[]`)
	at := bytes.Index(encoded, key)
	if at < 0 || bytes.LastIndex(encoded, key) != at {
		return jsonStream{}, fmt.Errorf("%s is not once in the JSON, as an empty list", field)
	}
	split := at + len(key) - 1 // at the list's closing bracket
	resp := streamList(ctx, logger, rows, encode)
	resp.status = status
	resp.head = encoded[:split]
	resp.tail = append(bytes.Clone(encoded[split:]), '\n')
	return resp, nil
}
