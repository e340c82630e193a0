# Spindle build. See README.md for the two commands a newcomer needs.
#
# Protocol definitions in proto/ were written from shared/reference/hadoop-wire.md
# and checked against the Hadoop 3.3.6 wire captures (shared/fixtures/hadoop-3.3.6).
HADOOP_CHECKED_VERSION := 3.3.6

MODULE        := github.com/spindle-yarn/spindle
VERSION       ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
BIN           := $(CURDIR)/bin
GO            ?= go
FUZZTIME      ?= 10s

# Pinned code generators. protoc comes from Debian's protobuf-compiler (bookworm: 3.21.12).
PROTOC               ?= protoc
PROTOC_VERSION       := 3.21.12
PROTOC_GEN_GO_VERSION := v1.36.11
PROTO_FILES := $(sort $(wildcard proto/commonpb/*.proto proto/yarnpb/*.proto proto/hdfspb/*.proto))

.PHONY: all build demo test test-integration fuzz lint proto check-proto check-deps check check-deploy dashboard tools run-local

all: build

build:
	$(GO) build -ldflags "-X main.Version=$(VERSION)" -o $(BIN)/spindle ./cmd/spindle

demo: ## the main job on the embedded mini cluster (scripts/demo.sh)
	bash scripts/demo.sh

# Kerberos tests skip without an MIT KDC (internal/krbtest); each skip is
# recorded in $SPINDLE_KDC_SKIPS and summed up in one line per cause.
# SPINDLE_REQUIRE_KDC=1 (CI) makes them fail instead. The exit status is go test's.
test:
	@skips=$$(mktemp); \
	echo "$(GO) test -race -count=1 -timeout 10m ./..."; \
	SPINDLE_KDC_SKIPS=$$skips $(GO) test -race -count=1 -timeout 10m ./...; status=$$?; \
	awk -F'\t' '{ n[$$1]++ } END { for (why in n) printf "%d Kerberos test%s skipped: %s\n", n[why], n[why] == 1 ? "" : "s", why }' $$skips; \
	rm -f $$skips; exit $$status

test-integration:
	$(GO) test -race -count=1 -tags integration -timeout 20m ./...

# Every fuzz target, each for FUZZTIME. Targets are found with `go test -list`.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$t"; \
	    $(GO) test -run='^$$' -fuzz="^$$t$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=3s $$pkg; \
	  done; \
	done

$(BIN)/protoc-gen-go:
	GOBIN=$(BIN) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)

$(BIN)/staticcheck:
	GOBIN=$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2

tools: $(BIN)/protoc-gen-go

proto: $(BIN)/protoc-gen-go
	@v=$$($(PROTOC) --version | awk '{print $$2}'); if [ "$$v" != "$(PROTOC_VERSION)" ]; then \
	  echo "protoc $$v found, $(PROTOC_VERSION) required (apt-get install protobuf-compiler on Debian 12)"; exit 1; fi
	PATH=$(BIN):$$PATH $(PROTOC) -I proto --go_out=. --go_opt=module=$(MODULE) $(PROTO_FILES)

check-proto: proto
	@git diff --exit-code -- proto/ || (echo "generated code is stale: run 'make proto' and commit"; exit 1)
	@test -z "$$(git status --porcelain -- proto/)" || (git status --porcelain -- proto/; echo "untracked generated files: run 'make proto' and commit"; exit 1)

# The one-way layering of STYLE.md §1: only ipc/ and yarn/ (and their test servers,
# and the mini cluster) may import proto/; ipc/ imports nothing above it.
check-deps:
	@./.ci/check-deps

lint: $(BIN)/staticcheck
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(BIN)/staticcheck ./...

# deploy/ is a Go module of its own (the Grafana dashboard, generated
# from Go, and the Prometheus alert rules). check-deploy: the committed
# dashboard is current, every query names metrics that exist, promtool
# accepts the rules and their unit tests pass (it needs Debian's
# prometheus package; SPINDLE_REQUIRE_PROMETHEUS=1 fails instead of
# skipping without it).
dashboard:
	cd deploy && $(GO) run ./grafana/gen -o grafana/spindle.json

check-deploy:
	cd deploy && $(GO) vet ./... && $(GO) test -count=1 ./...

check: check-proto check-deps lint check-deploy
	$(GO) mod tidy && git diff --exit-code go.mod go.sum
