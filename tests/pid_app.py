"""A WSGI application for tests/test_web_workers.py: answers with the process id of the worker that served it,
after about 10 ms of CPU with the interpreter lock held (as a page takes)."""
import os


def app(environ, start_response):
    total = 0
    for number in range(200_000):
        total += number
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
