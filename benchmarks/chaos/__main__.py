"""``python -m benchmarks.chaos`` (``make chaos``): a seeded chaos run, its table, its verdict.

Exit status 0 when every invariant held, 1 otherwise (the failing seed and the command
that replays it are printed). ``--soak`` runs the soak variant instead (``make soak``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.chaos", description=__doc__)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--ops", type=int, default=20_000)
    p.add_argument("--lanes", type=int, default=48)
    p.add_argument("--timeout", type=float, default=1.0, help="the client's timeout, s")
    p.add_argument("--examples", action="store_true", help="print a typed error per kind")
    p.add_argument("--soak", action="store_true", help="run the soak variant instead")
    p.add_argument("--channels", type=int, default=1000, help="soak: concurrent channels")
    p.add_argument("--minutes", type=float, default=5.0, help="soak: duration")
    p.add_argument("--plot", default="", help="soak: write a PNG plot here (needs matplotlib)")
    args = p.parse_args(argv)
    if args.soak:
        from .soak import main as soak_main

        return soak_main(args.seed, args.channels, args.minutes, args.plot)

    from .report import failures, render
    from .run import run_chaos

    command = f"make chaos SEED={args.seed} OPS={args.ops} LANES={args.lanes}"
    if args.timeout != 1.0:
        command = (
            f"python -m benchmarks.chaos --seed {args.seed} --ops {args.ops} "
            f"--lanes {args.lanes} --timeout {args.timeout:g}"
        )
    print(f"chaos: seed {args.seed}, {args.ops:,} operations, {args.lanes} lanes", flush=True)
    result = asyncio.run(
        run_chaos(
            args.seed,
            args.ops,
            args.lanes,
            timeout=args.timeout,
            progress=lambda line: print(line, flush=True),
        )
    )
    print()
    print(render(result, command))
    broken = failures(result)
    if args.examples:
        print()
        for name, tally in result.tallies.items():
            for key, text in sorted(tally.typed_examples.items()):
                print(f"  {name}: {key}: {text}")
    print()
    if broken:
        print(f"FAILED (seed {args.seed}): replay with `{command}`")
        for line in broken:
            print("  - " + line)
        return 1
    print(f"all invariants held (seed {args.seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
