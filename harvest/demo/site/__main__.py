"""`python -m harvest.demo.site [--host H] [--port N] [--seed S]`: serve the demo site until Ctrl-C."""
from __future__ import annotations

import argparse

from harvest.demo.site import DemoSite, run_forever


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m harvest.demo.site", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    run_forever(args.host, args.port, DemoSite(args.seed),
                ready=lambda url: print(f"demo site at {url}/ (Ctrl-C to stop)", flush=True))


if __name__ == "__main__":
    main()
