# Voltop: `make run` serves a demo fleet, `make test` runs the suite. See README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
HOST ?= 127.0.0.1
PORT ?= 8000
OCPP_PORT ?= 9000
STATIONS ?= 3
LOCK_FLAGS := --quiet --allow-unsafe --strip-extras --generate-hashes --no-emit-index-url --no-emit-find-links

.PHONY: install run serve test lint format worker beat gateway simulate processes check lock clean

$(VENV)/.installed: requirements/dev.lock
	@$(PYTHON) -c 'import sys; sys.exit("Voltop needs Python 3.11 or newer, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --require-hashes -r requirements/dev.lock
	$(BIN)/pip check --disable-pip-version-check
	@touch $@

install: $(VENV)/.installed .env

.env:
	cp .env.example .env

run: install
	@echo "==> Applying database migrations"
	@LOG_LEVEL=WARNING $(PY) manage.py migrate --no-input --verbosity 0
	@echo "==> Building the demo fleet (once; kept on later runs; sessions it leaves unpriced are listed in the admin)"
	@LOG_LEVEL=ERROR $(PY) manage.py seed_demo
	@echo "==> Making sure the local admin login exists"
	@LOG_LEVEL=WARNING $(PY) manage.py ensure_admin
	@echo "==> Serving Voltop at http://$(HOST):$(PORT)/ (admin at /admin/, API docs at /api/docs/); Ctrl-C stops it"
	@$(PY) manage.py runserver $(HOST):$(PORT)

serve: install
	$(PY) manage.py collectstatic --no-input
	$(BIN)/gunicorn voltop.wsgi --bind $(HOST):$(PORT) --workers 2

test: install
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

worker: install
	$(BIN)/celery -A voltop worker --loglevel INFO

beat: install
	$(BIN)/celery -A voltop beat --loglevel INFO --schedule var/celerybeat-schedule

gateway: install
	$(PY) manage.py ocpp_gateway --host $(HOST) --port $(OCPP_PORT)

simulate: install
	$(PY) manage.py ocpp_simulate --fleet demo --stations $(STATIONS) --host $(HOST) --port $(OCPP_PORT)

# Web, Celery worker and beat, and the OCPP gateway together (with REDIS_URL set);
# Ctrl-C stops them all.
processes: install
	@trap 'kill 0' INT TERM EXIT; \
	$(PY) manage.py runserver $(HOST):$(PORT) & \
	$(BIN)/celery -A voltop worker --loglevel INFO & \
	$(BIN)/celery -A voltop beat --loglevel INFO --schedule var/celerybeat-schedule & \
	$(PY) manage.py ocpp_gateway --host $(HOST) --port $(OCPP_PORT) & \
	wait

check: install
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

lock: install
	$(BIN)/pip-compile $(LOCK_FLAGS) -o requirements/base.lock pyproject.toml
	$(BIN)/pip-compile $(LOCK_FLAGS) --extra dev -c requirements/base.lock -o requirements/dev.lock pyproject.toml

clean:
	rm -rf $(VENV) var/*.sqlite3 var/static
