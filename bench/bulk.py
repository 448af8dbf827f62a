"""Benchmark: bulk convert and parallel validation, --jobs 1 and 2 against one process, same run.

Convert: N synthetic case files (default 10,000), made from the fixtures by changing only the
case id and marking the title as a synthetic benchmark copy: the clinical content is the
fixtures' own, repeated; no new facts. Baseline: the public API one case at a time in one
process (load_case -> convert -> validate -> write a bundle), what a script would do without
the bulk command. Then `fhir-adapter convert DIR --ndjson OUT --jobs 1` and `--jobs 2`.

Validate: a generated NDJSON file (default 1 GB) of valid resources of 8 types, from
bench/validate.py's seeded generator with a new seed per 10,000 resources (the validator
memoises values that passed; fresh data keeps it honest). Baseline: Validator.validate_file in
one process. Then `fhir-adapter validate FILE --jobs 1` and `--jobs 2`; peak RSS of the largest
process at two input sizes (a quarter of the file, and all of it) for --jobs 2.

The machines are shared: the script also times a pure-Python CPU burn in 1 and 2 processes
before and after each part; that ratio is the most any --jobs 2 figure could reach then.

Every run is a fresh process tree, and the commands of a part run in interleaved rounds
(--rounds, default 2: baseline, --jobs 1, --jobs 2, baseline, ...) so that a change in the
shared machine's load falls on all of them; the best run of each is reported, with every
run's wall time, the CPU seconds of its whole process tree (CPU / wall = cores kept busy) and
its peak RSS (that of its largest process: the CLI or one of its workers). Correctness is
checked alongside: every case converted, the two exports byte-identical, every resource valid,
the same report text from every run.

Spark (--spark, needs the spark extra and Java 17): validate_ndjson on the quarter-size file in
local[1] and local[2], written to Parquet: resources/s and MB/s per core, for the cluster
projection in the README.

Load (--load N, needs the test extra): `post EXPORT --mode bulk` of an export of N of the
synthetic cases into a throw-away local sekmet-fhir server, at several batch sizes and worker
counts: resources/s, and that every resource arrived once. The server shares the machine.

Usage: python bench/bulk.py [--cases 10000] [--ndjson-mb 1000] [--spark] [--load 300] [--keep DIR]
       [--skip convert,validate]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PY = sys.executable
CLI = str(Path(PY).with_name("fhir-adapter"))

# Runs a command and prints "<wall s> <peak RSS KiB of its largest process> <exit code>
# <CPU s of its process tree>" last. Worker processes may not be children the command waits
# for (forkserver), so the tree is sampled from /proc ten times a second (Linux): each
# process's peak RSS (VmHWM) and CPU time as last seen (a process's last 0.1 s may be missed).
MEASURE = """
import os, subprocess, sys, time
TICK = os.sysconf("SC_CLK_TCK")
def tree(root):
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += kids.get(pid, [])
    return out
def sample(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{pid}/status") as f:
            hwm = next((int(l.split()[1]) for l in f if l.startswith("VmHWM:")), 0)
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICK, hwm
t0 = time.perf_counter()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
seen = {}
import threading
out = []
readers = [threading.Thread(target=lambda s=s: out.append((s, s.read()))) for s in (p.stdout, p.stderr)]
for r in readers: r.start()
while p.poll() is None:
    for pid in tree(p.pid):
        got = sample(pid)
        if got:
            cpu, hwm = got
            old = seen.get(pid, (0.0, 0))
            seen[pid] = (max(old[0], cpu), max(old[1], hwm))
    time.sleep(0.1)
dt = time.perf_counter() - t0
for r in readers: r.join()
data = dict(out)
sys.stdout.buffer.write(data[p.stdout]); sys.stderr.buffer.write(data[p.stderr])
cpu = sum(c for c, _ in seen.values())
rss = max((h for _, h in seen.values()), default=0)
print(f"\\n@@ {dt:.3f} {rss} {p.returncode} {cpu:.3f}")
"""

BASELINE_CONVERT = """
import sys, orjson
from pathlib import Path
from fhir_adapter import convert, load_case
from fhir_adapter.validation import Validator
v = Validator()
out = Path(sys.argv[2]); out.mkdir()
n = bad = 0
for p in sorted(Path(sys.argv[1]).glob("*.case.yaml")):
    bundle = convert(load_case(p), bundle_type="collection")
    bad += not v.validate(bundle).ok
    (out / (p.name + ".json")).write_bytes(orjson.dumps(bundle))
    n += len(bundle["entry"])
print(n, bad)
"""

SPARK_VALIDATE = """
import os, sys, time
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
from pyspark.sql import SparkSession
cores, path, out = sys.argv[1], sys.argv[2], sys.argv[3]
spark = (SparkSession.builder.master(f"local[{cores}]").config("spark.ui.enabled", "false")
         .config("spark.ui.showConsoleProgress", "false")
         .config("spark.sql.files.maxPartitionBytes", str(32 * 2**20)).getOrCreate())
spark.sparkContext.setLogLevel("ERROR")
from fhir_adapter.spark import validate_ndjson
warm = out + ".warm.ndjson"  # JVM and Python workers warmed up on the first 2,000 lines
with open(path, "rb") as src, open(warm, "wb") as dst:
    dst.writelines(line for _, line in zip(range(2000), src))
validate_ndjson(spark, [warm]).write.mode("overwrite").parquet(out)
def tree_cpu():  # CPU seconds of this process and its descendants (JVM, Python workers): Linux
    kids, stat = {}, {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            kids.setdefault(int(fields[1]), []).append(int(d))
            stat[int(d)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [os.getpid()]
    while todo:
        pid = todo.pop()
        total += stat.get(pid, 0.0)
        todo += kids.get(pid, [])
    return total
c = tree_cpu()
t = time.perf_counter()
validate_ndjson(spark, [path]).write.mode("overwrite").parquet(out)
dt = time.perf_counter() - t
cpu = tree_cpu() - c  # Python workers are reused between jobs (Spark's default), so they count
df = spark.read.parquet(out)
def peak(words):  # the largest peak RSS (MB) of processes whose command line has these words
    best = 0
    for d in os.listdir("/proc"):
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\\0", b" ").decode(errors="replace")
            if all(w in cmd for w in words):
                with open(f"/proc/{d}/status") as f:
                    best = max([best] + [int(l.split()[1]) // 1024 for l in f if l.startswith("VmHWM:")])
        except (OSError, ValueError):
            pass
    return best
print(dt, cpu, df.count(), df.where("not valid").count(), spark.read.text(path).rdd.getNumPartitions(),
      peak(["pyspark", "daemon"]), peak(["java", "SparkSubmit"]))
"""

BASELINE_VALIDATE = """
import sys
from pathlib import Path
from fhir_adapter.validation import Validator
print(Validator().validate_file(Path(sys.argv[1])).to_text())
"""


def _burn(n: int) -> float:
    """A pure-Python CPU burn; returns the CPU seconds it took."""
    t = time.process_time()
    total = 0
    for i in range(n):
        total += i * i
    return time.process_time() - t


def machine_ceiling(n: int = 20_000_000) -> str:
    """What 2 processes gain over 1 on a pure-Python CPU burn right now (the shared machine's
    ceiling for any --jobs 2 figure taken at the same time), and how much more CPU time the
    same burn takes when two run at once (shared caches, SMT siblings: the machine's own
    parallel overhead, to set beside that of --jobs 2)."""
    from concurrent.futures import ProcessPoolExecutor

    t = time.perf_counter()
    cpu_one = _burn(n) + _burn(n)
    one = time.perf_counter() - t
    with ProcessPoolExecutor(2) as pool:
        pool.submit(_burn, 1).result()  # workers started
        t = time.perf_counter()
        cpu_two = sum(pool.map(_burn, [n, n]))
        two = time.perf_counter() - t
    return (
        f"x{one / two:.2f} (CPU seconds of the burn in 2 processes / in 1: "
        f"x{cpu_two / cpu_one:.2f}; load average {os.getloadavg()[0]:.1f})"
    )


@dataclass
class Run:
    """One fresh run of a command: wall and CPU seconds, peak RSS (MB) of its largest
    process, and what it printed."""

    wall: float
    cpu: float
    rss: int
    out: str


def measure(cmd: list[str]) -> Run:
    """Run ``cmd`` as a fresh process tree and measure it."""
    p = subprocess.run(
        [PY, "-c", MEASURE, *cmd], capture_output=True, text=True, cwd=ROOT, check=False
    )
    out, _, tail = p.stdout.rpartition("\n@@ ")
    wall, rss, code, cpu = tail.split()
    if int(code) != 0:
        sys.stderr.write(p.stderr)
        raise SystemExit(f"failed ({code}): {' '.join(cmd)}")
    return Run(float(wall), float(cpu), int(rss) // 1024, out)


def rounds(commands: dict[str, Callable[[], list[str]]], n: int) -> dict[str, list[Run]]:
    """Every command ``n`` times, interleaved (a, b, c, a, b, c, ...), so that a change in the
    machine's load falls on all of them alike."""
    runs: dict[str, list[Run]] = {k: [] for k in commands}
    for _ in range(n):
        for k, make in commands.items():
            runs[k].append(measure(make()))
    return runs


def speedups(best: dict[str, Run]) -> float:
    """Print the 2-job speed-ups measured, and what the CPU seconds imply on two free cores;
    returns the 2-job wall time."""
    one, j1, j2 = best.values()
    print(
        f"  measured: --jobs 2 / one process x{one.wall / j2.wall:.2f}; --jobs 2 / --jobs 1 "
        f"x{j1.wall / j2.wall:.2f} (target >= 1.7; the machine's ceiling is printed around)"
    )
    print(
        f"  CPU seconds in all processes: --jobs 1 {j1.cpu:.1f}, --jobs 2 {j2.cpu:.1f} "
        f"(parallel overhead x{j2.cpu / j1.cpu:.2f}; the CPU burn's own is on the ceiling lines): "
        f"on two free cores --jobs 2 / --jobs 1 "
        f"would be x{2 * j1.cpu / j2.cpu:.2f} (an estimate: it assumes the work splits evenly)"
    )
    return j2.wall


def report(runs: dict[str, list[Run]], units: int, unit: str) -> dict[str, Run]:
    """Print the best (shortest) run of each command; returns them."""
    best = {k: min(rs, key=lambda r: r.wall) for k, rs in runs.items()}
    base = next(iter(best.values())).wall
    for label, r in best.items():
        walls = ", ".join(f"{x.wall:.1f}" for x in runs[label])
        print(
            f"  {label:<40} {r.wall:7.1f} s ({walls})  {units / r.wall:>9,.0f} {unit}/s  "
            f"x{base / r.wall:4.2f}  CPU {r.cpu:6.1f} s ({r.cpu / r.wall:.2f} cores)  "
            f"peak RSS {r.rss:>4} MB"
        )
    return best


def make_cases(n: int, folder: Path) -> None:
    """Synthetic case files: the fixtures with a new case id and a title saying so."""
    fixtures = sorted((ROOT / "fixtures").glob("*.case.yaml"))
    texts = [(f, f.read_text(encoding="utf-8")) for f in fixtures]
    folder.mkdir(parents=True)
    for k in range(n):
        src, text = texts[k % len(texts)]
        case_id = next(x.split(":", 1)[1].strip() for x in text.splitlines() if x.startswith("id:"))
        new_id = f"synthetic-{k:05d}-{case_id}"[:64]
        out = text.replace(f"id: {case_id}\n", f"id: {new_id}\n", 1).replace(
            "\ntitle: ", f"\ntitle: Synthetic benchmark copy {k} of {src.name} - ", 1
        )
        (folder / f"synthetic-{k:05d}.case.yaml").write_text(out, encoding="utf-8")


def make_ndjson(path: Path, megabytes: float) -> int:
    """A file of about ``megabytes`` MB of valid resources; returns the resource count."""
    sys.path.insert(0, str(HERE))
    from validate import make_bundle

    size = count = 0
    seed = 1000
    with path.open("w", encoding="utf-8") as fh:
        while size < megabytes * 1e6:
            for e in make_bundle(10_000, seed=seed)["entry"]:
                line = json.dumps(e["resource"], separators=(",", ":")) + "\n"
                fh.write(line)
                size += len(line.encode())
                count += 1
                if size >= megabytes * 1e6:
                    break
            seed += 1
    return count


def tree_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(folder).as_posix().encode() + b"\0" + p.read_bytes())
    return h.hexdigest()[:16]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--ndjson-mb", type=float, default=1000)
    ap.add_argument("--keep", help="work in this directory and keep it (default: a temp dir)")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved runs of each command")
    ap.add_argument(
        "--spark", action="store_true", help="also time fhir_adapter.spark in local mode"
    )
    ap.add_argument(
        "--load", type=int, default=0, metavar="N", help="also load N cases' export into sekmet"
    )
    ap.add_argument(
        "--skip",
        type=lambda v: set(v.split(",")),
        default=set(),
        metavar="PARTS",
        help="parts not to run, e.g. convert,validate (with --keep: re-run --spark or --load alone)",
    )
    args = ap.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-bulk-"))
    work.mkdir(parents=True, exist_ok=True)
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs (shared), "
        f"Python {platform.python_version()}; load average at start {os.getloadavg()[0]:.1f}"
    )
    try:
        print(f"machine ceiling: 2 processes vs 1 on a CPU burn: {machine_ceiling()}")
        if args.cases and "convert" not in args.skip:
            bench_convert(args.cases, work, args.rounds)
            print(f"machine ceiling now: {machine_ceiling()}")
        if args.ndjson_mb:
            ensure_ndjson(work, args.ndjson_mb)
            if "validate" not in args.skip:
                bench_validate(work, args.rounds)
                print(f"machine ceiling now: {machine_ceiling()}")
            if args.spark:
                bench_spark(work)
        if args.load:
            bench_load(args.load, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def bench_convert(n: int, work: Path, n_rounds: int) -> None:
    cases = work / "cases"
    if not cases.is_dir():
        make_cases(n, cases)
    print(f"\nconvert: {n:,} synthetic case files (fixtures with new ids, titles marked synthetic)")

    def fresh(name: str, cmd: list[str]) -> Callable[[], list[str]]:
        def make() -> list[str]:
            shutil.rmtree(work / name, ignore_errors=True)
            return cmd

        return make

    runs = rounds(
        {
            "one process (public API, per case)": fresh(
                "bundles", [PY, "-c", BASELINE_CONVERT, str(cases), str(work / "bundles")]
            ),
            "fhir-adapter convert --jobs 1": fresh(
                "out1", [CLI, "convert", str(cases), "--ndjson", str(work / "out1"), "--jobs", "1"]
            ),
            "fhir-adapter convert --jobs 2": fresh(
                "out2", [CLI, "convert", str(cases), "--ndjson", str(work / "out2"), "--jobs", "2"]
            ),
        },
        n_rounds,
    )
    resources, bad = map(int, runs["one process (public API, per case)"][0].out.split())
    manifest = json.loads((work / "out2" / "manifest.json").read_text())
    written = sum(o["count"] for o in manifest["output"])
    same = tree_digest(work / "out1") == tree_digest(work / "out2")
    print(
        f"  correctness: baseline {resources:,} resources, {bad} invalid bundles; export "
        f"{written:,} resources, {len(manifest['error'])} error files; --jobs 1 and 2 "
        f"byte-identical: {same}"
    )
    best = report(runs, n, "cases")
    speedups(best)
    print(f"  resources/s at --jobs 2: {written / best['fhir-adapter convert --jobs 2'].wall:,.0f}")


def ensure_ndjson(work: Path, megabytes: float) -> None:
    """The full-size and quarter-size NDJSON files in ``work`` (kept from an earlier run)."""
    big = work / "big.ndjson"
    if not big.is_file():
        t = time.perf_counter()
        make_ndjson(big, megabytes)
        make_ndjson(work / "quarter.ndjson", megabytes / 4)
        print(f"\n(generated the NDJSON files in {time.perf_counter() - t:.0f} s)")


def bench_validate(work: Path, n_rounds: int) -> None:
    big = work / "big.ndjson"
    small = work / "quarter.ndjson"
    lines = sum(1 for _ in big.open("rb"))
    size = big.stat().st_size
    print(
        f"\nvalidate: {size / 1e6:,.0f} MB NDJSON, {lines:,} generated valid resources of 8 types"
    )
    runs = rounds(
        {
            "one process (Validator.validate_file)": lambda: [
                PY,
                "-c",
                BASELINE_VALIDATE,
                str(big),
            ],
            "fhir-adapter validate --jobs 1": lambda: [CLI, "validate", str(big), "--jobs", "1"],
            "fhir-adapter validate --jobs 2": lambda: [CLI, "validate", str(big), "--jobs", "2"],
        },
        n_rounds,
    )
    quarter = measure([CLI, "validate", str(small), "--jobs", "2"])
    outs = [r.out for rs in runs.values() for r in rs]
    same = all(o.strip().endswith("valid (0 errors, 0 warnings)") for o in outs[:n_rounds])
    same = same and len({o for o in outs[n_rounds:]}) == 1
    print(f"  correctness: every run reports the file valid, 0 errors, 0 warnings: {same}")
    best = report(runs, lines, "resources")
    t2 = speedups(best)
    cpu1 = best["fhir-adapter validate --jobs 1"].cpu
    print(
        f"  MB/s at --jobs 2: {size / 1e6 / t2:,.1f}; per CPU-second at --jobs 1: "
        f"{size / 1e6 / cpu1:,.1f} MB"
    )
    rss2 = best["fhir-adapter validate --jobs 2"].rss
    print(
        f"  memory, --jobs 2: peak RSS {quarter.rss} MB at {small.stat().st_size / 1e6:,.0f} MB "
        f"input, {rss2} MB at {size / 1e6:,.0f} MB input (the largest process holds one piece)"
    )


def bench_spark(work: Path) -> None:
    """fhir_adapter.spark.validate_ndjson in local mode on the quarter-size file, to Parquet."""
    small = work / "quarter.ndjson"
    size = small.stat().st_size
    lines = sum(1 for _ in small.open("rb"))
    print(
        f"\nspark local mode: validate_ndjson on {size / 1e6:,.0f} MB ({lines:,} resources) -> Parquet"
    )
    for cores in (1, 2):
        p = subprocess.run(
            [PY, "-c", SPARK_VALIDATE, str(cores), str(small), str(work / "parquet")],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=True,
        )
        dt, cpu, rows, invalid, parts, py_rss, jvm_rss = p.stdout.split()
        dt_f, cpu_f = float(dt), float(cpu)
        print(
            f"  local[{cores}]: {dt_f:6.1f} s  {lines / dt_f:>8,.0f} resources/s  "
            f"{size / 1e6 / dt_f / cores:5.1f} MB/s per core; CPU {cpu_f:.1f} s in all "
            f"processes ({cpu_f / dt_f:.2f} cores): {size / 1e6 / cpu_f:.1f} MB per CPU-second  "
            f"({rows} rows, {invalid} invalid, {parts} input partitions; includes the "
            f"line-count scan); peak RSS: Python worker {py_rss} MB, JVM {jvm_rss} MB; load "
            f"average {os.getloadavg()[0]:.1f}"
        )


def bench_load(n: int, work: Path) -> None:
    """post --mode bulk into a local sekmet-fhir server at several batch sizes and workers."""
    import requests

    from fhir_adapter.bulk.export import export_ndjson
    from fhir_adapter.testing import local_fhir_server

    cases = work / "load-cases"
    if not cases.is_dir():
        make_cases(n, cases)
    export = work / "load-export"
    result = export_ndjson([cases], export, jobs=2)
    total = sum(result.counts.values())
    print(f"\nload: {total:,} resources of {len(result.counts)} types ({n} synthetic cases)")
    for batch, workers in ((25, 1), (100, 1), (500, 1), (25, 4), (100, 4), (500, 4)):
        with local_fhir_server() as base:
            cmd = [CLI, "post", str(export), "--mode", "bulk", "--server", base]
            cmd += ["--strategy", "put", "--no-validate"]  # sekmet omits some types it takes
            r = measure([*cmd, "--batch-size", str(batch), "--workers", str(workers)])
            counts = {
                t: requests.get(f"{base}/{t}?_summary=count", timeout=60).json().get("total")
                for t in result.counts
            }
        once = counts == result.counts
        print(
            f"  batch {batch:>4}, workers {workers}: {r.wall:6.1f} s  {total / r.wall:>7,.0f} "
            f"resources/s  (client CPU {r.cpu:5.1f} s; every resource once on the server: {once})"
        )


if __name__ == "__main__":
    main()
