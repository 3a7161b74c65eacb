# ringscope: `make run` and `make test` set up everything on a fresh Debian 12
# machine as root (apt packages, .venv, BPF objects), then run.

SHELL := /bin/bash
VENV ?= .venv
# The distribution's interpreter (python3-venv below), not one under a
# user's home: a user without root (CAP_BPF + CAP_PERFMON only, or nobody
# for the replay tests) must be able to run the venv.
PYTHON ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || echo python3)
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
CLANG ?= clang
BPFTOOL ?= bpftool
export CLANG BPFTOOL

APT_PACKAGES := clang llvm libbpf-dev bpftool linux-perf bpftrace chromium python3-venv python3-dev gcc make prometheus golang-go nats-server libc6-dbg
# Python files outside the package that lint and type checks cover too.
BUILD_PY := setup.py bpf/bpfbuild.py bpf/pin_vmlinux.py

.PHONY: all setup deps venv bpf vmlinux run test lint bench clean vendor

all: setup

setup: deps venv bpf

# Install only what is missing, so a set-up machine pays nothing.
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "apt-get install:$$missing"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi
	@mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[dev]'
	touch $@

# The BPF objects, by the one rule the Python build (setup.py) uses too:
# bpf/bpfbuild.py rebuilds what changed, against the pinned minimal vmlinux.h.
bpf:
	$(PYTHON) bpf/bpfbuild.py --out src/ringscope/_bpf

# Regenerate the pinned vmlinux.h from this kernel's BTF, when a program starts
# using a kernel type or field it lacks (why it is pinned: bpf/pin_vmlinux.py).
vmlinux:
	$(PYTHON) bpf/pin_vmlinux.py

run: setup
	$(VENV)/bin/ringscope serve

test: setup
	$(VENV)/bin/ruff check src tests bench $(BUILD_PY)
	$(VENV)/bin/ruff format --check src tests bench $(BUILD_PY)
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest

bench: setup
	$(PY) -m bench

# The dashboard's JavaScript libraries, pinned, from the npm registry (needs
# npm; the files are committed, so neither setup nor test runs this).
vendor:
	python3 tools/vendor_js.py

clean:
	rm -rf src/ringscope/_bpf build dist bench/build
