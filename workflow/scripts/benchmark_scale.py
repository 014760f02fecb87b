"""Scale and speed benchmark of the whole workflow (a developer command, not a rule).

For each size it generates a seeded synthetic cohort with the package generator
(``alsalvage.synthetic.write_cohort``), copies the project into its own working directory,
runs ``snakemake --cores N`` there with a config file pointing ``inputs:`` at the generated
CSV files (``study.synthetic: true``), and prints, per rule and in total, the wall time
(Snakemake's ``benchmarks/<rule>.tsv``), the CPU time (user + sys) and the peak resident
memory (exact, from the per-job probe in ``benchmark_probe/``), then the growth factor of
every rule between consecutive sizes. ``--demo`` also times the demo-cohort targets, each
``--demo-repeat`` times (minimum and median): a cold run from the raw CSV files, a cold run
from validated inputs (``validate`` already run), a no-op rerun and a rerun after a
template-only edit; and Snakemake's own floor on this machine: ``snakemake --version`` and
the no-op of a one-rule workflow.

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
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "workflow" / "scripts"
PROBE = SCRIPTS / "benchmark_probe"
BIN = Path(sys.executable).parent
# What a run of the workflow needs from the repository (tests/helpers.py uses the same).
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


def copy_project(dest: Path, source: Path = REPO) -> Path:
    """Copy the workflow of source (not results/, logs/, benchmarks/ or .snakemake/) into
    dest. Also the tests' copy (tests/helpers.py imports it from here)."""
    dest.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in PROJECT_FILES:
        src = source / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore, dirs_exist_ok=True)
        elif src.exists():
            shutil.copy2(src, dest / name)
    return dest


def fresh_copy(dest: Path, source: Path = REPO) -> Path:
    """copy_project into an emptied dest: nothing of an earlier benchmark run survives."""
    shutil.rmtree(dest, ignore_errors=True)
    return copy_project(dest, source)


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


def bench_key(relpath: str | Path) -> str:
    """benchmarks/<rule>.tsv -> rule; benchmarks/<rule>/<wildcard>.tsv -> rule[wildcard]
    (relpath relative to the benchmarks directory)."""
    parts = Path(relpath).with_suffix("").parts
    return job_key(parts[0], parts[1:])


def read_benchmarks(workdir: Path) -> dict[str, dict]:
    """benchmarks/<rule>.tsv and benchmarks/<rule>/<wildcard>.tsv -> key -> last record."""
    out = {}
    root = workdir / "benchmarks"
    for f in sorted(root.rglob("*.tsv")):
        key = bench_key(f.relative_to(root))
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


def snapshot(workdir: Path, subdirs=("benchmarks", "results")) -> dict[str, tuple[int, int]]:
    """Relative path -> (mtime in ns, inode) of every file under the subdirs of workdir.
    Snakemake removes a job's outputs and benchmark file before the job runs and writes
    them again, so a job that ran leaves a new or changed entry."""
    out = {}
    for sub in subdirs:
        for f in sorted((workdir / sub).rglob("*")):
            if f.is_file():
                st = f.stat()
                out[f.relative_to(workdir).as_posix()] = (st.st_mtime_ns, st.st_ino)
    return out


def changed_paths(before: dict, after: dict) -> list[str]:
    """Paths written, rewritten or removed between two snapshots."""
    return sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))


def jobs_of(paths) -> list[str]:
    """The jobs whose benchmark file is among paths (benchmarks/<rule>[/<wildcard>].tsv);
    every rule of the workflow has one, `all` none."""
    return sorted(
        bench_key(Path(p).relative_to("benchmarks"))
        for p in paths
        if Path(p).parts[0] == "benchmarks" and p.endswith(".tsv")
    )


def downstream_problems(ran: list[str], changed: list[str], cold_jobs: list[str]) -> list[str]:
    """What is wrong with a run meant to start from validated inputs: it must run every
    job of a cold run except validate (every other job is downstream of it), and leave
    validate's outputs (results/validated/) untouched."""
    expected = set(cold_jobs) - {"validate"}
    problems = []
    if "validate" not in cold_jobs:
        problems.append("the cold run from raw inputs wrote no benchmarks/validate.tsv")
    if set(ran) - expected:
        problems.append(f"jobs that should not have run: {', '.join(sorted(set(ran) - expected))}")
    if expected - set(ran):
        problems.append(f"jobs that did not run: {', '.join(sorted(expected - set(ran)))}")
    touched = [p for p in changed if p.startswith("results/validated/")]
    if touched:
        problems.append(f"validated inputs rewritten: {', '.join(touched)}")
    return problems


def summarize(runs: list[dict]) -> dict:
    """Minimum and median of the wall and CPU seconds of repeated runs, plus the runs."""
    out = {"runs": runs}
    for k in ("wall_s", "cpu_s"):
        values = [r[k] for r in runs]
        out[f"{k}_min"] = round(min(values), 2)
        out[f"{k}_median"] = round(statistics.median(values), 2)
    return out


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
    peak = max((r["peak_mib"] or 0 for r in rules), default=0)
    lines.append(
        f"| **sum of rules** | {fmt(sum(r['wall_s'] or 0 for r in rules))} | "
        f"{fmt(sum(r['cpu_s'] or 0 for r in rules))} | {fmt(peak, 0)} (max) | |"
    )
    lines.append(
        f"| **whole workflow** (`snakemake --cores {res['cores']}`) | {fmt(res['run']['wall_s'])} "
        f"| {fmt(res['run']['cpu_s'])} | | |"
    )
    if res["n"] >= 100_000:  # the registry-size targets
        wall_ok = res["run"]["wall_s"] <= TARGETS["total_wall_s_100k"]
        lines += ["", f"Targets at this size: whole workflow {fmt(res['run']['wall_s'])} s "
                  f"(at most {TARGETS['total_wall_s_100k']:g} s: {'met' if wall_ok else 'MISSED'}); "
                  f"largest rule peak {fmt(peak, 0)} MiB (at most {TARGETS['rule_peak_mib']:g} MiB: "
                  f"{'met' if peak <= TARGETS['rule_peak_mib'] else 'MISSED'})."]
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
    work = fresh_copy(root / "project")
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


# A one-rule workflow: what any Snakemake no-op costs here (start-up, DAG, one mtime check).
FLOOR_SNAKEFILE = """\
rule all:
    input:
        "done.txt",


rule touch:
    output:
        "done.txt",
    shell:
        "touch {output}"
"""


def checked_run(cmd: list[str], cwd: Path, env: dict, log: Path, what: str) -> dict:
    res = run_measured(cmd, cwd, env, log)
    if res["rc"] != 0:
        sys.exit(f"demo benchmark: {what} failed (exit {res['rc']}): see {log}")
    return res


def floor_workflow(root: Path, cmd: list[str], env: dict) -> Path:
    """FLOOR_SNAKEFILE in root/one_rule, run once (its output then exists)."""
    work = root / "one_rule"
    work.mkdir(parents=True)
    (work / "Snakefile").write_text(FLOOR_SNAKEFILE)
    checked_run(cmd, work, env, root / "one_rule_first.log", "the one-rule workflow")
    return work


def cold_validated(cmd: list[str], step: Path, source: Path, cold_jobs: list[str]) -> dict:
    """A fresh copy in which `--until validate` ran (untimed), then the timed full run;
    exits unless that run ran exactly the jobs below validate and left its outputs alone."""
    work = fresh_copy(step / "project", source)
    probe = step / "probe"
    probe.mkdir()
    env = base_env(probe)
    checked_run([*cmd, "--until", "validate"], work, env, step / "until_validate.log", "--until validate")
    before = snapshot(work)
    if jobs_of(before) != ["validate"]:
        sys.exit(f"demo benchmark: `--until validate` in {work} ran {jobs_of(before)}, not validate alone")
    res = checked_run(cmd, work, env, step / "cold.log", "cold run from validated inputs")
    changed = changed_paths(before, snapshot(work))
    problems = downstream_problems(jobs_of(changed), changed, cold_jobs)
    if problems:
        sys.exit(f"demo benchmark: the run from validated inputs in {work} is not the one to time:\n  "
                 + "\n  ".join(problems))
    res["jobs"] = jobs_of(changed)
    return res


def bench_demo(args, out: Path) -> dict:
    """Demo cohort, `snakemake --cores <demo-cores>` runs, each measurement --demo-repeat
    times. Every copy is made from one snapshot of the repository (root/source), so that
    all runs use the same code even while the working tree changes. Measurements that are
    compared are interleaved (raw and validated cold runs; no-op, --version and one-rule
    no-op), so that a change of the machine's load hits them alike:
    cold from raw CSV (a fresh copy each time); cold from validated inputs (a fresh copy in
    which `--until validate` ran first, untimed); the no-op rerun and the template-only
    edit (in the first raw copy); Snakemake's own floor: `snakemake --version` and the
    no-op of a one-rule workflow (FLOOR_SNAKEFILE) after one real run."""
    root = out / "demo"
    shutil.rmtree(root, ignore_errors=True)
    source = copy_project(root / "source")
    cmd = snakemake_cmd(args.demo_cores)
    n = args.demo_repeat
    res = {"repeat": n, "cores": args.demo_cores, "load_before": round(os.getloadavg()[0], 2)}

    cold, validated, cold_jobs = [], [], None
    for i in range(n):
        work = fresh_copy(root / f"raw{i}" / "project", source)
        probe = root / f"raw{i}" / "probe"
        probe.mkdir()
        cold.append(checked_run(cmd, work, base_env(probe), root / f"raw{i}" / "cold.log", "cold run from raw inputs"))
        jobs = jobs_of(snapshot(work))
        if cold_jobs is not None and jobs != cold_jobs:
            sys.exit(f"demo benchmark: cold runs ran different jobs: {cold_jobs} and {jobs}")
        cold_jobs = jobs
        if i == 0:
            res["rules"] = per_rule(work, probe)
        validated.append(cold_validated(cmd, root / f"validated{i}", source, cold_jobs))
    res["cold"] = summarize(cold)
    res["cold"]["jobs"] = cold_jobs
    res["cold_validated"] = summarize(validated)
    res["cold_validated"]["jobs"] = validated[0]["jobs"]

    work = root / "raw0" / "project"
    env = base_env(root / "raw0" / "probe")
    floor = floor_workflow(root / "floor", cmd, env)
    done = floor / "done.txt"
    noop, version, floor_noop = [], [], []
    for i in range(n):
        before = snapshot(work)
        noop.append(checked_run(cmd, work, env, root / f"noop{i}.log", "no-op rerun"))
        changed = changed_paths(before, snapshot(work))
        if changed:
            sys.exit(f"demo benchmark: the no-op rerun wrote {', '.join(changed)}: see {root / f'noop{i}.log'}")
        version.append(checked_run([str(BIN / "snakemake"), "--version"], floor, env,
                                   root / "floor" / f"version{i}.log", "snakemake --version"))
        stamp = done.stat().st_mtime_ns, done.stat().st_ino
        floor_noop.append(checked_run(cmd, floor, env, root / "floor" / f"noop{i}.log", "the one-rule no-op"))
        if (done.stat().st_mtime_ns, done.stat().st_ino) != stamp:
            sys.exit(f"demo benchmark: the one-rule no-op rewrote {done}: see {root / 'floor' / f'noop{i}.log'}")
    res["noop"] = summarize(noop)
    res["snakemake_version"] = summarize(version)
    res["snakemake_version"]["version"] = (root / "floor" / "version0.log").read_text().strip()
    res["floor_noop"] = summarize(floor_noop)

    report, template = work / "results" / "report.html", work / TEMPLATE
    edits = []
    for i in range(n):
        html, before = report.read_bytes(), snapshot(work)
        template.write_text(template.read_text() + f"{{# benchmark: template-only edit {i} #}}\n")
        edits.append(checked_run(cmd, work, env, root / f"template{i}.log", "template-only edit"))
        edits[-1]["jobs"] = jobs_of(changed_paths(before, snapshot(work)))
        edits[-1]["report_unchanged"] = report.read_bytes() == html
    res["template"] = summarize(edits)
    res["template"]["jobs"] = sorted({j for r in edits for j in r["jobs"]})
    res["template"]["report_unchanged"] = all(r["report_unchanged"] for r in edits)
    res["load_after"] = round(os.getloadavg()[0], 2)
    return res


def demo_lines(d: dict) -> list[str]:
    def row(label: str, r: dict, target: str | None) -> str:
        t = TARGETS.get(target)
        verdict = "" if t is None else ("met" if r["wall_s_median"] <= t else "MISSED")
        return (
            f"| {label} | {fmt(r['wall_s_min'], 2)} | {fmt(r['wall_s_median'], 2)} | "
            f"{fmt(r['cpu_s_median'], 2)} | {'-' if t is None else f'{t:g}'} | {verdict} |"
        )

    t, v = d["template"], d["cold_validated"]
    above = d["noop"]["wall_s_median"] - d["floor_noop"]["wall_s_median"]
    return [
        f"### Demo cohort (50 patients, `snakemake --cores {d['cores']}`, each run {d['repeat']} times; "
        f"load average {d['load_before']:.1f} before, {d['load_after']:.1f} after)",
        "",
        "| run | wall s min | wall s median | CPU s median | target | |",
        "|---|---:|---:|---:|---:|---|",
        row("cold, from raw inputs to report", d["cold"], None),
        row("cold, from validated inputs to report", v, "demo_cold_s"),
        row("no-op rerun", d["noop"], "demo_noop_s"),
        row("template-only edit", t, "demo_template_s"),
        row("Snakemake floor: `snakemake --version`", d["snakemake_version"], None),
        row("Snakemake floor: no-op of a one-rule workflow", d["floor_noop"], None),
        "",
        "Targets are judged on the median. "
        f"From validated inputs ran {len(v['jobs'])} jobs, every job of the cold run but validate "
        f"(checked from the benchmark files written): {', '.join(v['jobs'])}. "
        f"Jobs rerun after the template edit: {', '.join(t['jobs']) or 'none'}; "
        f"report bytes unchanged by a comment-only edit: {t['report_unchanged']}. "
        f"Snakemake {d['snakemake_version']['version']}; workflow no-op minus one-rule no-op "
        f"(medians): {fmt(above, 2)} s.",
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
    ap.add_argument("--demo-repeat", type=int, default=3, help="times each demo measurement is taken")
    ap.add_argument("--reuse", action="store_true", help="reuse cohorts already generated in --out")
    ap.add_argument(
        "--profile", action="store_true",
        help="run every job of the size runs under cProfile (<out>/n<size>/profile/; inflates times)",
    )
    opts = ap.parse_args(argv)
    if opts.demo_repeat < 1:
        ap.error("--demo-repeat must be at least 1")
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
