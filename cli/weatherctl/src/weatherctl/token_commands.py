"""`weatherctl token keygen` (a signing key and its JWKS) and `token issue` (a signed JWT)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from weather_runtime.auth import token_digest
from weather_runtime.policy import ROLES
from weatherctl import tokens


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Registers `token keygen`, `token issue` and `token digest`."""
    parser = commands.add_parser("token", help="signing keys and bearer tokens (JWT)")
    parser.set_defaults(local_command=run)
    actions = parser.add_subparsers(dest="action", required=True)
    keygen = actions.add_parser(
        "keygen", help="write a private signing key and add its public key to a JWKS file"
    )
    keygen.add_argument("--key", type=Path, required=True, help="private key file (JWK, 0600)")
    keygen.add_argument("--jwks", type=Path, required=True, help="JWKS file the services trust")
    keygen.add_argument("--alg", choices=sorted(tokens.ALGORITHMS), default="ES256")
    issued = actions.add_parser("issue", help="print a signed JWT")
    issued.add_argument("--subject", required=True, help="who the token names (sub)")
    issued.add_argument(
        "--role", action="append", choices=ROLES, required=True, help="role (repeatable)"
    )
    issued.add_argument("--ttl", default="1h", help="validity, e.g. 15m, 1h, 7d (default 1h)")
    issued.add_argument("--key", type=Path, required=True, help="private key from token keygen")
    issued.add_argument("--issuer", required=True, help="iss (the services' AUTH_JWT_ISSUER)")
    issued.add_argument("--audience", required=True, help="aud (the services' AUTH_JWT_AUDIENCE)")
    digest = actions.add_parser(
        "digest", help="sha256 of a static token (read from stdin) for AUTH_STATIC_TOKENS_FILE"
    )
    digest.set_defaults(stdin=True)


def run(args: argparse.Namespace) -> int:
    try:
        if args.action == "keygen":
            kid = tokens.keygen(args.key, args.jwks, args.alg)
            print(f"key {kid} ({args.alg}): private key in {args.key}, public key in {args.jwks}")
            return 0
        if args.action == "issue":
            key = tokens.load_key(args.key)
            print(
                tokens.issue(
                    key,
                    subject=args.subject,
                    roles=list(dict.fromkeys(args.role)),
                    issuer=args.issuer,
                    audience=args.audience,
                    ttl_seconds=tokens.parse_duration(args.ttl),
                )
            )
            return 0
        token = sys.stdin.readline().strip()
        if not token:
            print("weatherctl: give the token on stdin", file=sys.stderr)
            return 2
        print(token_digest(token))
        return 0
    except (OSError, ValueError) as exc:
        print(f"weatherctl: {exc}", file=sys.stderr)
        return 2
