# yeyak — run `make help` for the targets.
SHELL := /bin/bash
CARGO ?= cargo

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*?## "} /^[a-zA-Z_-]+:.*?## / {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: run
run: ## Run all four services on the embedded default (SQLite under ./data); prints addresses and dev tokens
	$(CARGO) run --release -p yeyak -- run

.PHONY: token
token: ## Print a dev token: make token ROLE=operator PARTNER=<uuid> [PLACES=<uuid,...>]
	@$(CARGO) run --quiet --release -p yeyak -- token --role $(or $(ROLE),customer) $(if $(PARTNER),--partner $(PARTNER)) $(if $(PLACES),--places $(PLACES))

.PHONY: test
test: ## Run the whole test suite; starts PostgreSQL and installs the Kafka-API broker if needed (CI=true: missing services fail)
	./scripts/ensure-postgres.sh
	@pg_tls=$$(./scripts/ensure-postgres-tls.sh) || exit 1; \
	broker=$$(./scripts/install-tansu.sh) || { if [ "$${CI:-}" = "true" ]; then exit 1; fi; echo "no Kafka-API broker: its tests will be skipped" >&2; }; \
	k8s=$$(./scripts/install-k8s-tools.sh) || { if [ "$${CI:-}" = "true" ]; then exit 1; fi; echo "no manifest tools: their tests will be skipped" >&2; }; \
	set -x; \
	YEYAK_TANSU_BIN="$$broker" $(CARGO) build --workspace --bins --locked && \
	YEYAK_TANSU_BIN="$$broker" YEYAK_K8S_PYTHON="$$k8s" YEYAK_TEST_PG_TLS_URL="$$pg_tls" $(CARGO) test --workspace --locked

.PHONY: fmt
fmt: ## Format the code
	$(CARGO) fmt --all

.PHONY: lint
lint: ## Check formatting and clippy (warnings are errors)
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

.PHONY: bench
bench: ## Run the benchmarks: event log, bookings (SQLite, PostgreSQL), relay and commit-to-effect over Kafka
	./scripts/ensure-postgres.sh
	$(CARGO) build --release --locked --workspace --bins
	@broker=$$(./scripts/install-tansu.sh) || broker=""; \
	YEYAK_TANSU_BIN="$$broker" $(CARGO) run --release --locked -p yeyak-bench
