# `make run` serves the board; `make test` runs every test. Both set themselves up.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi

.PHONY: run demo test bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt $(BIN)/activate
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements-dev.txt requirements.txt $(BIN)/activate
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.installed $@

run: $(VENV)/.installed
	$(FLASK) db upgrade
	$(FLASK) scoreboard seed
	$(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

# The service plus a traffic simulator, so the board at http://127.0.0.1:8000 moves at once.
demo: $(VENV)/.installed
	$(FLASK) db upgrade
	$(FLASK) scoreboard seed
	$(BIN)/gunicorn -c gunicorn.conf.py wsgi:app & server=$$!; \
	trap 'kill $$server' EXIT INT TERM; sleep 2; \
	$(FLASK) scoreboard simulate --url http://127.0.0.1:$${PORT:-8000}

# Three processes (pytest-xdist) on two cores: the tests wait on servers, browsers and
# clusters starting as much as they compute, and a third process fills those waits (the
# whole of `make test` took 5 min 24 s with three, 6 min 45 s with two, on this project's
# 2-core machine). With three the machine is busy (4 % idle), so a fourth would not help.
# One that runs out of tests takes some of another's (worksteal), so the long browser files
# do not finish alone. TEST_WORKERS=0 runs in this process alone.
# schemathesis's items share one node id (its plugin on pytest 9), which xdist cannot tell
# apart, so its file runs in a process of its own (exit status 5: PYTEST_ARGS selected none
# of its tests), beside the others rather than after them: the suite waits on servers and
# browsers more than it computes, so the two cores have room for it. Its report (and its
# pytest cache) is kept apart and printed after theirs.
TEST_WORKERS ?= 3
SCHEMATHESIS := tests/web/test_schemathesis.py
test: $(VENV)/.dev-installed
	@report=$$(mktemp); \
	$(BIN)/python -m pytest $(SCHEMATHESIS) -o cache_dir=.pytest_cache/schemathesis \
		$(PYTEST_ARGS) >$$report 2>&1 & schemathesis=$$!; \
	trap 'kill $$schemathesis 2>/dev/null; rm -f $$report; exit 130' INT TERM; \
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal --ignore=$(SCHEMATHESIS) \
		$(PYTEST_ARGS); others=$$?; \
	wait $$schemathesis; documented=$$?; cat $$report; rm -f $$report; \
	[ $$others -eq 0 ] && { [ $$documented -eq 0 ] || [ $$documented -eq 5 ]; }

# Figures for docs/PERFORMANCE.md (minutes; needs PostgreSQL and Redis as the tests do, and
# Debian's wrk for bench/http_load.py).
bench: $(VENV)/.dev-installed
	$(BIN)/python bench/http_load.py --players 1000 --seconds 10 --listener \
		--json bench/figures/http_single.json
	$(BIN)/python bench/http_load.py --players 1000 --seconds 10 --listener --redis cluster \
		--json bench/figures/http_cluster.json
	$(BIN)/python bench/update_cost.py --instructions
	$(BIN)/python bench/stream_fanout.py --clients 10000 --updates 20 \
		--json bench/figures/stream_fanout.json
	$(BIN)/python bench/pubsub_fanout.py --subscribers 200 --messages 50000 \
		--json bench/figures/pubsub_fanout.json
	$(BIN)/python bench/capacity.py bench/figures/http_single.json \
		--cluster bench/figures/http_cluster.json --streams bench/figures/stream_fanout.json \
		--pubsub bench/figures/pubsub_fanout.json
	$(BIN)/python bench/stream_fanout.py --clients 1000 5000 --updates 20
	$(BIN)/python bench/bare_gevent_memory.py --clients 10000
	$(BIN)/python bench/views_scale.py --players 1000 1000000
	$(BIN)/python bench/graceful_stop.py --streams 20 --runs 3

clean:
	rm -rf $(VENV) .pytest_cache
