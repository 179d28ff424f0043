# zerotls: the two commands a newcomer needs are `make demo` and `make test`.
# Both create (or reuse) .venv and install what they need, Debian packages included.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Debian packages the tests start as real peers.
DEB_PACKAGES := openssl stunnel4 nginx-light openjdk-17-jre-headless gnutls-bin iproute2 chromium
# Extra peers for the side-by-side benchmarks only (`make bench-deps`).
BENCH_DEB_PACKAGES := testssl.sh stunnel4 haproxy nginx libnginx-mod-stream hitch

.PHONY: demo test lint typecheck unit bench bench-deps system-deps screenshots clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

bench-deps:
	$(MAKE) system-deps DEB_PACKAGES="$(BENCH_DEB_PACKAGES)"

system-deps:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

demo: $(STAMP)
	$(PY) -m zerotls demo

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy

unit: $(STAMP) system-deps
	$(PY) -m pytest -q

test: lint typecheck unit

# The screenshots of the HTML reports in docs/img, taken in headless Chromium by the test
# that checks them.
screenshots: $(STAMP) system-deps
	ZEROTLS_SCREENSHOTS=docs/img $(PY) -m pytest -q tests/test_reports_browser.py

bench: $(STAMP)
	$(PY) bench/handshakes.py
	$(PY) bench/idle_memory.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
