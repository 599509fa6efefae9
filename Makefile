# Every target installs what it needs first (scripts/bootstrap.sh is idempotent).
SHELL := /bin/bash
export PATH := $(HOME)/.local/bin:$(PATH)
export PREFECT_SERVER_ANALYTICS_ENABLED := false
# Prefect's ephemeral server gets 20 s to start by default: too few on a busy 2-core box.
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 120
PACKAGES := api core flows tasks storage models deployments

.PHONY: demo test lint format bench setup stack stack-down assets

setup:
	@scripts/bootstrap.sh

demo: setup
	uv run --frozen python -m deployments.demo

test:
	@scripts/bootstrap.sh --tests
	uv run --frozen pytest

lint: setup
	uv run --frozen ruff format --check .
	uv run --frozen ruff check .
	uv run --frozen mypy

format: setup
	uv run --frozen ruff format .
	uv run --frozen ruff check --fix .

bench: setup
	uv run --frozen python -m bench.run_all

# A Prefect server (on PostgreSQL when one answers on 127.0.0.1:5432), SeaweedFS S3
# and a worker on the work pool; `stack-down` stops only what `stack` started.
stack: setup
	@deployments/stack.sh up

stack-down:
	@deployments/stack.sh down

# The web library's browser code from npm at pinned versions, committed under api/web/static/vendor/.
assets:
	@scripts/vendor_assets.sh
