"""Post a case or bundle to a FHIR server (default: the public HAPI R4 test server).

The bundle is validated offline first; an invalid bundle is not sent (exit 1). Exit codes: 0 all
entries succeeded, 1 invalid bundle or a failed entry/request, 2 bad input or settings, 3 the
server could not be reached (after every retry; each retry is shown as it happens).
Credentials: --token-env VAR, --token-file FILE, --basic-user USER with $FHIR_PASSWORD, or SMART
Backend Services (--smart-client-id, --smart-key FILE). Secrets are never printed.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the ``post`` options."""
    parser.add_argument(
        "source",
        nargs="*",
        help="case files or bundle JSON files (default: the seed case); all are read and "
        "validated before anything is sent. --mode bulk: one export directory (convert --ndjson)",
    )
    parser.add_argument(
        "--server", help="FHIR base URL (default: $FHIR_SERVER, config file, or public HAPI R4)"
    )
    parser.add_argument(
        "--mode",
        choices=("transaction", "batch", "each", "bulk"),
        default="transaction",
        help="bulk: load a convert --ndjson export in batches of PUTs, keeping its ids",
    )
    parser.add_argument(
        "--profile",
        metavar="MODE",
        help="convert case files in this profile mode first (ips: an IPS document, stored as one "
        "Bundle resource; us-core, us-core@3.1.1, us-core@7.0.0)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="--mode each: up to N requests at once, a resource only after those it references "
        "(default 1); --mode bulk: up to N batches at once (default 4)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        metavar="N",
        help="--mode bulk: entries per batch (default: the server's known limit, else 100)",
    )
    parser.add_argument(
        "--strategy",
        choices=("auto", "conditional-create", "put"),
        default="auto",
        help="how re-posts avoid duplicates",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print what would be sent; send nothing"
    )
    parser.add_argument(
        "--no-validate", action="store_true", help="send even if offline validation fails"
    )
    parser.add_argument(
        "--verify", action="store_true", help="read every resource back and report differences"
    )
    parser.add_argument(
        "--token-env", metavar="VAR", help="bearer token from this environment variable"
    )
    parser.add_argument("--token-file", metavar="FILE", help="bearer token from this file")
    parser.add_argument(
        "--basic-user", metavar="USER", help="HTTP basic user (password from $FHIR_PASSWORD)"
    )
    parser.add_argument("--smart-client-id", help="SMART Backend Services client id")
    parser.add_argument(
        "--smart-key", metavar="PEM", help="private key (RS384/ES384) for SMART Backend Services"
    )
    parser.add_argument("--smart-alg", choices=("RS384", "ES384"), default="RS384")
    parser.add_argument(
        "--prefer",
        choices=("representation", "minimal", "OperationOutcome"),
        default=None,
        help="Prefer: return=... header (default representation; minimal with --mode bulk)",
    )
    parser.add_argument("--ca-bundle", metavar="FILE", help="CA bundle for TLS verification")
    parser.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        help="seconds a whole answer may take to arrive (default 120)",
    )
    parser.add_argument(
        "--retries", type=int, default=5, metavar="N", help="retries of one request (default 5)"
    )
    parser.add_argument(
        "--retry-budget",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="total time spent retrying one request, Retry-After pauses included (default 120)",
    )


def _progress_printer(bar: Any) -> Any:
    """A ``progress(done, total)`` that moves ``bar`` (a fhir_adapter.progress.Progress)."""
    shown = [0]

    def show(done: int, total: int) -> None:
        if bar.total != total:
            bar.reset(total)
            shown[0] = 0
        bar.advance(done - shown[0], {"entries": done})
        shown[0] = done

    return show


def _server(args: argparse.Namespace) -> str:
    """The server to post to, checked; says so on stderr when it is the public default."""
    from fhir_adapter.client.api import choose_server, public_server_notice
    from fhir_adapter.client.urls import check_server_url

    server, chooser = choose_server(args.server)
    check_server_url(server)  # before anything prints the URL
    if chooser is None:
        print(f"fhir-adapter post: {public_server_notice(server)}", file=sys.stderr)
    return server


def _auth(args: argparse.Namespace, server: str) -> Any:
    from pathlib import Path

    from fhir_adapter.client import BasicAuth, BearerToken, ConfigError, SmartBackendAuth

    if args.token_env:
        return BearerToken.from_env(args.token_env)
    if args.token_file:
        return BearerToken.from_file(args.token_file)
    if args.basic_user:
        password = os.environ.get("FHIR_PASSWORD")
        if not password:
            raise ConfigError(
                "$FHIR_PASSWORD is not set", field="--basic-user", fix="export FHIR_PASSWORD=..."
            )
        return BasicAuth(args.basic_user, password)
    if args.smart_client_id:
        if not args.smart_key:
            raise ConfigError(
                "--smart-key is required with --smart-client-id",
                field="--smart-key",
                fix="add --smart-key FILE: the PEM private key registered with the server",
            )
        try:
            key = Path(args.smart_key).read_text(encoding="utf-8")
        except OSError:
            raise ConfigError(
                "cannot read the private key",
                file=args.smart_key,
                fix="check the path and that the file is readable (a PEM file)",
            ) from None
        return SmartBackendAuth(server, args.smart_client_id, key, alg=args.smart_alg)
    return None


def run(args: argparse.Namespace) -> int:
    """Validate, post, print the per-entry table; returns the exit code."""
    from fhir_adapter.api import load_input
    from fhir_adapter.client import DeliveryError, FhirClient, post
    from fhir_adapter.client.api import check_options
    from fhir_adapter.client.errors import InvalidBundle
    from fhir_adapter.client.plan import check_bundle
    from fhir_adapter.errors import InputError

    if args.mode == "bulk":
        return _bulk(args)
    if args.batch_size is not None:
        raise InputError(
            "--batch-size applies to --mode bulk",
            field="--batch-size",
            fix="add --mode bulk and an export directory, or drop --batch-size",
        )
    args.workers = 1 if args.workers is None else args.workers
    check_options(args.mode, args.strategy, args.workers)
    server = _server(args)
    auth = _auth(args, server)
    # Every input is read, checked and validated before anything is sent: a bad third file
    # must not leave the first two posted.
    inputs = [
        (src or "seed case", load_input(src, profile=args.profile))
        for src in (args.source or [None])
    ]
    for label, bundle in inputs:
        try:
            check_bundle(bundle)
        except InputError as err:
            err.file = err.file or label
            raise
    reports = {}
    if not args.no_validate:
        from fhir_adapter.api import validation_report

        for label, bundle in inputs:
            report = reports[label] = validation_report(bundle, args.profile)
            report.source = label
            if not report.ok and not args.dry_run:
                raise InvalidBundle(report)
    several = len(inputs) > 1
    if args.dry_run:
        plans = [(label, _dry_plan(args, bundle)) for label, bundle in inputs]
        for label, steps in plans:
            if several:
                print(f"== {label}")
            _dry_run(args, server, auth, steps, reports.get(label))
        invalid = [label for label, r in reports.items() if not r.ok]
        if invalid:
            print(
                f"fhir-adapter post: dry run: invalid, would not be sent: {', '.join(invalid)}",
                file=sys.stderr,
            )
        return 1 if invalid else 0
    from fhir_adapter.progress import Progress

    bar = Progress(None, desc="post", unit="entries")
    client = FhirClient(
        server,
        auth=auth,
        verify=args.ca_bundle or True,
        timeout=(5.0, args.timeout),
        retries=args.retries,
        retry_budget=args.retry_budget,
        prefer=args.prefer or "representation",
        on_retry=bar.note,  # every retry and wait, as it happens
    )
    failed = []
    with client, bar:
        for label, bundle in inputs:
            try:
                result = _post_one(args, client, bundle, post, bar)
            except DeliveryError as err:
                if err.partial is not None and err.partial.entries:
                    print(f"== {label} (stopped early)" if several else "(stopped early)")
                    print(err.partial.to_table())
                raise
            if several:
                print(f"== {label}")
            for note in result.notes:
                print(f"fhir-adapter post: {note}", file=sys.stderr)
            print(result.to_table())
            for warning in result.warnings:
                print(f"fhir-adapter post: warning: {warning}", file=sys.stderr)
            if not result.ok:
                failed.append(label)
    if failed:
        print(f"fhir-adapter post: some entries failed ({', '.join(failed)})", file=sys.stderr)
    return 1 if failed else 0


def _post_one(args: argparse.Namespace, client: Any, bundle: Any, post: Any, bar: Any) -> Any:
    """``post`` one already-validated bundle with the CLI's options."""
    return post(
        bundle,
        mode=args.mode,
        client=client,
        strategy=args.strategy,
        validate=False,  # done by run(), for every input
        verify_readback=args.verify,
        workers=args.workers,
        progress=_progress_printer(bar) if bar.enabled else None,
    )


def _dry_plan(args: argparse.Namespace, bundle: Any) -> Any:
    """The plan a post would follow, decided offline (``auto`` assumes a server offering both
    strategies, so ``put`` where it can be used; the server's capabilities may turn it into
    conditional create); ConfigError if it would be refused."""
    from fhir_adapter.client.plan import AS_WRITTEN, choose_strategy, plan

    class _Offline:
        """A server that offers update-as-create and conditional create on identifiers."""

        base_url = ""

        @staticmethod
        def resource_capability(_type: str) -> dict[str, Any]:
            return {"updateCreate": True, "conditionalCreate": True}

        @staticmethod
        def search_params(_type: str) -> set[str]:
            return {"identifier"}

    strategy = choose_strategy(_Offline(), bundle, args.mode, args.strategy)
    return plan(bundle, args.mode, strategy if strategy else AS_WRITTEN)


def _dry_run(args: argparse.Namespace, server: str, auth: Any, steps: Any, report: Any) -> None:
    """Print what ``post`` would send for one bundle; sends nothing."""
    import json

    if report is not None:
        print(
            f"offline validation: {'ok' if report.ok else 'INVALID'} ({len(report.errors)} errors, {len(report.warnings)} warnings)"
        )
    auth_text = auth.describe() if auth is not None else "none"
    caveat = " unless the server's capabilities say otherwise" if args.strategy == "auto" else ""
    print(f"would send to {server} (mode {steps.mode}, strategy {steps.strategy}{caveat})")
    print(f"auth: {auth_text}")
    for note in steps.notes:
        print(f"note: {note}")
    for warning in steps.warnings:
        print(f"warning: {warning}")
    if steps.mode == "each":
        _dry_each(steps)
    elif steps.mode == "batch" and steps.order is not None:
        _dry_layers(server, steps)
    else:
        sent = steps.bundle()
        print(
            f"  POST {server}  ({sent['type']}, {len(sent['entry'])} entries, {len(json.dumps(sent))} bytes)"
        )
        for s in steps.steps:
            print(f"    {s.method} {s.url}  {s.if_none_exist or ''}")


def _dry_each(steps: Any) -> None:
    """The requests of an ``each`` post in the order they go out: first writes (a resource after
    the entries it references), then the updates that close reference cycles."""
    order = steps.order
    rounds = order.rounds() if order is not None else [[s.index for s in steps.steps]]
    if order is not None and order.two_phase:
        print("first writes, each after the entries it references:")
    for i in (i for r in rounds for i in r):
        s = steps.steps[i]
        cond = f"  If-None-Exist: {s.if_none_exist}" if s.if_none_exist else ""
        print(f"  {s.method} {s.url}{cond}{_first_write_note(steps, i)}")
    if order is not None and order.two_phase:
        print(
            "then, once every entry has been written, the updates that close reference cycles "
            "(under put, a resource the server already holds with these references is read, "
            "GET, and written once, whole, instead):"
            if steps.strategy == "put"
            else "then, once every entry has been written, the updates that close reference cycles:"
        )
        _dry_updates(steps, "  ")


def _dry_layers(server: str, steps: Any) -> None:
    """The batches of a ``batch`` post in the order they go out: one per dependency layer (an
    entry after the entries it references), then the updates that close reference cycles."""
    order = steps.order
    rounds = order.rounds()
    total = len(rounds) + (1 if order.two_phase else 0)
    for n, layer in enumerate(rounds, 1):
        size = f"{len(layer)} entr{'y' if len(layer) == 1 else 'ies'}"
        print(f"  POST {server}  (batch {n} of {total}: {size})")
        for i in layer:
            s = steps.steps[i]
            print(f"    {s.method} {s.url}  {s.if_none_exist or ''}{_first_write_note(steps, i)}")
    if order.two_phase:
        print(
            f"  POST {server}  (batch {total} of {total}: the updates that close reference cycles"
            + (
                "; under put, a resource the server already holds with these references is "
                "read, GET, and written whole in its layer instead)"
                if steps.strategy == "put"
                else ")"
            )
        )
        _dry_updates(steps, "    ")


def _first_write_note(steps: Any, i: int) -> str:
    """What a dry run says of an entry whose first write leaves out references (or "")."""
    later = sorted(steps.order.deferred[i]) if steps.order is not None else []
    if not later:
        return ""
    names = ", ".join(f"{d} ({steps.steps[d].resource_type})" for d in later)
    return (
        f"  (entry {i}: first write without its references to entries {names}: a reference cycle)"
    )


def _dry_updates(steps: Any, indent: str) -> None:
    """The updates that close reference cycles, one line each."""
    for i in steps.order.two_phase:
        s = steps.steps[i]
        url = s.url if s.known_id else f"{s.resource_type}/<id the server gives entry {i}>"
        print(f"{indent}PUT {url}  (entry {i}: the whole resource)")


def _bulk(args: argparse.Namespace) -> int:
    """``post EXPORT_DIR --mode bulk``: check, validate, then load in batches."""
    from fhir_adapter.bulk.load import load_export, read_manifest, reference_order, scan
    from fhir_adapter.client import DeliveryError, FhirClient
    from fhir_adapter.errors import InputError
    from fhir_adapter.progress import Progress

    if len(args.source) != 1:
        raise InputError(
            "--mode bulk loads one export directory",
            field="source",
            fix="fhir-adapter post EXPORT_DIR --mode bulk (make it with convert CASES --ndjson DIR)",
        )
    if args.strategy not in ("auto", "put") or args.verify or args.profile:
        raise InputError(
            "--mode bulk keeps the export's ids (PUT, update-as-create); it takes no "
            "--strategy conditional-create, --verify or --profile",
            field="--mode bulk",
            fix="drop those options, or post the cases one by one",
        )
    server = _server(args)
    auth = _auth(args, server)
    if args.dry_run:
        files = read_manifest(args.source[0])
        counts, refers = scan(files)
        order = reference_order(sorted(counts), refers)
        size = args.batch_size or "the server's known limit, else 100"
        print(
            f"would load {sum(counts.values()):,} resources into {server} (PUT Type/id in batches of {size}, {4 if args.workers is None else args.workers} at a time)"
        )
        print(f"auth: {auth.describe() if auth is not None else 'none'}")
        for group in order:
            print("  " + ", ".join(f"{t} ({counts[t]:,})" for t in group))
        return 0
    bar = Progress(None, desc="load", unit="resources")
    client = FhirClient(
        server,
        auth=auth,
        verify=args.ca_bundle or True,
        timeout=(5.0, args.timeout),
        retries=args.retries,
        retry_budget=args.retry_budget,
        prefer=args.prefer or "minimal",
        on_retry=bar.note,
    )
    shown = [0]

    def progress(done: int, total: int) -> None:
        if bar.total != total:
            bar.reset(total)
        bar.advance(done - shown[0])  # the bar counts resources and their rate itself
        shown[0] = done

    with client, bar:
        try:
            result = load_export(
                args.source[0],
                client,
                workers=4 if args.workers is None else args.workers,
                batch_size=args.batch_size,
                validate=not args.no_validate,
                force_put=args.strategy == "put",
                progress=progress if bar.enabled else None,
            )
        except DeliveryError as err:
            partial = getattr(err, "partial", None)
            if partial is not None and partial.counts:
                print("(stopped early)")
                print(partial.to_table())
            raise
    for note in result.notes:
        print(f"fhir-adapter post: {note}", file=sys.stderr)
    print(result.to_table())
    if not result.ok:
        print(f"fhir-adapter post: {len(result.failures):,} resources failed", file=sys.stderr)
    return 0 if result.ok else 1
