"""The GitHub workflows: actions on their Node 24 majors, and the lab's state off the job container's overlayfs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

WORKFLOWS = sorted((Path(__file__).resolve().parents[2] / ".github" / "workflows").glob("*.yml"))
# The first major of each action that runs on Node 24 (Node 20 left GitHub's runners in September 2026).
NODE24 = {
    "actions/checkout": 5,
    "actions/upload-artifact": 6,
    "actions/upload-pages-artifact": 5,
    "actions/deploy-pages": 5,
    "actions/configure-pages": 6,
}


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_actions_run_on_node_24(workflow):
    jobs = yaml.safe_load(workflow.read_text())["jobs"]
    for name, job in jobs.items():
        for step in job.get("steps", []):
            if "uses" not in step:
                continue
            action, _, ref = step["uses"].partition("@")
            assert action in NODE24, f"{workflow.name}: job {name} uses {action}, whose Node runtime is unchecked"
            assert int(ref.lstrip("v").split(".")[0]) >= NODE24[action], (
                f"{workflow.name}: {step['uses']} runs on Node 20"
            )


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_lab_state_is_on_a_volume_in_job_containers(workflow):
    """dockerd's overlay2 refuses a data-root on overlayfs, which a job container's root is."""
    jobs = yaml.safe_load(workflow.read_text())["jobs"]
    for name, job in jobs.items():
        steps = " ".join(str(step.get("run", "")) for step in job.get("steps", []))
        if "container" not in job or not any(word in steps for word in ("make lab", ".ci/run", "make test")):
            continue
        targets = [volume.split(":")[1] for volume in job["container"].get("volumes", [])]
        # .ci/run keeps its lab under /var/tmp; `make lab` uses /var/lib/doclab.
        wanted = "/var/tmp" if ".ci/run" in steps else "/var/lib/doclab"
        assert wanted in targets, f"{workflow.name}: job {name} runs the lab but mounts no volume at {wanted}"
