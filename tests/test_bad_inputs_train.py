"""Bad inputs to scripts/train.py: each is refused before the first training step, with one line naming the flag.

Spec: whatever can be known before training is checked first; a user error is one line on stderr starting with
"train.py: error: ", exit status 2, no traceback, nothing written into --output_dir and nothing in it deleted.
A run whose training goes non-finite stops with exit status 1, naming the step, and leaves its last good checkpoint
as the result. No secret reaches a file the run writes.

The catalog runs the script in this process (as `__main__`, through `helpers.run_train_script`: the checks stop it
before any Trainer exists); a few cases that need a real process (stderr as a user sees it, the files a full run
writes) start together as subprocesses, under the `slow` marker.
"""

from __future__ import annotations

import json
import math
import shutil

import pytest
import torch
from helpers import run_scripts_concurrently, run_train_script
from safetensors.torch import load_file

from hf_rnn.training import checkpoint_problem, keep_hub_token_out_of_files, latest_complete_checkpoint, parse_arguments

TINY = [
    "--max_steps", "2", "--hidden_size", "8", "--block_size", "8", "--per_device_train_batch_size", "2",
    "--per_device_eval_batch_size", "2", "--max_train_samples", "8", "--max_eval_samples", "2",
    "--num_sample_generations", "0", "--eval_strategy", "no", "--save_strategy", "no", "--report_to", "none",
]  # fmt: skip
TOKEN = "hf_" + "Abc123" * 6  # the shape of a Hugging Face access token

FILES = {
    "empty.txt": b"",
    "blank.txt": b"\n  \n",
    "binary.txt": bytes(range(256)) * 2,
    "latin1.txt": "café au lait\n".encode("latin-1") * 3,
    "good.txt": b"the quick brown fox jumps over the lazy dog\n" * 20,
    "malformed.jsonl": b'{"sentence": "good", "label": "pos"}\n{"sentence": "bad", "label": \n',
    "ragged.tsv": b"sentence\tlabel\ngood film\tpos\nbad film\tneg\textra\nfine\tpos\n",
    "empty_cell.csv": b"sentence,label\ngood film,pos\n,neg\nbad film,neg\nfine film,pos\n",
    "empty_text.jsonl": b'{"sentence": "good film", "label": "pos"}\n{"sentence": "", "label": "neg"}\n'
    b'{"sentence": "bad film", "label": "neg"}\n{"sentence": "fine", "label": "pos"}\n',
    "null_text.jsonl": b'{"text": "some text"}\n{"text": null}\n{"text": "more text here"}\n',
    "bare_tags.conll": b"John PER\nruns O\n\nMary PER\nsits O\n\nBob PER\nwalks O\n",
    "iobes_tags.conll": b"John S-PER\nruns O\n\nMary S-PER\nsits O\n\nBob S-PER\nwalks O\n",
    "empty_tokens.jsonl": b'{"tokens": ["John", "runs"], "ner_tags": ["B-PER", "O"]}\n{"tokens": [], "ner_tags": []}\n'
    b'{"tokens": ["Mary"], "ner_tags": ["B-PER"]}\n',
    "empty_source.jsonl": b'{"source": "a dog", "target": "hundo un"}\n{"source": " ", "target": "mirka"}\n'
    b'{"source": "a cat", "target": "mirka un"}\n',
    "not_utf8.de": "Grüße\n".encode("latin-1"),
    "fine.en": b"greetings\n",
}

# name -> (flags, text every error line must contain). Each is one class of bad input or a sibling of one.
CATALOG = {
    # Training flags transformers accepts and misuses, or rejects only after training has started.
    "max_steps_zero": (["--max_steps", "0"], ["--max_steps=0"]),
    "max_steps_negative": (["--max_steps", "-5"], ["--max_steps=-5"]),
    "epochs_zero": (["--max_steps", "-1", "--num_train_epochs", "0"], ["--num_train_epochs=0"]),
    "learning_rate_negative": (["--learning_rate", "-1"], ["--learning_rate=-1"]),
    "learning_rate_nan": (["--learning_rate", "nan"], ["--learning_rate=nan"]),
    "train_batch_zero": (["--per_device_train_batch_size", "0"], ["--per_device_train_batch_size=0"]),
    "eval_batch_zero": (["--per_device_eval_batch_size", "0"], ["--per_device_eval_batch_size=0"]),
    "accumulation_zero": (["--gradient_accumulation_steps", "0"], ["--gradient_accumulation_steps=0"]),
    "weight_decay_negative": (["--weight_decay", "-0.1"], ["--weight_decay=-0.1"]),
    "max_grad_norm_negative": (["--max_grad_norm", "-1"], ["--max_grad_norm=-1"]),
    "warmup_negative": (["--warmup_steps", "-3"], ["--warmup_steps"]),  # TrainingArguments' check, as flags
    "adam_beta_one": (["--adam_beta2", "1"], ["--adam_beta2=1"]),
    "logging_steps_negative": (["--logging_steps", "-1"], ["--logging_steps=-1"]),
    "max_train_samples_zero": (["--max_train_samples", "0"], ["--max_train_samples=0"]),
    "max_eval_samples_zero": (["--max_eval_samples", "0"], ["--max_eval_samples=0"]),
    "block_size_zero": (["--block_size", "0"], ["--block_size=0"]),
    "sample_tokens_zero": (
        ["--num_sample_generations", "2", "--sample_max_new_tokens", "0"],
        ["--sample_max_new_tokens=0"],
    ),
    "max_seq_length_zero": (["--task", "sequence-classification", "--max_seq_length", "0"], ["--max_seq_length=0"]),
    "max_target_length_one": (["--task", "translation", "--max_target_length", "1"], ["--max_target_length=1"]),
    "max_source_length_one": (["--task", "translation", "--max_source_length", "1"], ["--max_source_length=1"]),
    "generation_max_length_one": (
        ["--task", "translation", "--generation_max_length", "1"],
        ["--generation_max_length=1"],
    ),
    "beams_zero": (["--task", "translation", "--generation_num_beams", "0"], ["--generation_num_beams=0"]),
    # The tagger's options: token-classification only, a known character encoder.
    "char_features_unknown": (
        ["--task", "token-classification", "--char_features", "gru"],
        ["--char_features='gru'", "'lstm'", "'cnn'"],
    ),
    "crf_other_task": (["--task", "sequence-classification", "--crf"], ["--crf", "--task token-classification"]),
    "char_features_other_task": (["--char_features", "cnn"], ["--char_features", "--task token-classification"]),
    # --output_dir
    "output_dir_is_a_file": (["--output_dir", "a_file"], ["--output_dir", "is a file"]),
    "output_dir_not_empty": (["--output_dir", "used"], ["--output_dir", "--overwrite_output_dir"]),
    "overwrite_with_old_checkpoints": (
        ["--output_dir", "old_run", "--overwrite_output_dir"],
        ["--overwrite_output_dir", "checkpoint-2", "checkpoint-4"],
    ),
    "resume_older_than_newest": (
        ["--output_dir", "old_run", "--resume_from_checkpoint", "old_run/checkpoint-2"],
        ["--resume_from_checkpoint", "checkpoint-4"],
    ),
    # --resume_from_checkpoint
    "resume_missing": (["--resume_from_checkpoint", "no_such_checkpoint"], ["--resume_from_checkpoint", "not exist"]),
    "resume_true_without_checkpoint": (["--resume_from_checkpoint", "True"], ["--resume_from_checkpoint True"]),
    "resume_partial": (
        ["--output_dir", "killed", "--resume_from_checkpoint", "killed/checkpoint-4"],
        ["--resume_from_checkpoint", "not a complete checkpoint", "trainer_state.json", "killed/checkpoint-2"],
    ),
    "resume_corrupt_state": (
        ["--output_dir", "corrupt", "--resume_from_checkpoint", "corrupt/checkpoint-2"],
        ["--resume_from_checkpoint", "trainer_state.json does not parse"],
    ),
    "resume_truncated_weights": (
        ["--output_dir", "truncated", "--resume_from_checkpoint", "truncated/checkpoint-2"],
        ["--resume_from_checkpoint", "model.safetensors does not load"],
    ),
    "resume_with_other_tokenizer": (
        ["--output_dir", "old_run", "--resume_from_checkpoint", "True", "--tokenizer_name", "old_run"],
        ["--tokenizer_name", "--resume_from_checkpoint"],
    ),
    "resume_other_model_shape": (
        ["--output_dir", "old_run", "--resume_from_checkpoint", "True", "--hidden_size", "12"],
        ["--resume_from_checkpoint", "another model"],
    ),
    # Data files
    "empty_file": (["--train_file", "empty.txt"], ["--train_file", "empty.txt", "is empty"]),
    "blank_file": (["--train_file", "blank.txt"], ["--train_file", "is empty"]),
    "binary_file": (["--train_file", "binary.txt"], ["--train_file", "not a text file"]),
    "latin1_file": (["--train_file", "latin1.txt"], ["--train_file", "not UTF-8", "line 1"]),
    "latin1_validation_file": (
        ["--train_file", "good.txt", "--validation_file", "latin1.txt"],
        ["--validation_file", "not UTF-8"],
    ),
    "null_text": (["--train_file", "null_text.jsonl", "--validation_split_percentage", "34"], ["--text_column"]),
    "malformed_jsonl": (
        ["--task", "sequence-classification", "--train_file", "malformed.jsonl"],
        ["--train_file", "malformed.jsonl", "not valid JSON"],
    ),
    "ragged_tsv": (
        ["--task", "sequence-classification", "--train_file", "ragged.tsv"],
        ["--train_file", "ragged.tsv", "not valid CSV/TSV", "line 3"],
    ),
    "empty_text_cell": (
        ["--task", "sequence-classification", "--train_file", "empty_cell.csv", "--validation_split_percentage", "25"],
        ["--text_column", "'sentence'", "empty"],
    ),
    "empty_text_string": (
        ["--task", "sequence-classification", "--train_file", "empty_text.jsonl"]
        + ["--validation_split_percentage", "25"],
        ["--text_column", "empty"],
    ),
    "non_iob_tags": (["--task", "token-classification", "--train_file", "bare_tags.conll"], ["--tags_column", "'PER'"]),
    "iobes_tags": (["--task", "token-classification", "--train_file", "iobes_tags.conll"], ["--tags_column", "S-PER"]),
    "latin1_conll": (["--task", "token-classification", "--train_file", "latin1.txt"], ["--train_file", "UTF-8"]),
    "empty_token_list": (
        ["--task", "token-classification", "--train_file", "empty_tokens.jsonl", "--validation_split_percentage", "34"],
        ["--tokens_column", "empty"],
    ),
    "blank_translation_source": (
        ["--task", "translation", "--train_file", "empty_source.jsonl", "--validation_split_percentage", "34"],
        ["--source_column", "empty"],
    ),
    "non_utf8_parallel_file": (
        ["--task", "translation", "--train_source_file", "not_utf8.de", "--train_target_file", "fine.en"],
        ["--train_source_file", "UTF-8"],
    ),
}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad_inputs")
    for name, data in FILES.items():
        (root / name).write_bytes(data)
    (root / "a_file").write_text("not a folder")
    (root / "used").mkdir()
    (root / "used" / "notes.txt").write_text("keep me")
    # A real run with two checkpoints, made in-process (no subprocess start-up): the source of the broken copies.
    old_run = root / "old_run"
    flags = [*TINY, "--max_steps", "4", "--save_strategy", "steps", "--save_steps", "2", "--save_total_limit", "3"]
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        run_train_script([*flags, "--output_dir", str(old_run)])
    for name, broken in (("killed", None), ("corrupt", "trainer_state.json"), ("truncated", "model.safetensors")):
        shutil.copytree(old_run, root / name)
        if broken == "trainer_state.json":
            path = root / name / "checkpoint-2" / broken
            path.write_text(path.read_text()[:40])
        elif broken == "model.safetensors":
            path = root / name / "checkpoint-2" / broken
            path.write_bytes(path.read_bytes()[:-100])
        else:  # killed while writing checkpoint-4: everything before trainer_state.json is there
            (root / name / "checkpoint-4" / "trainer_state.json").unlink()
    return root


def listing(root) -> dict[str, int]:
    return {str(path.relative_to(root)): path.stat().st_size for path in sorted(root.rglob("*")) if path.is_file()}


@pytest.mark.parametrize("case", list(CATALOG))
def test_bad_input_is_one_line_naming_the_flag_and_writes_nothing(workdir, case, capsys, monkeypatch):
    flags, expected = CATALOG[case]
    monkeypatch.chdir(workdir)
    monkeypatch.setattr("sys.argv", ["train.py"])
    before = listing(workdir)
    argv = [*TINY, *flags] if "--output_dir" in flags else [*TINY, *flags, "--output_dir", f"out_{case}"]
    with pytest.raises(SystemExit) as exit_info:
        run_train_script(argv)
    assert exit_info.value.code == 2
    error_lines = [line for line in capsys.readouterr().err.splitlines() if "error" in line.lower()]
    assert len(error_lines) == 1 and error_lines[0].startswith("train.py: error: "), error_lines
    for text in expected:
        assert text in error_lines[0], (text, error_lines[0])
    assert listing(workdir) == before  # nothing written, nothing deleted
    assert not (workdir / f"out_{case}").exists()


def test_overwrite_output_dir_writes_over_a_folder_without_checkpoints_and_keeps_other_files(workdir):
    target = workdir / "overwritten"
    shutil.copytree(workdir / "used", target)
    run_train_script([*TINY, "--train_file", str(workdir / "good.txt"), "--output_dir", str(target),
                       "--overwrite_output_dir"])  # fmt: skip
    assert (target / "notes.txt").read_text() == "keep me"
    assert (target / "model.safetensors").is_file()


def test_resume_true_takes_the_latest_complete_checkpoint_and_its_tokenizer(workdir):
    folder = workdir / "resumed"
    shutil.copytree(workdir / "killed", folder)  # checkpoint-4 lacks trainer_state.json: checkpoint-2 is the latest
    assert latest_complete_checkpoint(folder) == folder / "checkpoint-2"
    saved_vocab = json.loads((folder / "checkpoint-2" / "tokenizer.json").read_text())["model"]["vocab"]
    # Other data than the checkpoint's: a fresh tokenizer would have another vocabulary.
    run_train_script([*TINY, "--max_steps", "4", "--save_strategy", "steps", "--save_steps", "2",
                       "--train_file", str(workdir / "good.txt"), "--output_dir", str(folder),
                       "--resume_from_checkpoint", "True"])  # fmt: skip
    assert json.loads((folder / "tokenizer.json").read_text())["model"]["vocab"] == saved_vocab
    state = json.loads((folder / "checkpoint-4" / "trainer_state.json").read_text())
    assert state["global_step"] == 4
    assert checkpoint_problem(folder / "checkpoint-4") is None  # the leftover was replaced whole


def test_keep_hub_token_out_of_files_moves_it_to_the_environment(monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    _, _, training_args = parse_arguments(["--hub_token", TOKEN])
    keep_hub_token_out_of_files(training_args)
    assert training_args.hub_token is None
    import os

    assert os.environ["HF_TOKEN"] == TOKEN


# Real processes: stderr as the user sees it, and every file a full run writes.


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad_inputs_runs")
    for name, data in FILES.items():
        (root / name).write_bytes(data)
    train_file = str(root / "good.txt")  # an absolute path, which the model card must not publish
    arguments = {
        "malformed_jsonl": [*TINY, "--task", "sequence-classification", "--train_file", "malformed.jsonl"],
        "eval_batch_zero": [*TINY, "--per_device_eval_batch_size", "0"],
        "secret": [*TINY, "--train_file", train_file, "--hub_token", TOKEN, "--save_strategy", "steps",
                   "--save_steps", "1"],
        # A learning rate so large that the weights overflow at step 2, after the step-1 checkpoint.
        "diverges": [*TINY, "--max_steps", "6", "--learning_rate", "1e38", "--save_strategy", "steps",
                     "--save_steps", "1", "--save_total_limit", "3"],
    }  # fmt: skip
    return run_scripts_concurrently(root, arguments)


@pytest.mark.parametrize(("name", "flag"), [("malformed_jsonl", "--train_file"), ("eval_batch_zero", "--per_device")])
@pytest.mark.slow  # trains in subprocesses (the module's `runs`)
def test_a_user_error_in_a_real_process_is_one_line_on_stderr(runs, name, flag):
    run = runs[name]
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    lines = [line for line in run.stderr.splitlines() if "error" in line.lower()]  # progress bars may precede it
    assert len(lines) == 1 and lines[0].startswith("train.py: error: ") and flag in lines[0], run.stderr
    assert not run.output_dir.exists()


@pytest.mark.slow  # trains in subprocesses (the module's `runs`)
def test_no_file_of_a_run_holds_the_hub_token_or_an_absolute_path_in_the_card(runs):
    run = runs["secret"]
    assert run.returncode == 0, run.stderr[-3000:]
    files = [path for path in run.output_dir.rglob("*") if path.is_file()]
    assert any(path.name == "training_args.bin" for path in files)
    for path in files:
        assert TOKEN.encode() not in path.read_bytes(), path
    assert torch.load(run.output_dir / "training_args.bin", weights_only=False).hub_token is None
    card = (run.output_dir / "README.md").read_text()
    assert "--hub_token" not in card
    assert str(run.output_dir.parent) not in card and "--train_file good.txt" in card


@pytest.mark.slow  # trains in subprocesses (the module's `runs`)
def test_non_finite_training_stops_naming_the_step_and_keeps_the_last_good_checkpoint(runs):
    run = runs["diverges"]
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    error_lines = [line for line in run.stderr.splitlines() if "error" in line.lower()]
    assert len(error_lines) == 1 and "at step 2" in error_lines[0] and "checkpoint-1" in error_lines[0]
    out = run.output_dir
    assert [path.name for path in out.glob("checkpoint-*")] == ["checkpoint-1"]
    assert not (out / "model.safetensors").exists()  # no final model
    weights = load_file(out / "checkpoint-1" / "model.safetensors")
    assert all(torch.isfinite(tensor).all() for tensor in weights.values())
    state = json.loads((out / "checkpoint-1" / "trainer_state.json").read_text())
    assert math.isfinite(state["log_history"][0]["loss"])
