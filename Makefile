.PHONY: run test

# Run the portal and its background worker on http://127.0.0.1:8000 (Ctrl-C stops both).
run:
	@scripts/run.sh

# The whole test suite: SQLite with the browser tests, then PostgreSQL + Redis + S3.
test:
	@scripts/test.sh
