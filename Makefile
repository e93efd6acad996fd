# See README.md. `make test` and `make run` install what they need (versitygw
# into ~/.cache/s3dfs/bin) on a Debian machine with Go.

GO      ?= go
BIN     := bin/s3dfs
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: all build test test-seaweedfs run vet fmt bench clean

all: build

build:
	$(GO) build -ldflags "-X github.com/s3dfs/s3dfs/cmd/s3dfs/cli.Version=$(VERSION)" -o $(BIN) ./cmd/s3dfs

test:
	scripts/test.sh

# s3dfs on SeaweedFS (S3 gateway and weed mount); builds weed once (~6 min).
test-seaweedfs:
	scripts/test-seaweedfs.sh

run: build
	scripts/run.sh

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $$(find . -name '*.go' -not -path './.git/*')

bench:
	scripts/with-s3.sh $(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin
