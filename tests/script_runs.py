"""Runs `scripts/train.py` several times at once, for the train-script test modules."""

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "train.py"


@dataclass
class ScriptRun:
    output_dir: Path
    returncode: int
    stdout: str
    stderr: str


def run_scripts_concurrently(root: Path, arguments: dict[str, list[str]]) -> dict[str, ScriptRun]:
    """Start one `train.py` per entry (output in `root/<name>`), all at once: each spends seconds on imports."""
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_CACHE": str(root / "datasets_cache"),
        "TOKENIZERS_PARALLELISM": "false",
    }
    started = {}
    for name, args in arguments.items():
        # Files, not pipes: a full pipe would stall a run while the caller waits on another one.
        stdout, stderr = open(root / f"{name}.stdout", "w"), open(root / f"{name}.stderr", "w")
        command = [sys.executable, str(SCRIPT), *args, "--output_dir", name]
        started[name] = (subprocess.Popen(command, cwd=root, env=env, stdout=stdout, stderr=stderr), stdout, stderr)
    finished = {}
    for name, (process, stdout, stderr) in started.items():
        returncode = process.wait(timeout=300)
        stdout.close()
        stderr.close()
        finished[name] = ScriptRun(
            root / name, returncode, Path(stdout.name).read_text(), Path(stderr.name).read_text()
        )
    return finished


def succeeded(run: ScriptRun) -> Path:
    assert run.returncode == 0, f"train.py failed:\n{run.stderr[-3000:]}"
    return run.output_dir
