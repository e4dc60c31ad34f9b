# gosgi: build, test, benchmark and try out.
#
#   make build     bin/uwsgi and bin/uwsgi-service
#   make test      install missing system packages, vet, gofmt check, all tests
#   make example   serve examples/hello.py on http://127.0.0.1:8080/
#   make fuzz      every Fuzz target for FUZZTIME each
#   make bench     bench/run (gosgi against the real uWSGI)

GO       ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
GOFMT    ?= $(shell command -v gofmt 2>/dev/null || echo /usr/local/go/bin/gofmt)
FUZZTIME ?= 10s
# The whole suite stays far below this on 2 cores; it only stops a hang.
TESTFLAGS ?= -count=1 -timeout 20m

# Debian packages the tests and the example need: Python for the workers,
# Flask for the test apps, nginx for uwsgi_pass tests, the real uWSGI as the
# reference of the differential tests (with its gevent plugin for gevent
# mode), curl and wrk for the benchmarks.
DEB_PACKAGES := python3 libpython3.11 python3-flask nginx-light uwsgi-core \
	uwsgi-plugin-python3 python3-uwsgidecorators curl wrk sqlite3 systemd rpm strace debootstrap \
	python3-gevent uwsgi-plugin-gevent-python3

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all build deps test vet fmt-check example fuzz bench deb rpm clean

all: build

build:
	CGO_ENABLED=1 $(GO) build -o bin/uwsgi ./cmd/uwsgi
	CGO_ENABLED=1 $(GO) build -o bin/uwsgi-service ./cmd/uwsgi-service

# Installs only what dpkg reports missing, so a prepared machine is untouched.
deps:
	@missing=""; \
	for p in $(DEB_PACKAGES); do \
		dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends $$missing; \
	fi
	$(GO) mod download

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$($(GOFMT) -l $$(find . -name '*.go' -not -path './.git/*')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

# The end-to-end tests (test/e2e) run bin/uwsgi against /usr/bin/uwsgi, so
# the binary is built first.
test: deps build vet fmt-check
	$(GO) test $(TESTFLAGS) ./...

# Packages from bin/ and the distribution files (nfpm as a library).
VERSION ?= 2.0.21+gosgi1
deb: build
	$(GO) run ./internal/packaging/cmd --format deb --version $(VERSION) --bin bin --out dist
rpm: build
	$(GO) run ./internal/packaging/cmd --format rpm --version $(VERSION) --bin bin --out dist

example: deps build
	@echo "serving examples/hello.py on http://127.0.0.1:8080/ (Ctrl-C stops)"
	bin/uwsgi --ini examples/hello.ini

# Runs each Fuzz target of each package alone (go test allows one -fuzz
# target per invocation).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$pkg $$f"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

bench:
	@if [ -x bench/run ]; then bench/run; else echo "bench/run not found"; exit 1; fi

clean:
	rm -rf bin dist
