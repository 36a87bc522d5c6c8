"""scripts/train.py end to end, on tiny settings, plus the data helpers it stands on (hf_rnn/data.py).

Spec: `python scripts/train.py` trains a causal LM on the embedded corpus (or on --train_file/--validation_file),
and leaves in --output_dir a model that the Auto classes load and generate with, its tokenizer and generation
config, run_clm-style `*_results.json` with perplexity = exp(eval_loss), `loss.png` and `samples.txt`. A user
error stops it before training: exit status 2, one message naming the flag, no traceback, no weights written.

The script runs start together (one module fixture): each pays ~7 s of imports, and the machine has two cores.
"""

from __future__ import annotations

import json
import math
import re

import pytest
import torch
from helpers import ScriptRun, run_scripts_concurrently, run_train_script, seeded, succeeded, tiny_config
from transformers import AutoModelForCausalLM, AutoTokenizer, HfArgumentParser, Seq2SeqTrainingArguments

from hf_rnn import RNNForSequenceClassification, train_tokenizer
from hf_rnn.data import load_data_files, split_off_validation
from hf_rnn.demo_data import default_lm_corpus, default_lm_datasets
from hf_rnn.tasks import TASKS
from hf_rnn.tasks.causal_lm import group_texts
from hf_rnn.training import argument_parser, check_model_flags, parse_arguments
from hf_rnn.training.arguments import TRAINING_HELP_FLAGS

BLOCK_SIZE = 32
TINY_RUN = [
    "--max_steps", "6",
    "--block_size", str(BLOCK_SIZE),
    "--per_device_train_batch_size", "4",
    "--per_device_eval_batch_size", "4",
    "--eval_steps", "3",
    "--logging_steps", "1",
    "--max_train_samples", "48",
    "--max_eval_samples", "8",
    "--num_sample_generations", "2",
    "--sample_max_new_tokens", "10",
    "--save_strategy", "no",
]  # fmt: skip
TINY_MODEL = ["--hidden_size", "16"]  # a new model's shape; a saved model keeps its own
TRAIN_TEXT = "the quick brown fox jumps over the lazy dog.\nA wizard's job is to vex chumps quickly in fog!\n" * 15
VALIDATION_TEXT = "the lazy dog jumps over the quick brown fox. " * 3  # 135 characters: 4 blocks of 32
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, ScriptRun]:
    root = tmp_path_factory.mktemp("train_script")
    (root / "train.txt").write_text(TRAIN_TEXT)
    (root / "validation.txt").write_text(VALIDATION_TEXT)
    classifier = root / "sequence_classifier"
    seeded(RNNForSequenceClassification, tiny_config(num_labels=2)).save_pretrained(classifier)
    train_tokenizer(["abc"], kind="char").save_pretrained(classifier)

    arguments = {
        "default_corpus": [*TINY_RUN, *TINY_MODEL],
        "text_files": [*TINY_RUN, *TINY_MODEL, "--train_file", "train.txt", "--validation_file", "validation.txt"],
        "missing_train_file": [*TINY_RUN, "--train_file", "no_such_file.txt"],
        "unknown_task": [*TINY_RUN, "--task", "summarize-poems"],
        "sequence_classifier_folder": [*TINY_RUN, "--model_name_or_path", str(classifier)],
        "checkpoints": [*TINY_RUN, *TINY_MODEL, "--save_strategy", "steps", "--save_steps", "2"],
    }
    return run_scripts_concurrently(root, arguments)


@pytest.mark.slow  # trains in subprocesses (the module's `runs`)
def test_default_corpus_run_saves_a_self_contained_model_folder(runs):
    out = succeeded(runs["default_corpus"])
    for name in ("model.safetensors", "modeling_rnn.py", "configuration_rnn.py", "cache_rnn.py"):
        assert (out / name).is_file(), name
    for name in ("tokenizer.json", "tokenizer_config.json", "generation_config.json"):
        assert (out / name).is_file(), name
    config = json.loads((out / "config.json").read_text())
    assert config["architectures"] == ["RNNForCausalLM"]
    assert config["auto_map"]["AutoModelForCausalLM"] == "modeling_rnn.RNNForCausalLM"
    generation_config = json.loads((out / "generation_config.json").read_text())
    assert generation_config["do_sample"] is True


@pytest.mark.slow  # trains in subprocesses (the module's `runs`)
def test_results_report_perplexity_as_exp_of_eval_loss(runs):
    out = succeeded(runs["default_corpus"])
    all_results = json.loads((out / "all_results.json").read_text())
    assert math.isfinite(all_results["eval_loss"])
    assert all_results["perplexity"] == pytest.approx(math.exp(all_results["eval_loss"]), rel=1e-9)
    assert all_results["train_samples"] == 48 and all_results["eval_samples"] == 8  # the --max_*_samples caps
    eval_results = json.loads((out / "eval_results.json").read_text())
    assert eval_results["perplexity"] == all_results["perplexity"]
    assert "train_loss" in json.loads((out / "train_results.json").read_text())


@pytest.mark.slow  # trains in subprocesses (the module's `runs`)
def test_loss_plot_is_a_png_with_training_and_validation_points(runs):
    out = succeeded(runs["default_corpus"])
    assert (out / "loss.png").read_bytes().startswith(PNG_SIGNATURE)
    log_history = json.loads((out / "trainer_state.json").read_text())["log_history"]
    assert sum("loss" in entry for entry in log_history) == 6  # --logging_steps 1 for 6 steps
    assert sum("eval_loss" in entry for entry in log_history) >= 2  # --eval_steps 3: a validation curve


@pytest.mark.slow  # trains in subprocesses (the module's `runs`)
def test_samples_file_holds_each_sampled_continuation_of_the_prompt(runs):
    out = succeeded(runs["default_corpus"])
    samples = (out / "samples.txt").read_text()
    assert samples.count("=== sample ") == 2
    # The default prompt is the validation text's first line: the first pydoc topic, "assert".
    assert samples.count('The "assert" statement') == 2
    assert 'The "assert" statement' in runs["default_corpus"].stdout  # also logged to the console


@pytest.mark.slow  # trains in subprocesses (the module's `runs`)
def test_saved_folder_loads_with_auto_classes_and_generates(runs):
    out = succeeded(runs["default_corpus"])
    model = AutoModelForCausalLM.from_pretrained(out).eval()
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert model.config.vocab_size == len(tokenizer)
    inputs = tokenizer("The ", return_tensors="pt", add_special_tokens=False)
    torch.manual_seed(0)
    generated = model.generate(**inputs, max_new_tokens=5, min_new_tokens=5)
    assert generated.shape == (1, inputs.input_ids.size(1) + 5)
    assert tokenizer.decode(generated[0], skip_special_tokens=True).startswith("The ")


@pytest.mark.slow  # trains in subprocesses (the module's `runs`)
def test_text_files_train_the_tokenizer_and_evaluate_on_the_validation_file(runs):
    out = succeeded(runs["text_files"])
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert len(tokenizer) == len(set(TRAIN_TEXT)) + 4  # one id per train character, plus 4 special tokens
    # The lines are one running text: none starts with a space of the tokenizer's (add_prefix_space=False).
    assert tokenizer.tokenize("the\n") == ["t", "h", "e", "\n"]
    eval_results = json.loads((out / "eval_results.json").read_text())
    assert eval_results["eval_samples"] == len(VALIDATION_TEXT) // BLOCK_SIZE
    assert eval_results["perplexity"] == pytest.approx(math.exp(eval_results["eval_loss"]), rel=1e-9)
    assert (out / "model.safetensors").is_file()
    # The default prompt: the validation text's first line, cut at 60 characters.
    assert (out / "samples.txt").read_text().count(VALIDATION_TEXT[:60]) == 2


@pytest.mark.parametrize(
    ("run_name", "expected_in_message"),
    [
        ("missing_train_file", ["--train_file", "no_such_file.txt"]),
        ("unknown_task", ["--task", "summarize-poems", "is not a task", "causal-lm", "translation"]),
        ("sequence_classifier_folder", ["--model_name_or_path", "RNNForSequenceClassification"]),
    ],
)
@pytest.mark.slow  # trains in subprocesses (the module's `runs`)
def test_user_error_exits_with_one_message_naming_the_flag_before_training(runs, run_name, expected_in_message):
    run = runs[run_name]
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    error_lines = [line for line in run.stderr.splitlines() if "error" in line.lower()]
    assert len(error_lines) == 1 and error_lines[0].startswith("train.py: error: ")
    for expected in expected_in_message:
        assert expected in error_lines[0]
    assert not (run.output_dir / "model.safetensors").exists()
    assert not run.output_dir.exists()


@pytest.mark.slow  # trains in subprocesses (the module's `runs`)
def test_console_shows_the_training_bar_and_no_bar_per_checkpoint(runs):
    run = runs["checkpoints"]
    out = succeeded(run)
    assert sorted(path.name for path in out.glob("checkpoint-*")) == ["checkpoint-6"]  # saved at 2, 4, 6; one kept
    assert "6/6 [" in run.stderr  # Trainer's training bar, at its end
    assert "Writing model shards" not in run.stderr  # transformers' bar at each save_pretrained


# In-process checks of the script's argument handling (no training).


def test_defaults_apply_unless_a_flag_overrides_them():
    _, _, training_args = parse_arguments([])
    defaults = TASKS["causal-lm"].training_defaults
    assert training_args.output_dir == "runs/causal-lm"
    assert training_args.learning_rate == defaults["learning_rate"]
    assert training_args.max_steps == defaults["max_steps"]
    _, _, training_args = parse_arguments(["--learning_rate", "0.5", "--output_dir", "elsewhere"])
    assert training_args.learning_rate == 0.5 and training_args.output_dir == "elsewhere"
    assert training_args.max_steps == defaults["max_steps"]


def test_an_epoch_count_replaces_the_default_step_budget():
    for flag in ("--num_train_epochs", "--num-train-epochs"):
        _, _, training_args = parse_arguments([flag, "2"])
        assert training_args.num_train_epochs == 2 and training_args.max_steps == -1  # -1: epochs decide


def test_a_json_config_is_read_over_the_same_defaults(tmp_path):
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"hidden_size": 24, "block_size": 16, "learning_rate": 0.01}))
    model_args, data_args, training_args = parse_arguments([str(config)])
    assert (model_args.hidden_size, data_args.block_size, training_args.learning_rate) == (24, 16, 0.01)
    assert training_args.output_dir == "runs/causal-lm"
    assert training_args.max_steps == TASKS["causal-lm"].training_defaults["max_steps"]


@pytest.mark.parametrize("task", ["sequence-classification", "token-classification", "translation"])
def test_each_task_has_its_own_defaults_and_output_dir(task):
    model_args, data_args, training_args = parse_arguments(["--task", task])
    defaults = TASKS[task].training_defaults
    assert training_args.output_dir == f"runs/{task}"
    assert training_args.max_steps == defaults["max_steps"]
    assert model_args.tokenizer_type == defaults["tokenizer_type"]
    assert training_args.predict_with_generate is (task == "translation")
    if task == "sequence-classification":
        assert data_args.text_column == "sentence"  # GLUE's column, as run_glue users expect


def test_task_default_model_flags_do_not_count_as_reshaping_a_saved_model():
    model_args, _, _ = parse_arguments(["--task", "translation", "--model_name_or_path", "folder"])
    check_model_flags(model_args)  # the task's default --hidden_size is no user flag


def script_help(flag: str, capsys, monkeypatch) -> str:
    monkeypatch.setenv("COLUMNS", "80")  # argparse wraps at the terminal's width
    with pytest.raises(SystemExit) as stopped:
        run_train_script([flag])
    assert stopped.value.code == 0
    return capsys.readouterr().out


def test_help_is_short_with_hf_rnn_flags_first(capsys, monkeypatch):
    short, full = script_help("--help", capsys, monkeypatch), script_help("--help_all", capsys, monkeypatch)
    # hf_rnn's own flags grow with its options; the training section is what must stay a short selection.
    training_section = short[short.index("training (transformers' ") :]
    assert len(training_section.splitlines()) < 100 and len(short.splitlines()) < len(full.splitlines()) / 2
    headings = [line for line in short.splitlines() if line and not line[0].isspace() and line.endswith(":")]
    assert headings == [
        "options:",
        "task, model and tokenizer (hf_rnn):",
        "data (hf_rnn):",
        "training (transformers' Seq2SeqTrainingArguments):",
    ]
    assert short.index("--task") < short.index("--train_file") < short.index("--output_dir")
    for flag in TRAINING_HELP_FLAGS:
        assert f"--{flag} " in short
    assert "--adam_beta2" not in short and "--dataloader_num_workers" not in short  # in --help_all only
    assert "--help_all lists them all" in short
    assert short.startswith("usage: train.py [--task TASK] [--FLAG VALUE ...]\n")


def test_help_all_lists_every_training_flag_and_each_is_accepted(capsys, monkeypatch):
    full = script_help("--help_all", capsys, monkeypatch)
    plain_parser = HfArgumentParser(Seq2SeqTrainingArguments)  # what a run_glue-style script accepts
    training_flags = set(plain_parser._option_string_actions) - {"-h", "--help"}
    assert len(training_flags) > 200
    assert training_flags <= set(argument_parser()._option_string_actions)  # each is parsed
    for flag in training_flags:
        assert re.search(rf"{re.escape(flag)}(?![\w-])", full), flag
    # Flags --help leaves out still reach transformers' own class (pickled into training_args.bin).
    _, _, training_args = parse_arguments(["--adam_beta2", "0.95", "--dataloader-num-workers", "0"])
    assert type(training_args) is Seq2SeqTrainingArguments
    assert training_args.adam_beta2 == 0.95 and training_args.dataloader_num_workers == 0


def test_help_shows_the_task_defaults(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit):
        run_train_script(["--task", "translation", "--help"])
    assert "(default: runs/translation)" in capsys.readouterr().out


def test_shape_flags_cannot_reshape_a_saved_model(capsys, tmp_path):
    with pytest.raises(SystemExit) as stopped:
        run_train_script(["--model_name_or_path", str(tmp_path), "--hidden_size", "64"])
    assert stopped.value.code == 2
    assert "--hidden_size cannot be combined with --model_name_or_path" in capsys.readouterr().err


@pytest.mark.parametrize("flags", [["--crf"], ["--char_features", "lstm"]])
def test_tagger_options_cannot_reshape_a_saved_tagger(capsys, tmp_path, flags):
    with pytest.raises(SystemExit) as stopped:
        run_train_script(["--task", "token-classification", "--model_name_or_path", str(tmp_path), *flags])
    assert stopped.value.code == 2
    assert f"{flags[0]} cannot be combined with --model_name_or_path" in capsys.readouterr().err


# hf_rnn/data.py


def test_default_corpus_is_the_pydoc_topics_in_name_order():
    from pydoc_data.topics import topics

    corpus = default_lm_corpus()
    assert corpus == [topics[name] for name in sorted(topics)]
    assert sum(map(len, corpus)) > 100_000


def test_default_split_is_deterministic_disjoint_and_covers_the_corpus():
    first, second = default_lm_datasets(10), default_lm_datasets(10)
    assert list(first["validation"]["text"]) == list(second["validation"]["text"])
    validation, train = list(first["validation"]["text"]), list(first["train"]["text"])
    assert validation + train == default_lm_corpus()
    assert round(len(default_lm_corpus()) * 0.1) == len(validation)


def test_validation_split_takes_the_first_rows_and_leaves_train_non_empty():
    from datasets import Dataset

    splits = split_off_validation(Dataset.from_dict({"text": ["a", "b", "c"]}), 99)
    assert list(splits["validation"]["text"]) == ["a", "b"] and list(splits["train"]["text"]) == ["c"]
    with pytest.raises(ValueError, match="validation_split_percentage"):
        split_off_validation(Dataset.from_dict({"text": ["a", "b"]}), 0)


def test_group_texts_cuts_full_blocks_across_rows_and_copies_labels():
    grouped = group_texts({"input_ids": [[1, 2, 3], [4, 5], [6, 7, 8, 9]]}, block_size=4)
    assert grouped["input_ids"] == [[1, 2, 3, 4], [5, 6, 7, 8]]  # the remainder [9] is dropped
    assert grouped["labels"] == grouped["input_ids"]
    assert grouped["labels"][0] is not grouped["input_ids"][0]


def test_text_files_keep_line_breaks(tmp_path):
    (tmp_path / "train.txt").write_text("one\ntwo\n\nthree\n")
    splits = load_data_files(str(tmp_path / "train.txt"), validation_split_percentage=25)
    assert "".join([*splits["validation"]["text"], *splits["train"]["text"]]) == "one\ntwo\n\nthree\n"


def test_data_file_errors_name_the_parameter(tmp_path):
    with pytest.raises(FileNotFoundError, match="train_file"):
        load_data_files(str(tmp_path / "missing.txt"))
    (tmp_path / "corpus.pdf").write_text("text")
    with pytest.raises(ValueError, match="train_file .* unsupported extension"):
        load_data_files(str(tmp_path / "corpus.pdf"))
    (tmp_path / "train.txt").write_text("text\nmore\n")
    with pytest.raises(FileNotFoundError, match="validation_file"):
        load_data_files(str(tmp_path / "train.txt"), str(tmp_path / "missing.txt"))


@pytest.mark.parametrize(
    "task, flag",
    [
        ("translation", "--weight_drop"),
        ("translation", "--word_dropout"),
        ("sequence-classification", "--activation_regularization"),
        ("token-classification", "--temporal_activation_regularization"),
    ],
)
def test_a_regularizer_the_task_does_not_use_is_refused(capsys, task, flag):
    with pytest.raises(SystemExit) as stopped:
        run_train_script(["--task", task, flag, "0.5"])
    assert stopped.value.code == 2
    assert f"{flag} is only used by" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU --bf16 means the GPU")
def test_bf16_alone_asks_for_cpu_autocast_without_a_gpu():
    _, _, training_args = parse_arguments(["--bf16"])
    assert training_args.bf16 and training_args.use_cpu
    _, _, default_args = parse_arguments([])
    assert not default_args.bf16 and not default_args.use_cpu


def test_memory_is_pinned_only_where_a_gpu_can_use_it():
    """On a CPU, pinning only makes torch warn at every evaluation; a flag still decides."""
    training_args = parse_arguments(["--max_steps", "1"])[2]
    assert training_args.dataloader_pin_memory is torch.cuda.is_available()
    forced = parse_arguments(["--max_steps", "1", "--dataloader_pin_memory", "true"])[2]
    assert forced.dataloader_pin_memory is True
