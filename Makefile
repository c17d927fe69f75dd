# The few commands a contributor needs. Each one works on a fresh clone.
.PHONY: setup test demo lint format

# Extra pytest arguments, e.g. make test ARGS='-m "not slow"'
ARGS ?=

setup:
	./bin/setup

test:
	./bin/test $(ARGS)

demo:
	./bin/demo

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy attribution/engine

format: setup
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .
