"""Scale and speed benchmark of the whole workflow (a developer command, not a rule).

For each size it generates a seeded synthetic cohort with the package generator
(``alsalvage.synthetic.write_cohort``), copies the project into its own working directory,
runs ``snakemake --cores N`` there with a config file pointing ``inputs:`` at the generated
CSV files (``study.synthetic: true``), and prints, per rule and in total, the wall time
(Snakemake's ``benchmarks/<rule>.tsv``), the CPU time (user + sys) and the peak resident
memory (exact, from the per-job probe in ``benchmark_probe/``), then the growth factor of
every rule between consecutive sizes. ``--demo`` also times the demo-cohort targets: a cold
run, a no-op rerun and a rerun after a template-only edit.

    .venv/bin/python workflow/scripts/benchmark_scale.py --sizes 1000 10000 100000 --seed 1 --out /tmp/scale
    .venv/bin/python workflow/scripts/benchmark_scale.py --sizes --demo --out /tmp/scale-demo

Writes ``<out>/scale.json`` (every measurement) and ``<out>/scale.md`` (the printed tables);
``--profile`` also writes a cProfile of every job to ``<out>/n<size>/profile/`` (slower).
Nothing in the repository is modified. Figures: docs/performance.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "workflow" / "scripts"
PROBE = SCRIPTS / "benchmark_probe"
BIN = Path(sys.executable).parent
# What a run of the workflow needs from the repository (as tests/helpers.copy_project).
PROJECT_FILES = ("Snakefile", "config.yaml", "workflow", "resources", "profiles")
TEMPLATE = Path("workflow/templates/report.html.j2")
# The targets (docs/performance.md, "Scale and speed").
TARGETS = {
    "demo_cold_s": 12.0,
    "demo_noop_s": 1.5,
    "demo_template_s": 4.0,
    "total_wall_s_100k": 120.0,
    "rule_peak_mib": 4096.0,
    "growth_x": 11.0,
}


# --------------------------------------------------------------------------- running
def run_measured(cmd: list[str], cwd: Path, env: dict[str, str], log: Path) -> dict:
    """Run cmd, return wall seconds, CPU seconds of it and all its waited-for descendants
    (``os.wait4`` rusage) and the return code; stdout+stderr go to log."""
    with open(log, "w") as fh:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=fh, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {
        "cmd": " ".join(cmd),
        "wall_s": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "rc": proc.returncode,
        "load_after": round(os.getloadavg()[0], 2),
    }


def base_env(probe_dir: Path | None = None, profile_dir: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["MPLBACKEND"] = "Agg"
    if probe_dir is not None:
        env["ALSALVAGE_BENCH_PROBE"] = str(probe_dir)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROBE), env.get("PYTHONPATH")]))
    if profile_dir is not None:
        env["ALSALVAGE_BENCH_PROFILE"] = str(profile_dir)
    return env


def copy_project(dest: Path) -> Path:
    """A fresh copy of the workflow (no results/, logs/, benchmarks/ or .snakemake/)."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in PROJECT_FILES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        elif src.exists():
            shutil.copy2(src, dest / name)
    return dest


def snakemake_cmd(cores: int, *args: str) -> list[str]:
    return [str(BIN / "snakemake"), "--cores", str(cores), "--nolock", *args]


def generate(n: int, seed: int, dest: Path, log: Path, reuse: bool) -> dict:
    """The six raw CSV tables for n patients, written by the package generator (in a
    child process, so that its time and memory are measured like a rule's)."""
    stamp = dest / ".generated.json"
    if reuse and stamp.exists() and json.loads(stamp.read_text()).get("seed") == seed:
        return json.loads(stamp.read_text())
    dest.mkdir(parents=True, exist_ok=True)
    code = (
        "import resource, sys, json; sys.path.insert(0, sys.argv[1]);"
        "from alsalvage.synthetic import write_cohort;"
        "rows = write_cohort(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]);"
        "u = resource.getrusage(resource.RUSAGE_SELF);"
        "print(json.dumps({'rows': rows, 'peak_mib': round(u.ru_maxrss / 1024, 1)}))"
    )
    cmd = [sys.executable, "-c", code, str(SCRIPTS), str(n), str(seed), str(dest)]
    res = run_measured(cmd, REPO, base_env(), log)
    if res["rc"] != 0:
        sys.exit(f"generating n={n} failed, see {log}")
    info = json.loads(log.read_text().strip().splitlines()[-1])
    res.update(info, n=n, seed=seed)
    stamp.write_text(json.dumps(res, sort_keys=True))
    return res


def cohort_config(workdir: Path, cohort: Path) -> Path:
    """config.yaml of the copy with inputs: pointing at the generated cohort."""
    cfg = yaml.safe_load((workdir / "config.yaml").read_text())
    cfg["inputs"] = {t: str(cohort / f"{t}.csv") for t in cfg["inputs"]}
    cfg["study"]["synthetic"] = True
    path = workdir / "cohort.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


# --------------------------------------------------------------------------- reading
def job_key(rule: str, wildcards) -> str:
    return rule + (f"[{','.join(wildcards)}]" if wildcards else "")


def read_benchmarks(workdir: Path) -> dict[str, dict]:
    """benchmarks/<rule>.tsv and benchmarks/<rule>/<wildcard>.tsv -> key -> last record."""
    out = {}
    root = workdir / "benchmarks"
    for f in sorted(root.rglob("*.tsv")):
        parts = f.relative_to(root).with_suffix("").parts
        key = job_key(parts[0], parts[1:])
        with open(f) as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
        if rows:
            out[key] = rows[-1]
    return out


def read_probes(probe_dir: Path) -> dict[str, dict]:
    out = {}
    for f in sorted(probe_dir.glob("*.json")):
        rec = json.loads(f.read_text())
        out[job_key(rec["rule"], list(rec["wildcards"].values()))] = rec
    return out


def number(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def per_rule(workdir: Path, probe_dir: Path) -> dict[str, dict]:
    """key -> wall_s (Snakemake benchmark), cpu_s and peak_mib (probe; the benchmark's
    sampled cpu_time / max_rss when a job left no probe record), imports."""
    bench, probes = read_benchmarks(workdir), read_probes(probe_dir)
    rows = {}
    for key in sorted(set(bench) | set(probes)):
        b, p = bench.get(key, {}), probes.get(key, {})
        rows[key] = {
            "wall_s": number(b.get("s")) if b else p.get("wall_s"),
            "cpu_s": p.get("cpu_s", number(b.get("cpu_time"))),
            "peak_mib": p.get("peak_mib", number(b.get("max_rss"))),
            "sampled_max_rss_mib": number(b.get("max_rss")),
            "imports": p.get("imports"),
        }
    return rows


# --------------------------------------------------------------------------- reporting
def fmt(x, nd=1) -> str:
    return "-" if x is None else f"{x:.{nd}f}"


def size_table(res: dict) -> list[str]:
    lines = [
        f"### n = {res['n']:,} patients ({res['lab_rows']:,} lab rows; load average "
        f"{res['load_before']:.1f} before, {res['run']['load_after']:.1f} after)",
        "",
        "| rule | wall s | CPU s | peak MiB | heavy imports |",
        "|---|---:|---:|---:|---|",
    ]
    for key, r in res["rules"].items():
        imports = ", ".join(m for m in (r["imports"] or []) if m not in ("numpy", "pandas", "pyarrow"))
        lines.append(
            f"| {key} | {fmt(r['wall_s'])} | {fmt(r['cpu_s'])} | {fmt(r['peak_mib'], 0)} | {imports} |"
        )
    rules = res["rules"].values()
    lines.append(
        f"| **sum of rules** | {fmt(sum(r['wall_s'] or 0 for r in rules))} | "
        f"{fmt(sum(r['cpu_s'] or 0 for r in rules))} | "
        f"{fmt(max((r['peak_mib'] or 0 for r in rules), default=0), 0)} (max) | |"
    )
    lines.append(
        f"| **whole workflow** (`snakemake --cores {res['cores']}`) | {fmt(res['run']['wall_s'])} "
        f"| {fmt(res['run']['cpu_s'])} | | |"
    )
    g = res["generate"]
    lines += ["", f"Cohort generation (not a rule of `all`): {fmt(g['wall_s'])} s wall, "
              f"{fmt(g['cpu_s'])} s CPU, {fmt(g.get('peak_mib'), 0)} MiB peak.", ""]
    return lines


def growth_table(small: dict, big: dict) -> list[str]:
    a, b = small["n"], big["n"]
    lines = [
        f"### Growth {a:,} -> {b:,} patients (x{b / a:g}; target at most x{TARGETS['growth_x']:g} per rule)",
        "",
        "| rule | CPU s | CPU s | CPU growth | wall growth |",
        "|---|---:|---:|---:|---:|",
    ]
    for key in big["rules"]:
        s, l = small["rules"].get(key), big["rules"][key]
        if not s:
            continue
        cg = l["cpu_s"] / s["cpu_s"] if s.get("cpu_s") and l.get("cpu_s") else None
        wg = l["wall_s"] / s["wall_s"] if s.get("wall_s") and l.get("wall_s") else None
        flag = " (over)" if cg and cg > TARGETS["growth_x"] else ""
        lines.append(f"| {key} | {fmt(s['cpu_s'])} | {fmt(l['cpu_s'])} | x{fmt(cg)}{flag} | x{fmt(wg)} |")
    return lines + [""]


def bench_size(n: int, args, out: Path) -> dict:
    root = out / f"n{n}"
    root.mkdir(parents=True, exist_ok=True)
    gen = generate(n, args.seed, root / "cohort", root / "generate.log", args.reuse)
    work = copy_project(root / "project")
    probe = root / "probe"
    shutil.rmtree(probe, ignore_errors=True)
    probe.mkdir()
    cfg = cohort_config(work, root / "cohort")
    profile = None
    if args.profile:
        profile = root / "profile"
        shutil.rmtree(profile, ignore_errors=True)
        profile.mkdir()
    load = os.getloadavg()[0]
    run = run_measured(
        snakemake_cmd(args.cores, "--configfile", str(cfg)), work, base_env(probe, profile), root / "snakemake.log"
    )
    if run["rc"] != 0:
        sys.exit(f"the workflow failed on n={n}: see {root / 'snakemake.log'} and {work / 'logs'}")
    return {
        "n": n,
        "seed": args.seed,
        "cores": args.cores,
        "lab_rows": gen["rows"]["labs"],
        "generate": gen,
        "load_before": round(load, 2),
        "run": run,
        "rules": per_rule(work, probe),
    }


def bench_demo(args, out: Path) -> dict:
    """Demo cohort: cold run, no-op rerun, template-only edit (each `snakemake --cores 4`)."""
    work = copy_project(out / "demo" / "project")
    probe = out / "demo" / "probe"
    shutil.rmtree(probe, ignore_errors=True)
    probe.mkdir(parents=True)
    env = base_env(probe)
    cmd = snakemake_cmd(args.demo_cores)
    res = {"load_before": round(os.getloadavg()[0], 2)}
    res["cold"] = run_measured(cmd, work, env, out / "demo" / "cold.log")
    res["rules"] = per_rule(work, probe)
    res["noop"] = run_measured(cmd, work, env, out / "demo" / "noop.log")
    report = work / "results" / "report.html"
    before = report.read_bytes()
    template = work / TEMPLATE
    template.write_text(template.read_text() + "{# benchmark: template-only edit #}\n")
    res["template"] = run_measured(cmd, work, env, out / "demo" / "template.log")
    log = (out / "demo" / "template.log").read_text()
    res["template"]["jobs"] = sorted(
        {line.split("Rule:")[1].strip(" )") for line in log.splitlines() if "Finished jobid" in line} - {"all"}
    )
    res["template"]["report_unchanged"] = report.read_bytes() == before
    for step in ("cold", "noop", "template"):
        if res[step]["rc"] != 0:
            sys.exit(f"demo {step} run failed: see {out / 'demo' / (step + '.log')}")
    return res


def demo_lines(d: dict) -> list[str]:
    def ok(x, t):
        return "met" if x <= t else "MISSED"

    c, n, t = d["cold"], d["noop"], d["template"]
    return [
        f"### Demo cohort (50 patients, `snakemake --cores 4`; load average {d['load_before']:.1f} before)",
        "",
        "| run | wall s | CPU s | target | |",
        "|---|---:|---:|---:|---|",
        f"| cold, from raw inputs to report | {fmt(c['wall_s'], 2)} | {fmt(c['cpu_s'], 2)} | "
        f"{TARGETS['demo_cold_s']:g} | {ok(c['wall_s'], TARGETS['demo_cold_s'])} |",
        f"| no-op rerun | {fmt(n['wall_s'], 2)} | {fmt(n['cpu_s'], 2)} | "
        f"{TARGETS['demo_noop_s']:g} | {ok(n['wall_s'], TARGETS['demo_noop_s'])} |",
        f"| template-only edit | {fmt(t['wall_s'], 2)} | {fmt(t['cpu_s'], 2)} | "
        f"{TARGETS['demo_template_s']:g} | {ok(t['wall_s'], TARGETS['demo_template_s'])} |",
        "",
        f"Jobs rerun after the template edit: {', '.join(t['jobs']) or 'none'}; "
        f"report bytes unchanged by a comment-only edit: {t['report_unchanged']}.",
        "",
    ]


def machine() -> dict:
    mem = next(
        (int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal")), 0
    )
    return {
        "cpus": os.cpu_count(),
        "mem_gib": round(mem / 1024**2, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[1000, 10000, 100000], help="cohort sizes")
    ap.add_argument("--seed", type=int, default=1, help="seed of the synthetic generator")
    ap.add_argument("--out", type=Path, required=True, help="scratch directory (copies, cohorts, results)")
    ap.add_argument("--cores", type=int, default=2, help="snakemake --cores for the size runs")
    ap.add_argument("--demo", action="store_true", help="also time the demo-cohort targets")
    ap.add_argument("--demo-cores", type=int, default=4, help="snakemake --cores for the demo runs")
    ap.add_argument("--reuse", action="store_true", help="reuse cohorts already generated in --out")
    ap.add_argument(
        "--profile", action="store_true",
        help="run every job of the size runs under cProfile (<out>/n<size>/profile/; inflates times)",
    )
    opts = ap.parse_args(argv)
    out = opts.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    report = {"machine": machine(), "sizes": [], "demo": None}
    lines = [
        f"Machine: {report['machine']['cpus']} CPUs, {report['machine']['mem_gib']} GiB, "
        f"Python {report['machine']['python']}; load average now {os.getloadavg()[0]:.1f}",
        "",
    ]
    for n in opts.sizes:  # in the order given (the largest first when time is short)
        res = bench_size(n, opts, out)
        report["sizes"].append(res)
        print("\n".join(size_table(res)), file=sys.stderr, flush=True)
    report["sizes"].sort(key=lambda r: r["n"])
    for res in report["sizes"]:
        lines += size_table(res)
    for small, big in zip(report["sizes"], report["sizes"][1:]):
        lines += growth_table(small, big)
    if opts.demo:
        report["demo"] = bench_demo(opts, out)
        lines += demo_lines(report["demo"])
    (out / "scale.json").write_text(json.dumps(report, indent=1, sort_keys=True))
    (out / "scale.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
