package testenv

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"

	"entitle/server"
)

// ValidatingDoer sends requests and fails the test when a response to an API route does not
// match openapi.yaml: status, headers and body are checked with openapi3filter.ValidateResponse,
// so the spec and the server cannot drift apart unnoticed.
type ValidatingDoer struct {
	t      testing.TB
	client *http.Client
	spec   *server.Spec
}

// NewValidatingDoer wraps client.
func NewValidatingDoer(t testing.TB, client *http.Client) *ValidatingDoer {
	spec, err := server.LoadSpec()
	if err != nil {
		t.Fatalf("load spec: %v", err)
	}
	return &ValidatingDoer{t: t, client: client, spec: spec}
}

// Do sends req and validates the response; the body stays readable.
func (d *ValidatingDoer) Do(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		reqBody = b
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if strings.HasPrefix(req.URL.Path, server.APIPrefix) {
		d.validate(req, reqBody, resp, body)
	}
	return resp, nil
}

func (d *ValidatingDoer) validate(req *http.Request, reqBody []byte, resp *http.Response, body []byte) {
	d.t.Helper()
	if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed {
		// An unknown route has no operation to check against; its envelope is still checked.
		if !strings.Contains(string(body), `"message"`) {
			d.t.Errorf("%s %s: %d without the error envelope: %s", req.Method, req.URL.Path, resp.StatusCode, body)
		}
	}
	routeReq := req.Clone(context.Background())
	routeReq.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, params, stripped, err := d.spec.Route(routeReq)
	if err != nil {
		return
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request:    stripped,
			PathParams: params,
			Route:      route,
		},
		Status: resp.StatusCode,
		Header: resp.Header,
		Body:   io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{
			IncludeResponseStatus:   true,
			MultiError:              true,
			SchemaValidationOptions: d.spec.SchemaOptions,
		},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), input); err != nil {
		d.t.Errorf("response to %s %s (%d) does not match openapi.yaml: %v\nbody: %s", req.Method, req.URL.Path, resp.StatusCode, err, body)
	}
}
