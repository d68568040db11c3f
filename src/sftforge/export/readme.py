"""The README.md written into every export folder: what is in it, the command that trains on it,
what the training machine needs, and how to check the tokens first.

The folder is meant to be copied to another machine, so the README says everything in terms of the
folder itself (relative paths, ``cd`` into it), never this machine's paths.
"""

from __future__ import annotations

from .common import ExportJob, ExportResult

__all__ = ["readme"]

_INSTALL = {
    "llamafactory": "pip install llamafactory",
    "xtuner": "pip install 'xtuner==0.2.*'",  # the config is XTuner 0.2's; deepspeed is optional
    "swift": "pip install ms-swift",
    "axolotl": "pip install axolotl",
    "litgpt": "pip install 'litgpt[all]'",
    "trl": "pip install trl peft",
}


def readme(job: ExportJob, result: ExportResult) -> str:
    fw = result.framework
    command = result.command.replace(job.cd_command(""), "").strip()
    if command.startswith("bash "):
        command = "bash " + command.rsplit("/", 1)[-1]
    kept = len(job.train) + len(job.eval) - len(result.rejected)
    lines = [
        f"# {job.name}: fine-tuning data for {fw}",
        "",
        f"Written by `sftforge export --for {fw}`: {kept} samples "
        f"(train {len(job.train)}, eval {len(job.eval)} before the trainer's own checks). "
        "Every path in the configs is relative to this folder: copy the whole folder to the "
        "training machine.",
        "",
        "## Train",
        "",
        f"Install the trainer ({_INSTALL[fw]}), then, from inside this folder:",
        "",
        "```bash",
        command,
        "```",
        "",
        f"The model is `{job.model}`"
        + (
            "; replace PATH/TO/MODEL in the config with a local folder or hub id."
            if job.model == "PATH/TO/MODEL"
            else "."
        ),
    ]
    for paragraph in result.readme:
        lines += ["", paragraph]
    files = [str(p.relative_to(job.outdir)) for p in result.files]
    lines += ["", "## Files", ""] + [f"- `{f}`" for f in files] + ["- `README.md`: this file"]
    if result.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in result.notes]
    if result.rejected:
        lines += [
            "",
            f"{len(result.rejected)} samples could not be written for {fw}; each is in "
            "`rejects.jsonl` with the reason.",
        ]
    lines += [
        "",
        "## Check the tokens before training",
        "",
        f"`sftforge tokenize DATA out.parquet --tokenizer MODEL --profile {fw}` shows the ids and "
        "labels this trainer builds; `sftforge export ... --check` loads this folder with the "
        "trainer itself (when it is installed) and compares its rows with the profile's.",
        "",
    ]
    return "\n".join(lines)
