"""The built wheel, installed outside the checkout, trains and saves a complete model folder.

Run by `.ci/run` (lane `wheel`) in a fresh virtual environment holding only the wheel and its dependencies, with
`--installed-wheel`; without that flag, or when hf_rnn is imported from this source tree, the test skips: an
editable install would hide what a wheel forgets to carry (package data such as the model-card templates).
"""

from pathlib import Path

import pytest
import torch
from helpers import SCRIPT, run_scripts_concurrently, succeeded
from transformers import AutoModelForCausalLM, AutoTokenizer

import hf_rnn
from hf_rnn.model_card import TASKS

SOURCE_TREE = Path(__file__).resolve().parents[1]
NEW_TOKENS = 8


@pytest.fixture(scope="module")
def installed_from_wheel(request) -> Path:
    if not request.config.getoption("--installed-wheel"):
        pytest.skip("checks an installed wheel: .ci/run's wheel lane passes --installed-wheel")
    package = Path(hf_rnn.__file__).resolve().parent
    assert SOURCE_TREE not in package.parents, f"hf_rnn is imported from the source tree ({package}), not a wheel"
    return package


def test_wheel_carries_the_templates_and_metrics(installed_from_wheel):
    assert sorted(p.stem for p in (installed_from_wheel / "model_cards").glob("*.md")) == sorted(TASKS)
    assert hf_rnn.metrics.available_metrics() == ("accuracy_f1", "sacrebleu_chrf", "seqeval_f1")


def test_train_script_run_from_an_installed_wheel_saves_a_complete_folder(installed_from_wheel, tmp_path):
    assert SCRIPT.is_file()
    run = run_scripts_concurrently(
        tmp_path,
        {"lm": ["--max_steps", "4", "--block_size", "32", "--max_train_samples", "32", "--max_eval_samples", "4",
                "--hidden_size", "16", "--save_strategy", "no", "--num_sample_generations", "1"]},
    )["lm"]  # fmt: skip
    folder = succeeded(run)
    card = (folder / "README.md").read_text()
    assert card.startswith("---\n") and "trust_remote_code=True" in card
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    assert isinstance(model, hf_rnn.RNNForCausalLM)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    prompt = tokenizer(["Beautiful is"], return_tensors="pt")
    with torch.no_grad():
        generated = model.generate(**prompt, max_new_tokens=NEW_TOKENS, do_sample=False)
        sequence = prompt["input_ids"]
        for _ in range(NEW_TOKENS):  # greedy by full recomputation, up to the end-of-sequence token
            next_token = model(sequence, use_cache=False).logits[:, -1].argmax(-1, keepdim=True)
            sequence = torch.cat([sequence, next_token], dim=1)
            if next_token.item() == model.generation_config.eos_token_id:
                break
    assert torch.equal(generated, sequence)
