"""Cost of ``PathRules.evaluate`` per request as the number of rules grows.

    .venv/bin/python -m bench.rules [--seconds 0.3]

Every call asks about a path never seen before (a fresh path parameter), so the per-path memo
never answers and each call pays for the whole decision. The rules have realistic shapes: one
prefix per service (``/svc{i}/items/**``), some limited to a method, a few that start with a
wildcard (``/**/export``), beside two exempt paths and a public rule. For comparison, "scan"
tries every rule's pattern on the path in turn, as a list of rules without an index would.
"""

from __future__ import annotations

import argparse
import itertools
import re
import time
import timeit
from collections.abc import Callable
from typing import Any

from audmw.rules import PathRules, Rule, compile_path_pattern

SIZES = (0, 10, 100, 1000)
EXEMPT_PATHS = ("/health", "/static/**")
LEADING_WILDCARDS = ("/**/export", "/**/admin/**", "/*/internal/**")


def per_call(functions: dict[str, Callable[[], Any]], seconds: float) -> dict[str, float]:
    """Microseconds per call of each function: the best of interleaved rounds.

    Rounds alternate between the functions, so a slow spell of the machine hits all of them
    alike instead of one size.
    """
    timers = {name: timeit.Timer(function) for name, function in functions.items()}
    numbers = {name: max(1, timer.autorange()[0] // 4) for name, timer in timers.items()}
    best = dict.fromkeys(functions, float("inf"))
    deadline = time.perf_counter() + seconds * len(functions) * 5
    rounds = 0
    while rounds < 5 or time.perf_counter() < deadline:
        rounds += 1
        for name, timer in timers.items():
            best[name] = min(best[name], timer.timeit(numbers[name]) / numbers[name] * 1e6)
    return best


def rules_for(count: int) -> list[Rule]:
    """``count`` rules: mostly per-service prefixes, a few leading wildcards and one public."""
    if count == 0:
        return []
    rules = [Rule.from_mapping({"path": "/status", "public": True})]
    for pattern in LEADING_WILDCARDS[: max(1, count // 100 + 1)]:
        rules.append(Rule.from_mapping({"path": pattern, "scopes": ["admin"]}))
    service = 0
    while len(rules) < count:
        if service % 3 == 0:
            rules.append(
                Rule.from_mapping(
                    {"methods": ["GET"], "path": f"/svc{service}/items/**", "scopes": "read"}
                )
            )
        elif service % 3 == 1:
            rules.append(
                Rule.from_mapping(
                    {"methods": "POST, PUT", "path": f"/svc{service}/*/edit", "scopes": "write"}
                )
            )
        else:
            rules.append(
                Rule.from_mapping({"path": f"/svc{service}/items/**", "any_scopes": "a b"})
            )
        service += 1
    return rules[:count]


def evaluate_fresh(rules: PathRules, prefix: str) -> Callable[[], Any]:
    """``evaluate`` on ``prefix + n`` with a new ``n`` every call."""
    numbers = itertools.count()
    evaluate = rules.evaluate
    return lambda: evaluate("GET", prefix + str(next(numbers)))


def scan_fresh(rules: list[Rule], service: int) -> Callable[[], Any]:
    """Every rule's pattern tried on the path in turn: the cost of a list without an index."""
    patterns: list[re.Pattern[str]] = [
        compile_path_pattern(rule.path, any_trailing_slash=True) for rule in rules
    ]
    patterns += [compile_path_pattern(path) for path in EXEMPT_PATHS] if rules else []
    numbers = itertools.count()
    prefix = f"/svc{service}/items/"

    def scan() -> list[bool]:
        path = prefix + str(next(numbers))
        return [pattern.fullmatch(path) is not None for pattern in patterns]

    return scan


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds", type=float, default=0.3, help="timing budget per measured function"
    )
    args = parser.parse_args(argv)
    functions: dict[str, Callable[[], Any]] = {}
    for size in SIZES:
        rules = rules_for(size)
        compiled = PathRules(rules, EXEMPT_PATHS if size else ())
        service = max(0, size // 2 - size // 2 % 3)  # a GET rule in the middle of the list
        functions[f"evaluate {size}"] = evaluate_fresh(compiled, f"/svc{service}/items/")
        # Not canonical: every form of the path is tried.
        functions[f"dotted {size}"] = evaluate_fresh(compiled, f"/svc{service}/./items//")
        functions[f"scan {size}"] = scan_fresh(rules, service)
    times = per_call(functions, args.seconds)

    print(f"{'rules':>5} {'evaluate us':>11} {'non-canonical us':>16} {'scan us':>8}")
    for size in SIZES:
        print(
            f"{size:>5} {times[f'evaluate {size}']:>11.2f} {times[f'dotted {size}']:>16.2f} "
            f"{times[f'scan {size}']:>8.2f}"
        )
    print(
        f"1,000 rules / 10 rules: evaluate {times['evaluate 1000'] / times['evaluate 10']:.2f}x, "
        f"non-canonical {times['dotted 1000'] / times['dotted 10']:.2f}x, "
        f"scan {times['scan 1000'] / times['scan 10']:.2f}x"
    )


if __name__ == "__main__":
    main()
