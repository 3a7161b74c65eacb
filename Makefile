# ringscope: `make run` and `make test` set up everything on a fresh Debian 12
# machine as root (apt packages, .venv, BPF objects), then run.

SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
CLANG ?= clang
BPFTOOL ?= bpftool
ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

APT_PACKAGES := clang llvm libbpf-dev bpftool linux-perf bpftrace chromium prometheus python3-venv python3-dev gcc make
BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,src/ringscope/_bpf/%.bpf.o,$(BPF_SRCS))
BPF_HDRS := $(wildcard bpf/include/*.h)
VMLINUX := bpf/include/vmlinux.h
BPF_CFLAGS := -O2 -g -Wall -Werror -target bpf -D__TARGET_ARCH_$(ARCH) -Ibpf/include

.PHONY: all setup deps venv bpf run test lint bench clean vendor

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
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[dev]'
	touch $@

# vmlinux.h is generated from this machine's BTF rather than committed: the
# build host is the target here, CO-RE relocations keep the object portable to
# other BTF kernels, and a 3 MB generated header in git only goes stale.
$(VMLINUX):
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

src/ringscope/_bpf/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) $(VMLINUX)
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

bpf: $(BPF_OBJS)

run: setup
	$(VENV)/bin/ringscope serve

test: setup
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest

bench: setup
	$(PY) -m bench

# The dashboard's JavaScript libraries, pinned, from the npm registry (needs
# npm; the files are committed, so neither setup nor test runs this).
vendor:
	python3 tools/vendor_js.py

clean:
	rm -rf src/ringscope/_bpf/*.bpf.o $(VMLINUX) bench/build
