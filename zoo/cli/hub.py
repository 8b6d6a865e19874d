"""``zoo push`` and ``zoo pull``: publish runs and pre-trainings on the Hugging Face Hub, and
fetch them, checked, into the standard Hugging Face cache (docs/hub.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from huggingface_hub import constants

from registry import CHECKPOINTS
from registry.errors import ConfigError
from zoo.cli import app, console
from zoo.hub import repo
from zoo.io import hub_client as client


def commit_message(publication: repo.Publication) -> str:
    config = publication.config
    if publication.kind == "run":
        return (
            f"mer-zoo: {config['model']} on {config['dataset']} ({config['class_set']}, "
            f"{config['protocol']}), run {config['run_id']}"
        )
    if publication.kind == "model":
        return f"mer-zoo: {config['model']} trained on every subject of {config['dataset']}, {config['train_id']}"
    return f"mer-zoo: {config['pretraining']['pretrainer']} pre-training of {config['model']}"


def say(text: str) -> None:
    """Print text that holds names from downloaded files as plain text: no Rich markup, and
    control characters (terminal escape sequences) shown escaped."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    console.print(text, markup=False, highlight=False, soft_wrap=True)


@app.command()
def push(
    path: Path = typer.Argument(
        ..., help="A result file of `zoo bench --save-weights`, a model folder of `zoo train`, or a `zoo pretrain` "
        "output folder or file."
    ),
    repo_id: str = typer.Option(..., "--repo", help="ORG/NAME on the Hub; created if it does not exist."),
    revision: Optional[str] = typer.Option(
        None, "--revision", help="Branch to commit to; created from the default branch if needed."
    ),
    private: bool = typer.Option(False, "--private", help="Create the repo as private."),
    message: Optional[str] = typer.Option(None, "--message", "-m", help="Commit message."),
    license: Optional[str] = typer.Option(
        None,
        "--license",
        help="Licence id of the card (default: mit for mer-zoo's generated data, else other).",
    ),
) -> None:
    """Upload weights, config.json, result and model card to the Hub as one commit."""
    reference = client.parse_reference(repo_id)
    if reference.revision:
        raise ConfigError(f"--repo {repo_id}: give the branch with --revision, not @")
    publication = repo.local_publication(path)
    files = repo.repo_files(publication, reference.repo_id, license)
    target = f"{reference.repo_id}@{revision}" if revision else reference.repo_id
    say(f"pushing {publication.kind} {path} ({len(files)} files) to {target} at {constants.ENDPOINT}")
    info = client.push(
        reference.repo_id,
        files,
        branch=revision,
        private=private,
        message=message or commit_message(publication),
    )
    say(f"commit {info.oid}: {info.commit_url}")


@app.command()
def pull(
    reference: str = typer.Argument(
        ..., help="ORG/NAME[@REVISION] (also hf:ORG/NAME[@REVISION]), or a published checkpoint name."
    ),
) -> None:
    """Download a mer-zoo repo (or a published checkpoint) into the Hugging Face cache and check it."""
    if "/" not in reference:
        row = CHECKPOINTS.get(reference).obj
        if "repo" not in row:
            raise ConfigError(
                f"checkpoint {reference} is made locally on first use, not published; nothing to pull"
            )
        path = client.fetch_verified(row["repo"], row["revision"], row["file"], row["sha256"])
        say(f"{reference}: {row['repo']}@{row['revision']}/{row['file']}, sha256 checked, in {path}")
        return
    pulled = repo.pull(client.parse_reference(reference))
    config = pulled.config
    options = ", ".join(f"{k}={v}" for k, v in sorted(config["options"].items()))
    say(f"{pulled.reference}: commit {pulled.commit}, a {config['kind']} of {config['model']} ({options})")
    if config["kind"] == "run":
        say(
            f"  {config['dataset']}, {config['class_set']} ({', '.join(config['classes'])}), "
            f"{config['protocol']}, {len(config['folds'])} fold(s)"
        )
    for name in sorted(pulled.files):
        say(f"  {name}: sha256 {config['files'][name]['sha256'][:16]}... checked")
    say(f"in {pulled.folder}")
