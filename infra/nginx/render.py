#!/usr/bin/env python3
"""Render infra/nginx/etapiste.conf for a set of nodes (standard library only).

    python3 infra/nginx/render.py --node 10.0.0.11:8080 --node 10.0.0.12:8080 \\
        --server-name etapiste.example.fi --cert /etc/ssl/…/fullchain.pem \\
        --key /etc/ssl/…/privkey.pem > /etc/nginx/conf.d/etapiste.conf

    python3 infra/nginx/render.py --plain --listen 127.0.0.1:8000 \\
        --node 127.0.0.1:8081 --node 127.0.0.1:8082 --standalone /tmp/etp-nginx
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent / "etapiste.conf"

STANDALONE = """\
# A whole nginx.conf for an ordinary user: run with
#   nginx -p {prefix} -c {prefix}/nginx.conf -e {prefix}/error.log -g 'daemon off;'
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log notice;
# `nginx -s reload` and `-s quit` wait for open WebSockets at most this long.
worker_shutdown_timeout 10s;

events {{
    worker_connections 4096;
}}

http {{
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;

{body}
}}
"""


def render(
    nodes: Sequence[str],
    *,
    plain: bool,
    listen: str | None = None,
    http_listen: str = "80",
    server_name: str = "_",
    cert: str = "/etc/ssl/etapiste/fullchain.pem",
    key: str = "/etc/ssl/etapiste/privkey.pem",
    log_dir: str = "/var/log/nginx",
    max_fails: int = 1,
    fail_timeout: str = "10s",
    standalone: str | None = None,
) -> str:
    """Return the configuration: the TLS (production) or the plain-HTTP variant."""
    if not nodes:
        raise ValueError("give at least one node (host:port)")
    drop, keep = ("#tls", "#plain") if plain else ("#plain", "#tls")
    lines = []
    for line in TEMPLATE.read_text().splitlines():
        if line.rstrip().endswith(drop):
            continue
        if line.rstrip().endswith(keep):
            line = line.rstrip().removesuffix(keep).rstrip()
        lines.append(line)
    text = "\n".join(lines) + "\n"
    servers = "\n".join(
        f"    server {node} max_fails={max_fails} fail_timeout={fail_timeout};" for node in nodes
    )
    if standalone is not None:
        log_dir = standalone
    values = {
        "@NODES@": servers,
        "@LISTEN@": listen or ("80" if plain else "443"),
        "@HTTP_LISTEN@": http_listen,
        "@SERVER_NAME@": server_name,
        "@TLS_CERT@": cert,
        "@TLS_KEY@": key,
        "@LOG_DIR@": log_dir,
    }
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    if standalone is not None:
        body = "\n".join(("    " + line if line else "") for line in text.splitlines())
        text = STANDALONE.format(prefix=standalone, body=body)
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """Print the rendered configuration (or write it with --output)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--node", action="append", required=True, help="host:port, repeatable")
    parser.add_argument("--plain", action="store_true", help="plain HTTP (tests, local)")
    parser.add_argument("--listen", default=None, help="443 (TLS) or 80 (plain) by default")
    parser.add_argument("--http-listen", default="80", help="the TLS variant's redirect")
    parser.add_argument("--server-name", default="_")
    parser.add_argument("--cert", default="/etc/ssl/etapiste/fullchain.pem")
    parser.add_argument("--key", default="/etc/ssl/etapiste/privkey.pem")
    parser.add_argument("--log-dir", default="/var/log/nginx")
    parser.add_argument("--max-fails", type=int, default=1)
    parser.add_argument("--fail-timeout", default="10s")
    parser.add_argument("--standalone", metavar="PREFIX", default=None)
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)
    text = render(
        args.node,
        plain=args.plain,
        listen=args.listen,
        http_listen=args.http_listen,
        server_name=args.server_name,
        cert=args.cert,
        key=args.key,
        log_dir=args.log_dir,
        max_fails=args.max_fails,
        fail_timeout=args.fail_timeout,
        standalone=args.standalone,
    )
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
