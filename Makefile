# The two commands a new machine needs are `make up` and `make test`.
GO ?= go
BIN := bin

.PHONY: build up test unit e2e vet fmt-check clean

build:
	$(GO) build -o $(BIN)/myriad ./cmd/myriad

up: build
	$(BIN)/myriad up

# Everything CI runs: formatting, vet, unit tests and the end-to-end tests
# against a real `myriad up` (the e2e package builds the binary itself).
test: fmt-check vet
	$(GO) test -timeout 45m ./...

unit:
	$(GO) test $$($(GO) list ./... | grep -v /test/e2e)

e2e:
	$(GO) test -timeout 45m -v ./test/e2e/

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

clean:
	rm -rf $(BIN)
