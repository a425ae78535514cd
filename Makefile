# importhub: `make run` serves the app with a worker; `make test` runs the whole suite.
# Both set everything up first (scripts/setup.sh). DATABASE_URL=mysql://... switches both to MySQL.
VENV ?= .venv
PY := $(VENV)/bin/python
ROWS ?= 1000000

.PHONY: setup run test bench lint format check clean

setup:
	@bash scripts/setup.sh

# Migrates, loads the demo tables, creates the admin login, serves with a worker and prints one block:
# the URL, the login, where the logs go (var/log/). See scripts/run.sh.
run: setup
	@bash scripts/run.sh

test:
	@bash scripts/setup.sh test
	$(PY) manage.py check
	$(PY) -m pytest $(PYTEST_ARGS)

bench: setup
	$(PY) manage.py migrate --noinput
	$(PY) manage.py bench_import --rows $(ROWS) $(BENCH_ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run
	DJANGO_ENV=production SECRET_KEY=ci-only-$$(date +%s%N)-not-a-real-secret-0123456789abcdefghij \
		ALLOWED_HOSTS=imports.example.com $(PY) manage.py check --deploy --fail-level WARNING

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf var/test var/uploads
