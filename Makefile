# entitle: `make run` starts the server on its embedded database; `make test` runs every test.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo v0.0.0-dev)
LDFLAGS := -X main.version=$(VERSION)

# The linter is pinned; it is built once into bin/tools.
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT         := $(CURDIR)/bin/tools/golangci-lint-$(GOLANGCI_LINT_VERSION)

# make run keeps its data here; override with `make run DATA_DIR=...`.
DATA_DIR  ?= $(CURDIR)/.data
# make run listens here; override with `make run HTTP_ADDR=...` or ENTITLE_HTTP_ADDRESS.
HTTP_ADDR ?= $(or $(ENTITLE_HTTP_ADDRESS),127.0.0.1:3000)

# Spec linters, pinned, run through npx from the npm registry.
REDOCLY_VERSION  := 2.77.0
SPECTRAL_VERSION := 6.16.3

.PHONY: all generate check-generated build run test test-race test-faults test-browser test-rules lint lint-spec fuzz bench bench-scale clean

all: build

## generate: regenerate gen/ from openapi.yaml with the oapi-codegen pinned in go.mod
generate:
	$(GO) generate ./gen

## check-generated: fail when gen/ differs from what openapi.yaml generates
check-generated:
	@scripts/check-generated

## build: compile bin/entitle
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/entitle ./cmd/entitle

## run: start the server on the embedded SQLite database in ./.data, with a development
## license signing key (private key in ./.data, public key in the server's keys directory)
DEV_KEY := $(DATA_DIR)/dev-license-signing-key.pem
run: build
	@mkdir -p "$(DATA_DIR)"
	@test -f "$(DEV_KEY)" || ./bin/entitle license keygen --kid dev --private-out "$(DEV_KEY)" --public-dir "$(DATA_DIR)/license-keys"
	@echo
	@echo "entitle is starting on http://$(HTTP_ADDR) (data in $(DATA_DIR))"
	@echo "  Swagger UI:   http://$(HTTP_ADDR)/swagger/"
	@echo "  API:          http://$(HTTP_ADDR)/api/v2"
	@echo "In another terminal:"
	@echo "  1. Create the first user (the owner) and sign in:"
	@echo "       ./bin/entitle login http://$(HTTP_ADDR) --first-user-email admin@example.com --first-user-username admin --first-user-password correct-horse"
	@echo "  2. Sign a 30-day development license and upload it:"
	@echo "       ./bin/entitle license sign --key $(DEV_KEY) --kid dev --all-features --expires 30d > dev.license"
	@echo "       ./bin/entitle licenses add dev.license"
	@echo "  3. ./bin/entitle entitlements"
	@echo
	./bin/entitle server --data-dir "$(DATA_DIR)" --http-address "$(HTTP_ADDR)"

## test: every test, on SQLite and on PostgreSQL (TEST_POSTGRES_URL), then the packages that
## hold the server's shared state (caches, entitlements, the request pipeline, audit) again with
## the race detector. Under the race detector the embedded SQLite (C translated to Go) runs about
## twenty times slower, which put the whole suite at eight minutes; test-race runs it all.
RACE_PACKAGES := ./server/ ./store/... ./entitlements/ ./audit/ ./license/ ./password/ ./session/
test:
	$(GO) test -count=1 -timeout 20m ./...
	$(GO) test -race -count=1 -timeout 20m $(RACE_PACKAGES)

## test-race: every test with the race detector (slow: about eight minutes on two cores; CI runs it)
test-race:
	$(GO) test -race -count=1 -timeout 30m ./...

## test-faults: the fault suite, on the real binary: PostgreSQL stopped and started under load
## (on a private PostgreSQL the suite makes with initdb), kill -9 during SQLite writes, SIGTERM
## under keep-alive load, two replicas on PostgreSQL. A few minutes; not part of `make test`.
test-faults:
	$(GO) test -tags faults -count=1 -timeout 20m -v ./e2e/faults/

## test-browser: Swagger UI driven in a real headless Chromium (installs Debian's chromium if missing)
test-browser:
	scripts/test-browser

## test-rules: check and unit-test the Prometheus alert rules (installs Debian's prometheus for promtool if missing)
test-rules:
	scripts/test-rules

## lint: golangci-lint (pinned) over the hand-written code
lint: $(GOLANGCI_LINT)
	$(GOLANGCI_LINT) run --allow-parallel-runners ./...

## lint-spec: lint openapi.yaml with redocly (redocly.yaml) and spectral (.spectral.yaml: spectral:oas)
lint-spec:
	npx --yes @redocly/cli@$(REDOCLY_VERSION) lint openapi.yaml
	npx --yes @stoplight/spectral-cli@$(SPECTRAL_VERSION) lint --fail-severity=warn openapi.yaml

$(GOLANGCI_LINT):
	@mkdir -p $(dir $@)
	GOBIN=$(dir $@) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv $(dir $@)/golangci-lint $@

## fuzz: run each of the four fuzz targets for FUZZTIME (default 150s, 10 minutes in all); a
## crasher is written under the package's testdata/fuzz and then runs in `make test`
FUZZTIME ?= 150s
fuzz:
	$(GO) test ./session/ -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./license/ -run '^$$' -fuzz '^FuzzVerifyUpload$$' -fuzztime $(FUZZTIME)
	$(GO) test ./license/ -run '^$$' -fuzz '^FuzzVerifySignedPayload$$' -fuzztime $(FUZZTIME)
	$(GO) test ./server/ -run '^$$' -fuzz '^FuzzAPIRequest$$' -fuzztime $(FUZZTIME)

## bench: the hot routes under wrk on SQLite and PostgreSQL beside a ceiling measured in the
## same run, CPU profiles of each, and the Go micro-benchmarks; writes BENCHMARKS.md (see
## scripts/bench for the BENCH_* settings)
bench:
	scripts/bench

## bench-scale: 1M organizations on SQLite and PostgreSQL: start-up, reads, pages, full lists,
## RSS, and a 10k-license recompute; slow, not part of test (see scripts/bench-scale)
bench-scale:
	scripts/bench-scale

clean:
	rm -rf bin
