"""``minialex gradcheck``: every op's backward against central finite differences, as a table."""

from __future__ import annotations

from . import arguments


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("gradcheck", help="check every op's backward against finite differences (float64)")
    arguments.backend(p)
    p.add_argument("--max-elements", type=int, default=None,
                   help="check at most this many elements per input (default: every element)")
    arguments.conv_algorithm(p, "im2col or winograd: check only that algorithm's conv cases and small AlexNet; "
                                "auto (the default): both. Every conv case names its algorithm, so "
                                "$MINIALEX_CONV_ALGORITHM changes nothing here")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..backend import get_backend
    from ..tools.gradient_checks import CONV_ALGORITHMS, run_all
    algorithms = CONV_ALGORITHMS if args.conv_algorithm in (None, "auto") else (args.conv_algorithm,)
    results = run_all(max_elements=args.max_elements, algorithms=algorithms)
    print(f"gradient checks, backend {get_backend().name}, float64, central differences (eps 1e-6), "
          f"convolutions by {' and '.join(algorithms)}\n")
    print(f"| {'check':<32} | {'input':<14} | {'elements':>8} | {'max rel error':>13} | {'max abs error':>13} | ok |")
    print(f"|{'-' * 34}|{'-' * 16}|{'-' * 10}|{'-' * 15}|{'-' * 15}|----|")
    for name, result in results:
        for r in result.inputs:
            print(f"| {name:<32} | {r.name[:14]:<14} | {r.checked:>8} | {r.max_rel_error:>13.2e} | "
                  f"{r.max_abs_error:>13.2e} | {'ok' if r.ok else 'NO'} |")
    failed = [name for name, result in results if not result.ok]
    print(f"\n{len(results) - len(failed)} of {len(results)} checks passed" + (f"; failed: {failed}" if failed else ""))
    return 1 if failed else 0
