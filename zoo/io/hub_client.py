"""Talking to the Hub: references, downloads checked against their sha256, one commit per
push, and the client's exceptions turned into one-line :class:`HubError` messages.

A download that fails or does not verify leaves the Hugging Face cache as it was: a repo
folder this call created is removed, and a file whose digest is wrong is deleted.
"""

from __future__ import annotations

import logging
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import httpx2
from huggingface_hub import CommitInfo, CommitOperationAdd, HfApi, constants, get_token, hf_hub_download
from huggingface_hub.errors import (
    FileMetadataError,
    HfHubHTTPError,
    HFValidationError,
    LocalEntryNotFoundError,
    LocalTokenNotFoundError,
    OfflineModeIsEnabled,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.file_download import repo_folder_name
from huggingface_hub.utils import validate_repo_id

from registry.errors import ConfigError, ZooError
from zoo.io.weights import sha256_of

PREFIX = "hf:"  # marks a Hub reference where a path or a registered name could also stand


class HubError(ZooError):
    """A Hub request that failed: unreachable, offline, not found, refused, or not ours."""


class ChecksumError(HubError):
    """A downloaded file whose sha256 is not the one it was published with."""


@dataclass(frozen=True)
class Reference:
    repo_id: str
    revision: str | None = None  # branch, tag or commit sha; None: the default branch

    def __str__(self) -> str:
        return f"{self.repo_id}@{self.revision}" if self.revision else self.repo_id


def is_reference(text: str) -> bool:
    return text.startswith(PREFIX)


def parse_reference(text: str) -> Reference:
    """``[hf:]ORG/NAME[@REVISION]``."""
    repo_id, _, revision = text.removeprefix(PREFIX).partition("@")
    try:
        if repo_id.count("/") != 1:
            raise HFValidationError(repo_id)
        validate_repo_id(repo_id)
    except HFValidationError:
        raise ConfigError(f"'{text}' is not a Hub reference: expected [hf:]ORG/NAME[@REVISION]") from None
    return Reference(repo_id, revision or None)


def _line(text: object) -> str:
    return " ".join(str(text).split())


@contextmanager
def hub_errors(what: str) -> Iterator[None]:
    """Turn the client's exceptions while working on ``what`` into one-line :class:`HubError`."""
    endpoint = constants.ENDPOINT
    logger = logging.getLogger("huggingface_hub")
    level = logger.level
    logger.setLevel(logging.ERROR)  # the client's retry notices would break the one-line error
    try:
        yield
    except RepositoryNotFoundError:
        who = "no token is set" if get_token() is None else "the token in use cannot see it"
        raise HubError(
            f"{what}: no such repository at {endpoint}, or it is private and {who} "
            "(log in with `hf auth login` or set HF_TOKEN)"
        ) from None
    except RevisionNotFoundError:
        raise HubError(f"{what}: no such branch, tag or commit at {endpoint}") from None
    except RemoteEntryNotFoundError:
        raise HubError(f"{what}: no such file in the repository at {endpoint}") from None
    except (LocalEntryNotFoundError, OfflineModeIsEnabled):
        if constants.is_offline_mode():
            raise HubError(
                f"{what} is not in the Hugging Face cache ({constants.HF_HUB_CACHE}) and HF_HUB_OFFLINE "
                "is set; unset HF_HUB_OFFLINE to download it"
            ) from None
        raise HubError(
            f"cannot reach the Hub at {endpoint} for {what}, and it is not in the Hugging Face cache "
            f"({constants.HF_HUB_CACHE}); check the connection or HF_ENDPOINT"
        ) from None
    except httpx2.TransportError as exc:
        raise HubError(
            f"cannot reach the Hub at {endpoint} ({_line(exc)}); check the connection or HF_ENDPOINT"
        ) from None
    except LocalTokenNotFoundError:
        raise HubError(
            f"{what}: this needs a Hugging Face token; run `hf auth login` or set HF_TOKEN"
        ) from None
    except FileMetadataError:
        raise HubError(f"{endpoint} does not answer like a Hugging Face Hub; check HF_ENDPOINT") from None
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else None
        if status == 401:
            raise HubError(
                f"the Hub at {endpoint} rejected the token (HF_TOKEN or `hf auth login`); renew it"
            ) from None
        if status == 403:
            raise HubError(
                f"{what}: the token may not write there (read-only token, or another owner)"
            ) from None
        raise HubError(
            f"{what}: the Hub at {endpoint} answered {status}: {_line(exc.server_message or exc)}"
        ) from None
    finally:
        logger.setLevel(level)


@contextmanager
def cache_unchanged_on_failure(repo_id: str) -> Iterator[None]:
    """Remove the repo's cache folder (and its locks) again if it is new and the work fails."""
    name = repo_folder_name(repo_id=repo_id, repo_type="model")
    folders = [Path(constants.HF_HUB_CACHE) / name, Path(constants.HF_HUB_CACHE) / ".locks" / name]
    new = [folder for folder in folders if not folder.exists()]
    try:
        yield
    except BaseException:
        for folder in new:
            shutil.rmtree(folder, ignore_errors=True)
        raise


def download(repo_id: str, filename: str, revision: str | None) -> Path:
    """``filename`` of the repo at ``revision``, from the cache or downloaded into it."""
    with hub_errors(f"{repo_id}@{revision or 'main'}/{filename}"):
        return Path(hf_hub_download(repo_id, filename, revision=revision))


def verified(path: Path, sha256: str, what: str) -> Path:
    """``path`` if its digest is ``sha256``; otherwise it leaves the cache and is refused."""
    digest = sha256_of(path)
    if digest != sha256:
        blob = path.resolve()  # the cache's snapshot entry links to a blob
        path.unlink(missing_ok=True)
        blob.unlink(missing_ok=True)
        raise ChecksumError(
            f"{what}: sha256 {digest} differs from the published {sha256}; the download was deleted, not used"
        )
    return path


def fetch_verified(repo_id: str, revision: str, filename: str, sha256: str) -> Path:
    """One pinned file (a registered checkpoint row), checked against its published digest."""
    with cache_unchanged_on_failure(repo_id):
        return verified(download(repo_id, filename, revision), sha256, f"{repo_id}@{revision}/{filename}")


def push(
    repo_id: str, files: dict[str, bytes | Path], *, branch: str | None, private: bool, message: str
) -> CommitInfo:
    """Upload ``files`` (path in repo -> content) as one commit, creating the repo and branch
    if needed; the token is the client's own (HF_TOKEN or the stored login)."""
    api = HfApi()
    with hub_errors(repo_id):
        api.whoami()  # a missing or rejected token fails here, before anything is created
        api.create_repo(repo_id, private=private or None, exist_ok=True)
        if branch:
            api.create_branch(repo_id, branch=branch, exist_ok=True)
        operations = [CommitOperationAdd(path_in_repo=k, path_or_fileobj=v) for k, v in files.items()]
        return api.create_commit(repo_id, operations, commit_message=message, revision=branch)
