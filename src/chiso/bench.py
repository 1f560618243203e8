"""`make bench`: run every benchmark script under bench/ and keep what each printed under docs/bench/.

Each script measures its own ratio within one run (goals live here, not in timed tests)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from chiso.settings import REPO_ROOT


def main(argv: list[str] | None = None) -> int:
    names = argv if argv is not None else sys.argv[1:]
    scripts = sorted(p for p in (REPO_ROOT / "bench").glob("*.py") if not p.name.startswith("_"))  # _x: helpers
    if names:
        scripts = [s for s in scripts if s.stem in names]
    out_dir = REPO_ROOT / "docs" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    failed = []
    for script in scripts:
        print(f"== {script.stem}", flush=True)
        t0, load0 = time.monotonic(), os.getloadavg()[0]
        r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=REPO_ROOT)
        text = r.stdout + (f"\n[stderr]\n{r.stderr[-3000:]}" if r.returncode else "")
        print(text, flush=True)
        stamp = time.strftime("%Y-%m-%d %H:%M")
        # The machine's load (1-min average, before and after): timings on a shared machine mean little without it.
        load = f"load average {load0:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        header = f"# {script.stem} — {stamp}, {time.monotonic() - t0:.0f}s, exit {r.returncode}, {load}\n\n"
        (out_dir / f"{script.stem}.txt").write_text(header + text)
        if r.returncode:
            failed.append(script.stem)
    print(f"{len(scripts) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
