"""The model card (``README.md``) of a pushed repo, made with huggingface_hub's ModelCard.

Its YAML carries ``library_name: mer-zoo``, licence, tags, datasets, base model and a
``model-index`` with UF1, UAR and accuracy per dataset, class set and protocol. Every string
that comes from a result or checkpoint file is escaped before it reaches the Markdown, so a
crafted option value or dataset name cannot inject links, HTML or headings.
"""

from __future__ import annotations

import re

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from zoo.hub.publication import Publication

TASK = "video-classification"
METRICS = (("uf1", "UF1"), ("uar", "UAR"), ("accuracy", "Accuracy"))
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|~:])")


def md(value: object) -> str:
    """``value`` as literal Markdown text: one line, HTML characters as entities, Markdown
    punctuation backslash-escaped."""
    text = " ".join(str(value).split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN.sub(r"\\\1", text)


def _options(options: dict) -> str:
    return ", ".join(f"{md(k)}={md(v)}" for k, v in sorted(options.items())) or "defaults"


def eval_results(result: dict) -> list[EvalResult]:
    """UF1, UAR and accuracy of the run, and of each part of a composite dataset."""
    dataset, protocol = result["dataset"], result["protocol"]
    scored = [(dataset["name"], result["metrics"], {})]
    scored += [
        (part, m, {"part_of": dataset["name"]}) for part, m in (result.get("part_metrics") or {}).items()
    ]
    return [
        EvalResult(
            task_type=TASK,
            task_name="Micro-expression recognition",
            dataset_type=name,
            dataset_name=f"{name} ({dataset['class_set']}, {protocol['name']})",
            dataset_config=dataset["class_set"],
            dataset_split=protocol["name"],
            dataset_args={"protocol": protocol["name"], "num_folds": protocol["num_folds"], **extra},
            metric_type=key,
            metric_name=label,
            metric_value=round(float(metrics[key]), 4),
        )
        for name, metrics, extra in scored
        for key, label in METRICS
    ]


def render(publication: Publication, repo_id: str, license: str) -> str:
    config = publication.config
    name = repo_id.split("/")[-1]
    if publication.kind == "run":
        result = publication.result
        source = (result.get("pretraining") or {}).get("source") or {}
        data = ModelCardData(
            library_name="mer-zoo",
            license=license,
            tags=["mer-zoo", "micro-expression-recognition", config["model"], config["protocol"]],
            datasets=[config["dataset"]],
            base_model=source.get("repo"),
            model_name=name,
            pipeline_tag=TASK,
            eval_results=eval_results(result),
        )
        body = _run_body(name, repo_id, result, license)
    elif publication.kind == "model":
        data = ModelCardData(
            library_name="mer-zoo",
            license=license,
            tags=["mer-zoo", "micro-expression-recognition", config["model"]],
            datasets=[config["dataset"]],
            model_name=name,
            pipeline_tag=TASK,
        )
        body = _model_body(name, repo_id, config, license)
    else:
        meta = publication.checkpoint
        data = ModelCardData(
            library_name="mer-zoo",
            license=license,
            tags=[
                "mer-zoo",
                "micro-expression-recognition",
                "pretraining",
                meta["pretrainer"],
                config["model"],
            ],
            datasets=[meta["corpus"]],
            pipeline_tag=TASK,
        )
        body = _pretraining_body(name, repo_id, meta, license)
    return str(ModelCard(f"---\n{data.to_yaml()}\n---\n\n{body}"))


def _licence_note(license: str, data: str) -> str:
    if license == "mit":
        return "Trained only on data mer-zoo generates; MIT licence, like mer-zoo."
    return (
        f"Trained on {md(data)}: the weights derive from that dataset, so its terms of use apply "
        "(the real MER datasets are licensed for non-commercial research)."
    )


def _row(dataset: str, m: dict) -> str:
    scores = " | ".join(f"{m[key]:.4f}" for key, _ in METRICS)
    return f"| {md(dataset)} | {md(m['num_samples'])} | {scores} |"


def _run_body(name: str, repo_id: str, result: dict, license: str) -> str:
    model, dataset, protocol = result["model"], result["dataset"], result["protocol"]
    m = result["metrics"]
    lines = [
        f"# {md(name)}",
        "",
        f"{md(model['name'])} ({_options(model['options'])}) trained and evaluated by mer-zoo on "
        f"{md(dataset['name'])}, class set {md(dataset['class_set'])} "
        f"({', '.join(md(c) for c in dataset['classes'])}), protocol {md(protocol['name'])} with "
        f"{md(protocol['num_folds'])} fold(s), seed {md(result['seed'])}; run {md(result['run_id'])}.",
        "",
        "| dataset | samples | UF1 | UAR | accuracy |",
        "|---|---|---|---|---|",
        _row(dataset["name"], m),
    ]
    lines += [_row(part, pm) for part, pm in (result.get("part_metrics") or {}).items()]
    lines += [
        "",
        "UF1 and UAR as MEGC defines them: predictions of all folds pooled, per-class F1 / recall "
        "averaged over the classes present. No test-subject information reaches training or model "
        f"selection ({md(result['training']['selection_rule'])}).",
    ]
    lines += _training(result["hyperparameters"], result.get("hyperparameter_sources", {}))
    pretraining = result.get("pretraining")
    if pretraining:
        lines += [
            "",
            f"Fine-tuned from pre-training {md(pretraining.get('name'))} ({md(pretraining.get('pretrainer'))} "
            f"on {md(pretraining.get('corpus'))}, sha256 {md(pretraining.get('sha256'))}).",
        ]
    lines += _usage(repo_id, model["name"], "run")
    lines += ["", "## Licence", "", _licence_note(license, dataset["name"])]
    if model.get("citation"):
        lines += ["", "## Citation", "", md(model["citation"])]
    return "\n".join(lines) + "\n"


def _training(hyperparameters: dict, sources: dict) -> list[str]:
    """The card's training section: each hyper-parameter, its value and where it came from."""
    return ["", "## Training", "", "| hyper-parameter | value | from |", "|---|---|---|"] + [
        f"| {md(k)} | {md(v)} | {md(sources.get(k, ''))} |" for k, v in sorted(hyperparameters.items())
    ]


def _model_body(name: str, repo_id: str, config: dict, license: str) -> str:
    lines = [
        f"# {md(name)}",
        "",
        f"{md(config['model'])} ({_options(config['options'])}) trained by `zoo train` on every subject of "
        f"{md(config['dataset'])} ({md(len(config['subjects']))} subjects, {md(config['num_clips'])} clips), class "
        f"set {md(config['class_set'])} ({', '.join(md(c) for c in config['classes'])}), seed {md(config['seed'])}, "
        f"epoch {md(config['selected_epoch'])} of {md(config['hyperparameters'].get('epochs'))}. Its LOSO "
        "benchmark is `zoo bench` with the same settings; this model has seen every subject, so it is not "
        "to be evaluated on them.",
    ]
    lines += _training(config["hyperparameters"], config.get("hyperparameter_sources", {}))
    inputs = config["inputs"]
    # a model trained on released inputs (flow images, no frames) predicts only clips of such a release
    frames = inputs["source"] == "frames"
    given = ('--onset onset.jpg --apex apex.jpg', 'onset="onset.jpg", apex="apex.jpg"') if frames else (
        f"--dataset {inputs['source']} --data-root DIR", f'dataset="{inputs["source"]}", data_root="DIR"')
    lines += [
        "",
        f"Inputs: {', '.join(md(k) for k in inputs['keys'])} from "
        f"{'frames' if frames else md(inputs['source']) + ' released inputs'}, preprocessed as "
        f"{_options(config['preprocessing'])}.",
        "",
        "## Use",
        "",
        "```bash",
        f"zoo predict hf:{repo_id} {given[0]}",
        "```",
        "",
        "```python",
        "import zoo",
        f'model, preprocess = zoo.load("hf:{repo_id}")',
        f"print(zoo.predict(model, preprocess, {given[1]}))",
        "```",
        "",
        "## Licence",
        "",
        _licence_note(license, config["dataset"]),
    ]
    return "\n".join(lines) + "\n"


def _pretraining_body(name: str, repo_id: str, meta: dict, license: str) -> str:
    lines = [
        f"# {md(name)}",
        "",
        f"{md(meta['pretrainer'])} pre-training of {md(meta['model'])} "
        f"({_options(meta['model_options'])}) on {md(meta['corpus'])}, {md(meta.get('epochs_done'))} epochs; "
        f"it initialises {', '.join(md(c) for c in meta['covers'])} of the model.",
    ]
    if meta.get("excluded_subjects"):
        lines += ["", f"Subjects left out: {', '.join(md(s) for s in meta['excluded_subjects'])}."]
    lines += _usage(repo_id, meta["model"], "pretraining")
    lines += ["", "## Licence", "", _licence_note(license, meta["corpus"])]
    return "\n".join(lines) + "\n"


def _usage(repo_id: str, model: str, kind: str) -> list[str]:
    """How to use the repo; ``model`` is a registered name (the push rebuilt it)."""
    if kind == "pretraining":
        command = f"zoo bench {model} --pretrained hf:{repo_id}"
        return ["", "## Use", "", "Fine-tune from it:", "", "```bash", command, "```"]
    return [
        "",
        "## Use",
        "",
        "```bash",
        f"zoo pull {repo_id}",
        "```",
        "",
        "Each fold's model, with the input scaling of its training subjects: "
        "`zoo.engine.saved.load_fold_model(<snapshot>/weights/<fold>.safetensors)`.",
    ]
