"""The simulator as a process of its own, for stacks of subprocesses:

    python -m tests.simulator --port 0 [--scenario in.json] --state-file state.json --ready-file ready.json

Once it listens it writes the state file (the snapshot: identifiers, secrets), then the ready file
({"url", "ca_path", "pid"}, written last and atomically: wait for it), and prints the ready line. It serves
until SIGTERM or SIGINT. The parent drives it over HTTPS under /_simulator/ (see README.md)."""
import argparse
import json
import os
import signal
import sys
import threading

from . import Simulator


def write(path, data):
    temporary = f"{path}.tmp"
    with open(temporary, "w") as file:
        json.dump(data, file, indent=1)
    os.replace(temporary, path)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.simulator", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--scenario", help="a JSON scenario to load before serving")
    parser.add_argument("--state-file", help="where to write the snapshot once serving")
    parser.add_argument("--ready-file", help="where to write {url, ca_path, pid} once serving")
    parser.add_argument("--seed", type=int, default=1, help="seed of the fault decisions")
    parser.add_argument("--redirect-recordings", action="store_true",
                        help="recording /content answers 302 to a pre-authenticated URL")
    args = parser.parse_args(argv)

    stop = threading.Event()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signal_number, lambda *_: stop.set())
    sim = Simulator(seed=args.seed, redirect_recordings=args.redirect_recordings)
    if args.scenario:
        with open(args.scenario) as file:
            sim.load(json.load(file))
    sim.start(args.host, args.port)
    try:
        ready = {"url": sim.url, "ca_path": sim.ca_path, "pid": os.getpid()}
        if args.state_file:
            write(args.state_file, sim.snapshot())
        if args.ready_file:
            write(args.ready_file, ready)
        print(json.dumps(ready), flush=True)
        stop.wait()
    finally:
        sim.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
