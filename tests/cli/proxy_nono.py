"""``nono`` with its proxy tuned for the tests: ``python proxy_nono.py SPEC.json ARGS...``.

There is no DNS here and the test upstreams present a test CA's certificate on 127.0.0.1,
so the proxy of the ``nono run`` under test must resolve names from a map, trust that CA
and let allowlisted names reach loopback. ``nonoc.runtime.run.proxy_hook.TUNING`` is the
seam for that; nono never reads it from the environment, so this wrapper sets it in code
and then runs nono's real command line (``nonoc.cli.nono.main``) in the same process.

SPEC (JSON): ``resolver`` (a ``MapResolver`` table), ``ca`` (PEM file, optional),
``allow_loopback`` (bool), ``events`` (a file that receives one JSON line per proxy
decision, written from the proxy's thread).
"""

from __future__ import annotations

import json
import ssl
import sys
from typing import Any


def main(spec_file: str, argv: list[str]) -> int:
    """Set the tuning from ``spec_file`` and run ``nono ARGV``."""
    from nonoc.runtime.proxy import Limits, MapResolver
    from nonoc.runtime.run import proxy_hook

    with open(spec_file, encoding="utf-8") as handle:
        spec: dict[str, Any] = json.load(handle)
    events = open(spec["events"], "a", encoding="utf-8", buffering=1)  # noqa: SIM115

    def record(event: Any) -> None:
        events.write(json.dumps(event.to_dict()) + "\n")

    proxy_hook.TUNING = proxy_hook.ProxyTuning(
        resolver=MapResolver(spec.get("resolver", {})),
        upstream_tls=ssl.create_default_context(cafile=spec["ca"]) if spec.get("ca") else None,
        allow_loopback=bool(spec.get("allow_loopback")),
        limits=Limits(head_timeout=5.0, idle_timeout=5.0, connect_timeout=5.0),
        on_event=record,
    )
    from nonoc.cli.nono import main as nono

    try:
        return nono(argv)
    finally:
        events.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
