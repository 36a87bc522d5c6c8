"""Hub sharing, end to end against a stand-in Hub server on 127.0.0.1 (tests/stand_in_hub.py).

`HF_ENDPOINT` is read when huggingface_hub is imported, and this process imported it long ago, so the Hub work runs
in two fresh interpreters pointed at the stand-in:

1. the uploader (hf_rnn installed): `model.push_to_hub`, `tokenizer.push_to_hub` and the model card's
   `push_to_hub` for a saved causal LM; then a tiny `Trainer(args=TrainingArguments(push_to_hub=True, ...))` run
   pushed with `hf_rnn.model_card.push_with_model_card`, the path `scripts/train.py --push_to_hub` takes;
2. the downloader (`import hf_rnn` blocked, online, fresh HF_HOME): `AutoModelForCausalLM` / `AutoTokenizer`
   `.from_pretrained(repo_id, trust_remote_code=True)` and `snapshot_download`, then logits and greedy generation,
   compared here with the model that was pushed.
"""

import json
import os
import subprocess
import sys

import pytest
import torch
import yaml
from helpers import BLOCK_HF_RNN, seeded, tiny_config, zen_of_python
from stand_in_hub import StandInHub

from hf_rnn import RNNForCausalLM, train_tokenizer
from hf_rnn.model_card import write_model_card

# Pushes and downloads through a stand-in Hub server, and a train.py run with --push_to_hub.
pytestmark = pytest.mark.slow

REPO_ID = "tester/tiny-rnn-lm"
TRAINER_REPO_ID = "tester/trained-rnn-lm"
PROMPTS = ["Beautiful is", "Now is better"]
MAX_NEW_TOKENS = 12
BUNDLE_FILES = {"configuration_rnn.py", "modeling_rnn.py", "cache_rnn.py", "characters_rnn.py", "crf_rnn.py"}
TOKENIZER_FILES = {"tokenizer.json", "tokenizer_config.json"}
MODEL_FILES = {"model.safetensors", "config.json"} | BUNDLE_FILES | TOKENIZER_FILES
CARD_ARGS = {
    "task": "causal-lm",
    "metrics": {"eval_loss": 2.5, "perplexity": 12.18, "eval_runtime": 0.1},
    "dataset_description": "The Zen of Python (embedded)",
    "training_command": "python scripts/train.py --task causal-lm --max_steps 2",
    "hyperparameters": {"learning_rate": 0.01, "max_steps": 2},
}

UPLOADER = f"""
import sys
from pathlib import Path

import datasets
import torch
from huggingface_hub import ModelCard
from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, TrainingArguments

import hf_rnn  # noqa: F401
from hf_rnn.model_card import push_with_model_card, write_model_card

folder, work = Path(sys.argv[1]), Path(sys.argv[2])

# 1. A saved model folder, pushed piece by piece.
model = AutoModelForCausalLM.from_pretrained(folder)
tokenizer = AutoTokenizer.from_pretrained(folder)
model.push_to_hub({REPO_ID!r})
tokenizer.push_to_hub({REPO_ID!r})
ModelCard.load(folder / "README.md").push_to_hub({REPO_ID!r})

# 2. What `scripts/train.py --push_to_hub --hub_model_id ...` does: Trainer pushes, then our card replaces its draft.
args = TrainingArguments(
    output_dir=str(work / "trained"), push_to_hub=True, hub_model_id={TRAINER_REPO_ID!r}, hub_token="any",
    max_steps=2, save_steps=2, per_device_train_batch_size=2, learning_rate=0.01, report_to="none", use_cpu=True,
    disable_tqdm=True,
)
ids = torch.tensor(tokenizer(["Beautiful is better than ugly."] * 4)["input_ids"])
train = datasets.Dataset.from_dict({{"input_ids": ids.tolist(), "labels": ids.tolist()}})
trainer = Trainer(model=model, args=args, train_dataset=train, processing_class=tokenizer)
trainer.train()
trainer.save_model()  # with push_to_hub=True this pushes too ("Model save")
trainer.save_metrics("eval", {{"eval_loss": 2.5}})  # outputs written after save_model must reach the Hub as well
card = write_model_card(args.output_dir, model=trainer.model, repo_id={TRAINER_REPO_ID!r}, **{CARD_ARGS!r})
push_with_model_card(trainer, card)
"""

DOWNLOADER = f"""
{BLOCK_HF_RNN}
import os
import torch
from huggingface_hub import snapshot_download
from transformers import AutoModelForCausalLM, AutoTokenizer

repo_id = sys.argv[2]
model = AutoModelForCausalLM.from_pretrained(repo_id, trust_remote_code=True)
tokenizer = AutoTokenizer.from_pretrained(repo_id, trust_remote_code=True)
inputs = tokenizer({PROMPTS!r}, return_tensors="pt", padding=True)
with torch.no_grad():
    logits = model(**inputs).logits
    greedy = model.generate(**inputs, max_new_tokens={MAX_NEW_TOKENS}, do_sample=False)
snapshot = snapshot_download(repo_id)
torch.save(
    {{
        "hf_rnn_blocked": hf_rnn_blocked,
        "model_module": type(model).__module__,
        "input_ids": inputs["input_ids"],
        "attention_mask": inputs["attention_mask"],
        "logits": logits,
        "greedy": greedy,
        "text": tokenizer.batch_decode(greedy, skip_special_tokens=True),
        "snapshot_files": sorted(os.listdir(snapshot)),
    }},
    sys.argv[1],
)
"""


def run(script: str, *args, env: dict, cwd) -> None:
    completed = subprocess.run(
        [sys.executable, "-c", script, *map(str, args)], env=env, cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert completed.returncode == 0, f"subprocess failed:\n{completed.stderr[-6000:]}"


def hub_env(hub: StandInHub, home) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("HF_", "HUGGINGFACE_"))}
    env.pop("TRANSFORMERS_OFFLINE", None)
    return {
        **env,
        "HF_ENDPOINT": hub.url,
        "HF_TOKEN": "any",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "HF_HOME": str(home),  # fresh: nothing cached, every file comes from the stand-in
    }


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """Push (model, tokenizer, card; then a Trainer run) to a stand-in Hub, download again without hf_rnn."""
    work = tmp_path_factory.mktemp("hub")
    tokenizer = train_tokenizer(zen_of_python().splitlines(), kind="char")
    # initializer_range=2.0 makes greedy continuations vary, so comparing them means something.
    model = seeded(RNNForCausalLM, tiny_config(vocab_size=len(tokenizer), initializer_range=2.0))
    folder = work / "saved"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    write_model_card(folder, model=model, repo_id=REPO_ID, **CARD_ARGS)

    inputs = tokenizer(PROMPTS, return_tensors="pt", padding=True)
    with torch.no_grad():
        reference = {
            "input_ids": inputs["input_ids"],
            "logits": model(**inputs).logits,
            "greedy": model.generate(**inputs, max_new_tokens=MAX_NEW_TOKENS, do_sample=False),
        }
    reference["text"] = tokenizer.batch_decode(reference["greedy"], skip_special_tokens=True)

    with StandInHub() as hub:
        run(UPLOADER, folder, work, env=hub_env(hub, work / "home_upload"), cwd=work)
        uploaded_requests = list(hub.requests)
        hub.requests.clear()
        run(DOWNLOADER, work / "downloaded.pt", REPO_ID, env=hub_env(hub, work / "home_download"), cwd=work)
        return {
            "folder": folder,
            "trained": work / "trained",
            "files": hub.files(REPO_ID),
            "trainer_files": hub.files(TRAINER_REPO_ID),
            "upload_requests": uploaded_requests,
            "commits": list(hub.commits),
            "download_requests": list(hub.requests),
            "downloaded": torch.load(work / "downloaded.pt", weights_only=False),
            "reference": reference,
        }


def front_matter(readme: bytes) -> dict:
    return yaml.safe_load(readme.decode().split("---\n")[1])


def test_push_to_hub_uploads_weights_config_with_auto_map_code_tokenizer_and_card(shared):
    files, folder = shared["files"], shared["folder"]
    assert MODEL_FILES | {"generation_config.json", "README.md"} <= set(files)
    config = json.loads(files["config.json"])
    assert config["auto_map"] == {  # every head of the family (modeling_rnn.AUTO_HEADS)
        "AutoConfig": "configuration_rnn.RNNConfig",
        "AutoModel": "modeling_rnn.RNNModel",
        "AutoModelForCausalLM": "modeling_rnn.RNNForCausalLM",
        "AutoModelForSequenceClassification": "modeling_rnn.RNNForSequenceClassification",
        "AutoModelForTokenClassification": "modeling_rnn.RNNForTokenClassification",
    }
    for name in BUNDLE_FILES | {"README.md", "tokenizer.json"}:
        assert files[name] == (folder / name).read_bytes(), name
    assert front_matter(files["README.md"])["library_name"] == "transformers"
    # The requests that push_to_hub made (the endpoint list in tests/stand_in_hub.py).
    for request in (
        "POST /api/repos/create",
        f"POST /api/models/{REPO_ID}/preupload/main",
        f"POST /api/models/{REPO_ID}/commit/main",
        "POST /api/validate-yaml",
    ):
        assert request in shared["upload_requests"]


def test_download_without_hf_rnn_loads_remote_code_and_reproduces_logits_and_greedy_generation(shared):
    downloaded, reference = shared["downloaded"], shared["reference"]
    assert downloaded["hf_rnn_blocked"] is True
    assert downloaded["model_module"].startswith("transformers_modules.")
    assert torch.equal(downloaded["input_ids"], reference["input_ids"])
    assert torch.equal(downloaded["logits"], reference["logits"])
    new_tokens = reference["greedy"][:, reference["input_ids"].shape[1] :]
    assert len(set(new_tokens.flatten().tolist())) > 1  # guard: not one token repeated
    assert torch.equal(downloaded["greedy"], reference["greedy"])
    assert downloaded["text"] == reference["text"]
    assert set(downloaded["snapshot_files"]) == set(shared["files"])
    assert any(request.startswith(f"GET /{REPO_ID}/resolve/") for request in shared["download_requests"])


def test_trainer_push_to_hub_uploads_the_run_with_our_model_card(shared):
    files, trained = shared["trainer_files"], shared["trained"]
    assert MODEL_FILES | {"README.md", "training_args.bin", "all_results.json", "eval_results.json"} <= set(files)
    assert not any(name.startswith("checkpoint-") for name in files)
    assert json.loads(files["config.json"])["auto_map"]["AutoModelForCausalLM"] == "modeling_rnn.RNNForCausalLM"
    # Our card, not the draft that Trainer.push_to_hub writes, both on the Hub and in the output folder.
    assert files["README.md"] == (trained / "README.md").read_bytes()
    metadata = front_matter(files["README.md"])
    assert "hf_rnn" in metadata["tags"] and metadata["pipeline_tag"] == "text-generation"
    assert metadata["model-index"][0]["name"] == TRAINER_REPO_ID.split("/")[1]
    assert CARD_ARGS["training_command"] in files["README.md"].decode()
    assert files["model.safetensors"] == (trained / "model.safetensors").read_bytes()
    # Commits: checkpoint push(es) while training, "Model save" (save_model), the end-of-training folder, and last
    # our card alone (every Trainer push rewrites README.md with transformers' draft card first).
    commits = [(message, paths) for repo, message, paths in shared["commits"] if repo == TRAINER_REPO_ID]
    assert any(message.startswith("Training in progress") for message, _ in commits)
    assert ("End of training", True) in [(message, "model.safetensors" in paths) for message, paths in commits]
    assert commits[-1] == ("Model card", ["README.md"])


def test_train_script_push_to_hub_uploads_the_complete_output_folder(tmp_path):
    """`scripts/train.py --push_to_hub --hub_model_id ...` sends the model folder, its outputs and our card."""
    script = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts", "train.py")
    flags = [
        "--max_steps", "2", "--hidden_size", "16", "--block_size", "32", "--max_train_samples", "16",
        "--max_eval_samples", "4", "--num_sample_generations", "1", "--sample_max_new_tokens", "5",
        "--eval_strategy", "no", "--save_strategy", "no", "--report_to", "none", "--output_dir", str(tmp_path / "run"),
        "--push_to_hub", "--hub_model_id", "tester/tiny-lm", "--hub_token", "any",
    ]  # fmt: skip
    with StandInHub() as hub:
        completed = subprocess.run(
            [sys.executable, str(script), *flags],
            env=hub_env(hub, tmp_path / "home"),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert completed.returncode == 0, completed.stderr[-6000:]
        pushed = hub.files("tester/tiny-lm")
        # Back from the Hub, in an interpreter without hf_rnn: the same outputs as the folder the run left.
        home = tmp_path / "home-download"
        run(DOWNLOADER, tmp_path / "downloaded.pt", "tester/tiny-lm", env=hub_env(hub, home), cwd=tmp_path)
    downloaded = torch.load(tmp_path / "downloaded.pt")
    assert downloaded["hf_rnn_blocked"] and downloaded["model_module"].startswith("transformers_modules")
    local = RNNForCausalLM.from_pretrained(tmp_path / "run")
    with torch.no_grad():
        logits = local(downloaded["input_ids"], attention_mask=downloaded["attention_mask"]).logits
    torch.testing.assert_close(logits, downloaded["logits"], atol=0, rtol=0)
    expected = ["model.safetensors", "config.json", "modeling_rnn.py", "cache_rnn.py", "configuration_rnn.py"]
    expected += ["tokenizer.json", "generation_config.json", "all_results.json", "loss.png", "samples.txt"]
    for name in expected:
        assert name in pushed, name
    assert json.loads(pushed["config.json"])["auto_map"]["AutoModelForCausalLM"] == "modeling_rnn.RNNForCausalLM"
    card = pushed["README.md"].decode()
    assert card == (tmp_path / "run" / "README.md").read_text(encoding="utf-8")
    assert "model-index" in card and "--push_to_hub" in card and "trust_remote_code=True" in card
