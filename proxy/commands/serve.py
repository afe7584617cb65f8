"""`assurance serve`: run the proxy, from flags alone or a TOML file plus overriding flags (SPEC 8).

With no config file, `--upstream-url` names one OpenAI-compatible upstream (key from the environment
variable `--upstream-key-env`, default `OPENAI_API_KEY`) serving every model. Modes `shadow` and
`enforce` are served by the assurance pipeline (`proxy.assurance.lifecycle.setup_assurance`). This
module only turns arguments into a `Config` and starts `proxy.server.runner`.
"""

from __future__ import annotations

import argparse
import os
import sys

from proxy.assurance.lifecycle import setup_assurance
from proxy.config import CliOverrides, ConfigError, load_config
from proxy.server.log import configure_logging
from proxy.server.runner import run_server


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `assurance serve`."""
    parser.add_argument("--config", metavar="FILE", help="TOML configuration file")
    parser.add_argument(
        "--upstream-url",
        metavar="URL",
        help="OpenAI-compatible base URL, e.g. https://api.openai.com/v1 (serves every model)",
    )
    parser.add_argument(
        "--upstream-key-env",
        metavar="NAME",
        help="environment variable holding the upstream key (default OPENAI_API_KEY)",
    )
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default 8080; 0 = any)")
    parser.add_argument(
        "--log-level", default="info", choices=("debug", "info", "warning", "error")
    )


def run(args: argparse.Namespace) -> int:
    """Load the configuration and serve until SIGTERM/SIGINT, then exit the process with 0;
    return 2 on a configuration error."""
    overrides = CliOverrides(
        host=args.host,
        port=args.port,
        upstream_url=args.upstream_url,
        upstream_key_env=args.upstream_key_env,
    )
    try:
        config = load_config(args.config, overrides)
        if not config.upstreams:
            raise ConfigError(
                "Expected at least one upstream ([[upstreams]] in --config, or --upstream-url),"
                " got none"
            )
        configure_logging(level=args.log_level)
        # model loading's tqdm bars are not log lines: stderr stays one JSON object per line
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        code = run_server(config, setup_assurance=setup_assurance)
    except ConfigError as exc:
        print(f"assurance serve: {exc}", file=sys.stderr)
        return 2
    # the server is fully shut down (connections closed, store and sessions closed, logs
    # flushed): skip tearing down ~4,000 imported modules, which alone takes 0.5-1.5 s and
    # would push the exit past `shutdown_grace_s`
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main() -> int:
    """`python -m proxy.commands.serve ...`: the same as `assurance serve ...`."""
    parser = argparse.ArgumentParser(prog="assurance serve", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
