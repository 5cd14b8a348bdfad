# The two commands a new machine needs are `make up` and `make test`.
GO ?= go
BIN := bin

.PHONY: build up test unit e2e vet fmt-check clean generate verify-generated fuzz

# The version stamp Kubernetes' own build puts into its binaries, so the API
# server's /version (kubectl version, Helm's kubeVersion) reports the
# Kubernetes of go.mod's k8s.io/kubernetes line, with Myriad's commit and
# the build date. A plain `go build` derives the same Kubernetes version at
# start-up (pkg/version).
KUBE_VERSION := $(shell $(GO) list -m -f '{{.Version}}' k8s.io/kubernetes 2>/dev/null)
KUBE_MAJOR := $(word 1,$(subst ., ,$(patsubst v%,%,$(KUBE_VERSION))))
KUBE_MINOR := $(word 2,$(subst ., ,$(patsubst v%,%,$(KUBE_VERSION))))
GIT_COMMIT := $(shell git rev-parse HEAD 2>/dev/null)
GIT_TREE_STATE := $(shell if git diff --quiet HEAD -- 2>/dev/null; then echo clean; else echo dirty; fi)
BUILD_DATE := $(shell date -u +'%Y-%m-%dT%H:%M:%SZ')
VERSION_PKG := k8s.io/component-base/version
LDFLAGS := -X $(VERSION_PKG).gitVersion=$(KUBE_VERSION) -X $(VERSION_PKG).gitMajor=$(KUBE_MAJOR) \
	-X $(VERSION_PKG).gitMinor=$(KUBE_MINOR) -X $(VERSION_PKG).gitCommit=$(GIT_COMMIT) \
	-X $(VERSION_PKG).gitTreeState=$(GIT_TREE_STATE) -X $(VERSION_PKG).buildDate=$(BUILD_DATE)

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/myriad ./cmd/myriad

up: build
	$(BIN)/myriad up

# Everything CI runs: formatting, vet, unit tests and the end-to-end tests
# against a real `myriad up` (the e2e package builds the binary itself).
test: verify-generated fmt-check vet
	$(GO) test -timeout 45m ./...

unit:
	$(GO) test $$($(GO) list ./... | grep -v /test/e2e)

e2e:
	$(GO) test -timeout 45m -v ./test/e2e/

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Deepcopy and CRDs from pkg/apis. generateEmbeddedObjectMeta keeps the
# labels, annotations and names of embedded templates (pod template, PVC
# templates) from being pruned by the API server.
generate:
	$(GO) tool controller-gen object paths=./pkg/apis/... crd:generateEmbeddedObjectMeta=true paths=./pkg/apis/... output:crd:artifacts:config=config/crd

# Regenerates into the tree and fails if that changed or created any file
# under pkg/apis or config. On a clean checkout (CI) that is exactly "git diff
# or untracked files after generate"; locally it does not fail on uncommitted
# work whose generated files are already current.
verify-generated:
	@sum() { find pkg/apis config -type f -print0 2>/dev/null | sort -z | xargs -0 -r sha256sum; }; \
	before=$$(sum); $(MAKE) --no-print-directory generate >/dev/null || exit 1; after=$$(sum); \
	if [ "$$before" != "$$after" ]; then \
		echo "generated files were stale; run make generate and commit:"; \
		git status --short -- pkg/apis config; exit 1; fi

clean:
	rm -rf $(BIN)

# Every Go fuzz target, FUZZTIME each (their seed corpora already run in
# `make test`). Crashers land in the package's testdata/fuzz/ and fail the
# target; commit them as regression seeds once fixed.
FUZZTIME ?= 60s
FUZZ_TARGETS := \
	./pkg/webhook:FuzzValidateCloneSet \
	./pkg/webhook:FuzzParseIntOrPercent \
	./internal/cli:FuzzParseCapacity \
	./pkg/lab:FuzzParseText \
	./pkg/nodesim:FuzzParseImageCatalog \
	./pkg/nodesim:FuzzPodLifecycle \
	./pkg/nodesim/sandbox:FuzzRun \
	./pkg/nodesim/usage:FuzzParse \
	./pkg/containermeta:FuzzEnvRef

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "== $$name ($$pkg, $(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done
