"""Print pip constraints that pin every dependency of pyproject.toml to its declared lower bound.

The floor lane of .ci/run installs with them, so the oldest releases that pyproject admits are the ones tested.
torch is left out: the lane uses the CPU wheel the README installs (GPU users bring their own build).
"""

import re
import tomllib
from pathlib import Path

project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]
for requirement in project["dependencies"]:
    name, lower = re.match(r"([A-Za-z0-9_.-]+)\s*>=\s*([^,;\s]+)", requirement).groups()
    if name != "torch":
        print(f"{name}=={lower}")
