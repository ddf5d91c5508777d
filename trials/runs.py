"""Runs cut short or disturbed: kill -9, network faults, an expired session, an item that
always fails, Healthchecks down or slow."""

from __future__ import annotations

import random
import sqlite3
import time
from pathlib import Path

from fakes.healthchecks import FakeHealthchecks
from trials.core import (
    ACCOUNT,
    STATE_DIR,
    Background,
    Run,
    TrialResult,
    audit,
    library,
    run,
    sync_args,
)

KILLS = 20


def kill_9(workdir: Path, seed: int | None = None) -> TrialResult:
    seed = seed if seed is not None else random.SystemRandom().randrange(1, 10_000)
    rng = random.Random(seed)  # noqa: S311 - a replayable trial, not a secret
    result = TrialResult(
        "kill -9",
        f"{KILLS} runs killed (SIGKILL to the collector and Chrome) at random moments "
        f"after a random item was placed and committed (seed {seed}), each followed by a rerun",
        "0 lost, 0 partial, 0 duplicate, 0 temporary files; the state names only complete files",
    )
    problems: list[str] = []
    with library(workdir, items=100, seed=51) as fake:
        manifest = fake.manifest()
        dest, profile = workdir / "dest", workdir / "profile"
        kills = finished = 0
        for _ in range(KILLS):
            job = Background(sync_args(fake, profile, dest))
            if job.wait_for("item-done", rng.randint(1, 3)):
                time.sleep(rng.uniform(0.0, 0.5))  # into the next download, placement or commit
            if job.process.poll() is None:
                job.kill()
                kills += 1
            else:
                job.finish()
                finished += 1
            cut = audit(dest, manifest, complete=False)
            cut.temporary = 0  # left for the next run to clean; judged at the end
            if not cut.clean:
                problems += cut.problems
        final_run = run(sync_args(fake, profile, dest))
        final = audit(dest, manifest)
        result.measured = (
            f"{kills} kills ({finished} runs ended first), {len(problems)} problems between "
            f"runs; rerun: exit {final_run.code}, {final}"
        )
        result.passed = not problems and final_run.code == 0 and final.clean and kills >= 15
    return result


def faults(workdir: Path, seed: int = 7) -> TrialResult:
    spec = f"5xx=0.1,stall=0.1,reset=0.1,seed={seed}"
    result = TrialResult(
        "faults",
        f"10% 5xx, 10% stalls, 10% resets ({spec})",
        "complete within 3 runs",
    )
    with library(workdir, items=40, seed=52, faults=spec) as fake:
        manifest = fake.manifest()
        codes = []
        for _ in range(3):
            done = run(sync_args(fake, workdir / "profile", workdir / "dest"))
            codes.append(done.code)
            if done.code == 0:
                break
        final = audit(workdir / "dest", manifest)
        result.measured = f"exit codes {codes}, faults met {dict(fake.fault_counts)}, {final}"
        result.passed = codes[-1] == 0 and final.clean
    return result


def session_expires(workdir: Path) -> TrialResult:
    result = TrialResult(
        "session expires mid-run",
        "the fake revokes the session (fake.revoke) after 5 items",
        "exit 3 with its sentence; after a refreshed profile, complete",
    )
    with library(workdir, items=40, seed=53) as fake:
        manifest = fake.manifest()
        dest, profile = workdir / "dest", workdir / "profile"
        job = Background(sync_args(fake, profile, dest))
        job.wait_for("item-done", 5)
        fake.revoke(ACCOUNT)
        stopped = job.finish()
        cut = audit(dest, manifest, complete=False)
        fake.make_profile(profile)  # what `login` and refresh-profile.yml do
        after = run(sync_args(fake, profile, dest))
        final = audit(dest, manifest)
        said = "signed out" in stopped.stderr and "login" in stopped.stderr
        result.measured = (
            f'exit {stopped.code}: "{stopped.message.replace(str(profile), "PROFILE")[:150]}", '
            f"{cut}; refreshed: exit "
            f"{after.code}, {final}"
        )
        result.passed = stopped.code == 3 and said and cut.clean and after.code == 0 and final.clean
    return result


def _config(workdir: Path, ping_url: str) -> Path:
    config = workdir / "job.toml"
    config.write_text(f'ping_url = "{ping_url}"\naccount_name = "alice"\n')
    config.chmod(0o600)
    return config


def _job_args(fake_base: str, workdir: Path, config: Path, *extra: str) -> list[str]:
    sync = sync_args_for(fake_base, workdir)
    return ["run", "--config", str(config), "--retry-delay", "1", *sync[1:], *extra]


def sync_args_for(base_url: str, workdir: Path) -> list[str]:
    from trials.core import CHROMIUM

    return [
        "sync",
        "--profile",
        str(workdir / "profile"),
        "--dest",
        str(workdir / "dest"),
        "--base-url",
        base_url,
        "--browser",
        CHROMIUM,
        "--stall-timeout",
        "4",
    ]


def always_failing(workdir: Path) -> TrialResult:
    """One item fails every night: here because a file sits where its month folder goes
    (the fake has no per-item fault; see the report)."""
    result = TrialResult(
        "always-failing item",
        "one item fails every night (a file where its month folder goes), 3 nights of `run` "
        "(the recorded nights are moved back a day between runs, standing in for the calendar)",
        "named with its error; others complete; night 3: exit 0, no retry, full scan recorded",
    )
    with library(workdir, items=40, seed=54) as fake, FakeHealthchecks() as hc:
        manifest = fake.manifest()
        items = [i for i in manifest["accounts"][ACCOUNT]["items"] if i["state"] == "ok"]
        months: dict[str, list[str]] = {}
        for item in items:
            months.setdefault(item["taken"][:7], []).append(item["id"])
        month, (victim,) = next((m, ids) for m, ids in months.items() if len(ids) == 1)
        dest = workdir / "dest"
        (dest / month[:4]).mkdir(parents=True)
        (dest / month[:4] / month[5:7]).write_text("a file where a folder should be\n")
        check = hc.add_check("alice", "alice")
        config = _config(workdir, hc.ping_url(check))
        nights: list[Run] = []
        state = dest / STATE_DIR / "state.sqlite3"
        for _ in range(3):
            nights.append(run(_job_args(fake.base_url, workdir, config, "--full-scan-every", "7")))
            db = sqlite3.connect(state)
            with db:
                db.execute("UPDATE failure_nights SET night = date(night, '-1 day')")
            db.close()
        last = nights[-1]
        attempts = [len(n.named("attempt")) for n in nights]
        named = last.named("item-failing-for-good")
        db = sqlite3.connect(state)
        full_scans = db.execute("SELECT COUNT(*) FROM runs WHERE full_scan = 1 AND exit_code = 0")
        recorded = full_scans.fetchone()[0]
        db.close()
        pings = [
            p for p in hc.check("alice").pings if p.kind in ("success", "fail") or p.exit_status
        ]
        last_ping = pings[-1].body.splitlines()[0] if pings else ""
        (dest / month[:4] / month[5:7]).unlink()
        (dest / month[:4] / month[5:7]).mkdir()
        healed = run(_job_args(fake.base_url, workdir, config))
        final = audit(dest, manifest)
        result.measured = (
            f"exit codes {[n.code for n in nights]}, attempts {attempts}; night 3 names "
            f"{[e['id'][:10] for e in named]} ({named[0]['nights'] if named else 0} nights); "
            f'full scans recorded {recorded}; ping: "...{last_ping[-110:]}"; folder fixed: '
            f"exit {healed.code}, {final}"
        )
        result.passed = (
            [n.code for n in nights] == [4, 4, 0]
            and attempts[-1] == 1
            and [e["id"] for e in named] == [victim]
            and recorded >= 1
            and victim in last_ping
            and healed.code == 0
            and final.clean
        )
    return result


def healthchecks_trouble(workdir: Path) -> TrialResult:
    result = TrialResult(
        "Healthchecks down or slow",
        "pings to a closed port, to 100% 5xx, to answers held back 10 s (--ping-timeout 2)",
        "backup's exit code unchanged (0), run time bounded",
    )
    with library(workdir, items=10, seed=55) as fake:
        first = run(sync_args(fake, workdir / "profile", workdir / "dest"))
        assert first.code == 0, first.stderr
        figures = []
        ok = True
        with FakeHealthchecks() as healthy:
            check = healthy.add_check("alice", "alice")
            base = run(_job_args(fake.base_url, workdir, _config(workdir, healthy.ping_url(check))))
            ok = ok and base.code == 0
        for label, spec in (("down", None), ("5xx", "5xx=1.0"), ("10 s", "timeout=1.0,slow=10")):
            if spec is None:
                url = "http://127.0.0.1:9/ping/00000000-0000-0000-0000-000000000000"
                done = run(
                    _job_args(fake.base_url, workdir, _config(workdir, url), "--ping-timeout", "2")
                )
            else:
                with FakeHealthchecks(faults=spec) as hc:
                    check = hc.add_check("alice", "alice")
                    config = _config(workdir, hc.ping_url(check))
                    done = run(_job_args(fake.base_url, workdir, config, "--ping-timeout", "2"))
            extra = done.seconds - base.seconds
            figures.append(f"{label}: exit {done.code}, +{extra:.0f} s")
            # 2 pings (start, success) x 3 attempts x (2 s + backoff): well under a minute.
            ok = ok and done.code == 0 and extra < 60
        result.measured = f"healthy: {base.seconds:.0f} s; " + "; ".join(figures)
        result.passed = ok
    return result
