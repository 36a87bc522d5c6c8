"""The encoder-decoder with attention: generation, padding, learning, saving, remote code, Trainer and config.

Two kinds of model are used. Tiny random models (2 + 2 layers) cover every cell and attention type, with and without
input feeding, where the property is about arithmetic (cache vs recomputation, padding). Two models trained by a
module-scoped fixture on a generated task (reverse a sequence of 3-7 symbols) cover what needs a model that emits
varied tokens and EOS: beam search, generations through save/reload and remote code, and learning itself. One is
Luong-general with an LSTM and no input feeding (the fused, all-positions-at-once path); the other is Bahdanau with
a GRU and input feeding (the step-by-step path).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch
from helpers import (
    BLOCK_HF_RNN,
    BOS,
    EOS,
    PAD,
    RANDOM_VOCAB_SIZE,
    REVERSAL_MODEL_SIZES,
    TASK_VOCAB_SIZE,
    TRAINED,
    pad_sources,
    random_sources,
    run_without_hf_rnn,
    train_reversal_model,
)
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForSeq2SeqLM,
    Seq2SeqTrainer,
    Seq2SeqTrainingArguments,
)

import hf_rnn
from hf_rnn import (
    AttentionDecoderCache,
    RNNSeq2SeqConfig,
    RNNSeq2SeqForConditionalGeneration,
    RNNSeq2SeqModel,
    output_state,
)

PACKAGE_DIR = Path(hf_rnn.__file__).parent
BUNDLE_FILES = ("configuration_rnn.py", "configuration_rnn_seq2seq.py", "modeling_rnn.py", "cache_rnn.py")
BUNDLE_FILES += ("modeling_rnn_seq2seq.py", "characters_rnn.py", "crf_rnn.py")

NEW_TOKENS = 9

# (cell, attention, input_feeding) for the tiny random models: every cell, every score, both decoder paths.
RANDOM_VARIANTS = [
    ("lstm", "luong_dot", False),
    ("gru", "luong_general", False),
    ("rnn_tanh", "luong_general", True),
    ("lstm", "bahdanau", True),
    ("rnn_relu", "bahdanau", False),
]
VARIANT_IDS = [f"{cell}-{attention}-{'feed' if feed else 'nofeed'}" for cell, attention, feed in RANDOM_VARIANTS]


# Sources of different lengths: padded batches mix short and long neighbours.
SOURCES = [[5, 6, 7, 8, 9, 10], [11, 12, 6], [13, 4, 9, 4], [7, 7, 8, 12, 5]]


def random_config(cell: str = "lstm", attention: str = "luong_general", input_feeding: bool = False, **overrides):
    """Two encoder and two decoder layers; no EOS, so every generation has NEW_TOKENS tokens to compare."""
    values = {
        "vocab_size": RANDOM_VOCAB_SIZE,
        "embedding_size": 12,
        "encoder_hidden_size": 6,
        "decoder_hidden_size": 12,
        "encoder_layers": 2,
        "decoder_layers": 2,
        "encoder_cell": cell,
        "decoder_cell": cell,
        "attention": attention,
        "input_feeding": input_feeding,
        "initializer_range": 1.0,
        "eos_token_id": None,
    }
    values.update(overrides)
    return RNNSeq2SeqConfig(**values)


def random_model(cell="lstm", attention="luong_general", input_feeding=False, seed=0, **overrides):
    torch.manual_seed(seed)
    return RNNSeq2SeqForConditionalGeneration(random_config(cell, attention, input_feeding, **overrides)).eval()


def translations(model, sources: list[list[int]], side: str = "left", **generate_kwargs) -> list[list[int]]:
    """Greedy outputs without the start token, cut at the first EOS."""
    with torch.no_grad():
        generated = model.generate(**pad_sources(sources, side), max_new_tokens=NEW_TOKENS, **generate_kwargs)
    rows = [row[1:] for row in generated.tolist()]
    return [row[: row.index(EOS)] if EOS in row else row for row in rows]


@torch.no_grad()
def greedy_by_recomputation(model, batch: dict, steps: int) -> torch.Tensor:
    """Reference decoder: re-run encoder and decoder over the whole target, without any cache, at every step."""
    decoder_input_ids = torch.full((batch["input_ids"].size(0), 1), model.config.decoder_start_token_id)
    for _ in range(steps):
        logits = model(**batch, decoder_input_ids=decoder_input_ids, use_cache=False).logits
        decoder_input_ids = torch.cat([decoder_input_ids, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    return decoder_input_ids


def pad_after_eos(sequences: torch.Tensor) -> torch.Tensor:
    """What generate() returns for rows that finished: PAD after the first EOS."""
    finished = (sequences == EOS).long().cumsum(1) - (sequences == EOS).long()
    return sequences.masked_fill(finished > 0, PAD)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def trained(one_thread):
    return {name: train_reversal_model(name) for name in TRAINED}


# ---------------------------------------------------------------------------------------------------------------
# Learning


def test_reversal_task_is_not_solved_by_copying():
    """Precondition: copying the source (what attention does with no learning of order) is almost never right."""
    held_out = random_sources(200, seed=1000)
    assert sum(s == s[::-1] for s in held_out) / len(held_out) < 0.05


@pytest.mark.parametrize("name", list(TRAINED))
def test_model_learns_to_reverse_held_out_sequences(trained, name):
    held_out = random_sources(200, seed=1000)
    expected = [s[::-1] for s in held_out]
    for side in ("left", "right"):
        predicted = translations(trained[name], held_out, side)
        exact_match = sum(p == e for p, e in zip(predicted, expected)) / len(held_out)
        assert exact_match >= 0.9, f"{name}: greedy exact match {exact_match:.3f} with {side}-padded sources"
    assert translations(trained[name], held_out, "left") == translations(trained[name], held_out, "right")


def test_untrained_model_does_not_reverse():
    """Negative control: the learning test measures learning, not something an untrained model already does."""
    torch.manual_seed(0)
    config = RNNSeq2SeqConfig(**REVERSAL_MODEL_SIZES)
    model = RNNSeq2SeqForConditionalGeneration(config).eval()
    held_out = random_sources(100, seed=1000)
    assert sum(p == s[::-1] for p, s in zip(translations(model, held_out), held_out)) < 5


# ---------------------------------------------------------------------------------------------------------------
# Generation: the cache gives what recomputation gives


@pytest.mark.parametrize(("cell", "attention", "input_feeding"), RANDOM_VARIANTS, ids=VARIANT_IDS)
def test_teacher_forced_logits_equal_step_by_step_cached_logits(cell, attention, input_feeding):
    """All target positions at once (the training path) equals decoding one step at a time from the cache."""
    model = random_model(cell, attention, input_feeding)
    batch = pad_sources(SOURCES[:3], "left")
    targets = torch.tensor([[BOS, 5, 9, 17, 4, 22, 8], [BOS, 11, 11, 3, 6, 0, 14], [BOS, 20, 7, 7, 13, 5, 9]])
    with torch.no_grad():
        full = model(**batch, decoder_input_ids=targets).logits
        encoder_outputs = model.get_encoder()(**batch)
        out = model(
            encoder_outputs=encoder_outputs,
            attention_mask=batch["attention_mask"],
            decoder_input_ids=targets[:, :1],
            use_cache=True,
        )
        pieces = [out.logits]
        # One step at a time, then a two-token chunk: continuing a cache works for any number of new tokens.
        for start, stop in [(1, 2), (2, 3), (3, 5), (5, 6), (6, 7)]:
            out = model(
                encoder_outputs=encoder_outputs,
                attention_mask=batch["attention_mask"],
                decoder_input_ids=targets[:, start:stop],
                cache=output_state(out),
            )
            pieces.append(out.logits)
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, atol=1e-6, rtol=0)
    assert output_state(out).get_seq_length() == targets.shape[1]


@pytest.mark.parametrize(("cell", "attention", "input_feeding"), RANDOM_VARIANTS, ids=VARIANT_IDS)
def test_greedy_generate_equals_full_recomputation(cell, attention, input_feeding):
    model = random_model(cell, attention, input_feeding)
    batch = pad_sources(SOURCES, "left")
    with torch.no_grad():
        generated = model.generate(**batch, max_new_tokens=NEW_TOKENS, do_sample=False)
    assert generated.shape == (len(SOURCES), 1 + NEW_TOKENS)
    assert torch.equal(generated, greedy_by_recomputation(model, batch, NEW_TOKENS))


@pytest.mark.parametrize("name", list(TRAINED))
def test_trained_model_greedy_generate_equals_full_recomputation(trained, name):
    model = trained[name]
    batch = pad_sources(SOURCES, "right")
    with torch.no_grad():
        generated = model.generate(**batch, max_new_tokens=NEW_TOKENS, do_sample=False)
    reference = pad_after_eos(greedy_by_recomputation(model, batch, NEW_TOKENS))[:, : generated.shape[1]]
    assert (generated == EOS).any(dim=1).all(), "every row should finish with EOS"
    assert torch.equal(generated, reference)


@pytest.mark.parametrize("name", list(TRAINED))
def test_cached_beam_search_equals_uncached_beam_search(trained, name):
    model = trained[name]
    batch = pad_sources(SOURCES, "left")
    kwargs = {"max_new_tokens": NEW_TOKENS, "num_beams": 3, "length_penalty": 0.6, "num_return_sequences": 2}
    with torch.no_grad():
        cached = model.generate(**batch, use_cache=True, **kwargs)
        uncached = model.generate(**batch, use_cache=False, **kwargs)
    assert cached.shape[0] == 2 * len(SOURCES)
    assert torch.equal(cached, uncached)
    # The best beam is the reversal, and the second one differs from it: the beams really were searched.
    best = [row[1:].tolist() for row in cached[::2]]
    assert [row[: row.index(EOS)] for row in best] == [s[::-1] for s in SOURCES]
    assert not torch.equal(cached[::2], cached[1::2])


@pytest.mark.parametrize(("cell", "attention", "input_feeding"), RANDOM_VARIANTS[:2] + RANDOM_VARIANTS[3:4])
def test_random_model_cached_beam_search_equals_uncached(cell, attention, input_feeding):
    model = random_model(cell, attention, input_feeding)
    batch = pad_sources(SOURCES, "right")
    kwargs = {"max_new_tokens": NEW_TOKENS, "num_beams": 3, "length_penalty": 1.5}
    with torch.no_grad():
        assert torch.equal(model.generate(**batch, **kwargs), model.generate(**batch, use_cache=False, **kwargs))


def test_sampling_with_cache_equals_sampling_without_cache():
    model = random_model("gru", "bahdanau", True)
    batch = pad_sources(SOURCES, "left")
    results = []
    for use_cache in (True, False):
        torch.manual_seed(123)
        with torch.no_grad():
            results.append(
                model.generate(**batch, do_sample=True, top_k=0, max_new_tokens=NEW_TOKENS, use_cache=use_cache)
            )
    assert torch.equal(results[0], results[1])
    assert len(set(results[0][:, 1:].flatten().tolist())) > 3  # sampled, not one repeated token


def test_generate_encodes_once_and_feeds_one_new_token_per_step():
    model = random_model("lstm", "bahdanau", True)
    encoder_calls, decoder_lengths = [], []
    hooks = [
        model.get_encoder().register_forward_hook(lambda m, args, out: encoder_calls.append(1)),
        model.get_decoder().embed_tokens.register_forward_hook(
            lambda m, args, out: decoder_lengths.append(args[0].shape[1])
        ),
    ]
    with torch.no_grad():
        model.generate(**pad_sources(SOURCES, "left"), max_new_tokens=5, num_beams=2)
    for hook in hooks:
        hook.remove()
    assert encoder_calls == [1]
    assert decoder_lengths == [1] * 5


def test_max_new_tokens_is_honoured():
    model = random_model()
    with torch.no_grad():
        for count in (1, 4):
            assert model.generate(**pad_sources(SOURCES), max_new_tokens=count).shape == (len(SOURCES), 1 + count)


# ---------------------------------------------------------------------------------------------------------------
# Padding never changes a result


@pytest.mark.parametrize(("cell", "attention", "input_feeding"), RANDOM_VARIANTS, ids=VARIANT_IDS)
def test_source_padding_does_not_change_logits_or_translations(cell, attention, input_feeding):
    model = random_model(cell, attention, input_feeding)
    targets = torch.tensor([[BOS, 9, 4, 17, 21, 6]])
    with torch.no_grad():
        alone = [model(input_ids=torch.tensor([s]), decoder_input_ids=targets).logits[0] for s in SOURCES]
        for side in ("left", "right"):
            batch = pad_sources(SOURCES, side)
            logits = model(**batch, decoder_input_ids=targets.expand(len(SOURCES), -1)).logits
            for row, expected in enumerate(alone):
                torch.testing.assert_close(logits[row], expected, atol=1e-5, rtol=0)
    each_alone = [translations(model, [s])[0] for s in SOURCES]
    assert translations(model, SOURCES, "left") == each_alone
    assert translations(model, SOURCES, "right") == each_alone


def test_padding_positions_get_zero_attention_weight():
    model = random_model("gru", "bahdanau", False)
    batch = pad_sources(SOURCES, "left")
    with torch.no_grad():
        out = model(**batch, decoder_input_ids=torch.full((len(SOURCES), 3), BOS), output_attentions=True)
    (weights,) = out.cross_attentions
    assert weights.shape == (len(SOURCES), 3, batch["input_ids"].shape[1])
    assert torch.all(weights.masked_select(batch["attention_mask"][:, None, :] == 0) == 0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(len(SOURCES), 3))


# ---------------------------------------------------------------------------------------------------------------
# The decoder cache


def test_decoder_cache_holds_each_layer_then_the_input_feed_and_attention_keys_batch_first():
    model = random_model("lstm", "bahdanau", True)
    batch = pad_sources(SOURCES[:2], "left")
    with torch.no_grad():
        cache = output_state(model(**batch, decoder_input_ids=torch.tensor([[BOS, 5], [BOS, 6]]), use_cache=True))
    assert isinstance(cache, AttentionDecoderCache)
    assert len(cache.layers) == model.config.decoder_layers + 1
    h, c = cache.get_layer_state(0)
    assert h.shape == c.shape == (1, 2, model.config.decoder_hidden_size)
    feed, keys = cache.get_memory(cache.INPUT_FEED), cache.get_memory(cache.KEYS)
    assert feed.shape == (2, model.config.decoder_hidden_size)
    assert keys.shape == (2, batch["input_ids"].shape[1], model.config.attention_size)
    assert cache.get_seq_length() == 2

    # Beam search reorders every slot, the input feed and the keys included.
    before = [t.clone() for t in (h, feed, keys)]
    cache.reorder_cache(torch.tensor([1, 1, 0]))
    assert torch.equal(cache.get_layer_state(0)[0], before[0][:, [1, 1, 0]])
    assert torch.equal(cache.get_memory(cache.INPUT_FEED), before[1][[1, 1, 0]])
    assert torch.equal(cache.get_memory(cache.KEYS), before[2][[1, 1, 0]])


def test_luong_cache_without_input_feeding_stores_no_attention_memory():
    model = random_model("gru", "luong_general", False)
    with torch.no_grad():
        cache = output_state(model(**pad_sources(SOURCES[:2]), decoder_input_ids=torch.tensor([[BOS], [BOS]])))
    assert cache.get_memory(cache.INPUT_FEED) is None and cache.get_memory(cache.KEYS) is None


# ---------------------------------------------------------------------------------------------------------------
# Loss


def test_labels_are_shifted_right_behind_the_start_token_for_the_decoder_input():
    model = random_model()
    batch = pad_sources(SOURCES[:2])
    labels = torch.tensor([[7, 8, 9, EOS], [10, EOS, -100, -100]])
    decoder_input_ids = torch.tensor([[BOS, 7, 8, 9], [BOS, 10, EOS, PAD]])
    assert torch.equal(model.prepare_decoder_input_ids_from_labels(labels), decoder_input_ids)
    with torch.no_grad():
        from_labels = model(**batch, labels=labels)
        explicit = model(**batch, decoder_input_ids=decoder_input_ids)
    torch.testing.assert_close(from_labels.logits, explicit.logits, atol=0, rtol=0)
    # The loss scores logits[t] against labels[t] (no further shift), ignoring -100.
    expected = torch.nn.functional.cross_entropy(explicit.logits.flatten(0, 1), labels.flatten(), ignore_index=-100)
    torch.testing.assert_close(from_labels.loss, expected)


def test_loss_with_num_items_in_batch_is_the_sum_divided_by_it():
    model = random_model()
    batch = pad_sources(SOURCES[:2])
    labels = torch.tensor([[7, 8, 9, EOS], [10, EOS, -100, -100]])
    with torch.no_grad():
        mean = model(**batch, labels=labels).loss
        total = model(**batch, labels=labels, num_items_in_batch=torch.tensor(1)).loss
        by_count = model(**batch, labels=labels, num_items_in_batch=torch.tensor(6)).loss
    torch.testing.assert_close(total, mean * 6)
    torch.testing.assert_close(by_count, mean)


# ---------------------------------------------------------------------------------------------------------------
# Tied and shared embeddings


def test_lm_head_is_tied_to_the_decoder_embedding():
    model = random_model()
    assert model.lm_head.weight is model.get_decoder().embed_tokens.weight
    assert model.get_decoder().embed_tokens.weight is not model.get_encoder().embed_tokens.weight


def test_shared_embeddings_use_one_matrix_for_source_target_and_output(tmp_path):
    model = random_model(share_embeddings=True)
    assert not hasattr(model.get_decoder(), "embed_tokens")
    assert model.lm_head.weight is model.get_encoder().embed_tokens.weight
    model.save_pretrained(tmp_path)
    loaded = AutoModelForSeq2SeqLM.from_pretrained(tmp_path)
    assert loaded.lm_head.weight is loaded.get_encoder().embed_tokens.weight
    batch = pad_sources(SOURCES)
    with torch.no_grad():
        assert torch.equal(loaded.generate(**batch, max_new_tokens=5), model.generate(**batch, max_new_tokens=5))


def test_untied_model_with_a_separate_target_vocabulary():
    model = random_model(target_vocab_size=31, embedding_size=7, tie_word_embeddings=False)
    assert model.lm_head.weight is not model.get_decoder().embed_tokens.weight
    with torch.no_grad():
        logits = model(**pad_sources(SOURCES), decoder_input_ids=torch.full((len(SOURCES), 2), 30)).logits
    assert logits.shape == (len(SOURCES), 2, 31)


# ---------------------------------------------------------------------------------------------------------------
# Save, reload, remote code


@pytest.fixture(scope="module")
def saved(trained, tmp_path_factory):
    root = tmp_path_factory.mktemp("seq2seq_saved")
    for name, model in trained.items():
        model.save_pretrained(root / name)
    return root


def reference_outputs(model) -> dict[str, torch.Tensor]:
    """What the remote-code subprocess computes, on the same inputs."""
    batch = pad_sources(SOURCES, "left")
    with torch.no_grad():
        return {
            "logits": model(**batch, decoder_input_ids=torch.tensor([[BOS, 5, 6, 7]] * len(SOURCES))).logits,
            "greedy": model.generate(**batch, max_new_tokens=NEW_TOKENS),
            "beam": model.generate(**batch, max_new_tokens=NEW_TOKENS, num_beams=3, length_penalty=0.6),
        }


@pytest.mark.parametrize("name", list(TRAINED))
def test_saved_folder_has_auto_map_and_the_whole_hub_bundle(saved, name):
    folder = saved / name
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "hf_rnn_seq2seq"
    assert config["is_encoder_decoder"] is True
    assert config["auto_map"] == {
        "AutoConfig": "configuration_rnn_seq2seq.RNNSeq2SeqConfig",
        "AutoModel": "modeling_rnn_seq2seq.RNNSeq2SeqModel",
        "AutoModelForSeq2SeqLM": "modeling_rnn_seq2seq.RNNSeq2SeqForConditionalGeneration",
    }
    for file_name in BUNDLE_FILES:
        assert (folder / file_name).read_text() == (PACKAGE_DIR / file_name).read_text(), file_name
    generation_config = json.loads((folder / "generation_config.json").read_text())
    assert generation_config["decoder_start_token_id"] == BOS


@pytest.mark.parametrize("name", list(TRAINED))
def test_reload_through_auto_model_for_seq2seq_lm_gives_identical_outputs(trained, saved, name):
    assert type(AutoConfig.from_pretrained(saved / name)) is RNNSeq2SeqConfig
    loaded = AutoModelForSeq2SeqLM.from_pretrained(saved / name)
    assert type(loaded) is RNNSeq2SeqForConditionalGeneration and not loaded.training
    assert loaded.lm_head.weight is loaded.get_decoder().embed_tokens.weight
    expected, actual = reference_outputs(trained[name]), reference_outputs(loaded)
    for key in expected:
        assert torch.equal(actual[key], expected[key]), key


def test_bare_model_loads_from_the_generation_checkpoint(trained, saved):
    bare = AutoModel.from_pretrained(saved / "luong_general")
    assert type(bare) is RNNSeq2SeqModel
    batch = pad_sources(SOURCES)
    decoder_input_ids = torch.tensor([[BOS, 5]] * len(SOURCES))
    with torch.no_grad():
        expected = trained["luong_general"].model(**batch, decoder_input_ids=decoder_input_ids).last_hidden_state
        assert torch.equal(bare(**batch, decoder_input_ids=decoder_input_ids).last_hidden_state, expected)


REMOTE_SCRIPT = f"""
{BLOCK_HF_RNN}
import torch
from transformers import AutoModelForSeq2SeqLM

root, out_file = sys.argv[1], sys.argv[2]
input_ids = torch.tensor({pad_sources(SOURCES, "left")["input_ids"].tolist()!r})
attention_mask = torch.tensor({pad_sources(SOURCES, "left")["attention_mask"].tolist()!r})
results = {{"hf_rnn_blocked": hf_rnn_blocked}}
for name in {list(TRAINED)!r}:
    model = AutoModelForSeq2SeqLM.from_pretrained(f"{{root}}/{{name}}", trust_remote_code=True)
    batch = {{"input_ids": input_ids, "attention_mask": attention_mask}}
    with torch.no_grad():
        out = model(**batch, decoder_input_ids=torch.tensor([[{BOS}, 5, 6, 7]] * len(input_ids)), use_cache=True)
        results[name] = {{
            "model_module": type(model).__module__,
            "cache_module": type(out["cache"] if "cache" in out.keys() else out["past_key_values"]).__module__,
            "training": model.training,
            "logits": out.logits,
            "greedy": model.generate(**batch, max_new_tokens={NEW_TOKENS}),
            "beam": model.generate(**batch, max_new_tokens={NEW_TOKENS}, num_beams=3, length_penalty=0.6),
        }}
torch.save(results, out_file)
"""


@pytest.fixture(scope="module")
def remote(saved, tmp_path_factory):
    """Load both saved models in a fresh interpreter that cannot import hf_rnn, with the Hub offline."""
    work = tmp_path_factory.mktemp("seq2seq_remote")
    out_file = work / "results.pt"
    run_without_hf_rnn(REMOTE_SCRIPT, saved, out_file, work=work, extra_env={"OMP_NUM_THREADS": "1"})
    results = torch.load(out_file, weights_only=False)
    results["modules_cache"] = work / "hf_modules"
    return results


def test_remote_code_subprocess_cannot_import_hf_rnn_and_loads_the_bundle(remote):
    assert remote["hf_rnn_blocked"] is True
    for name in TRAINED:
        info = remote[name]
        assert info["model_module"].startswith("transformers_modules.")
        assert info["model_module"].endswith(".modeling_rnn_seq2seq")
        assert info["cache_module"].endswith(".modeling_rnn_seq2seq")
        assert info["training"] is False
    assert set(BUNDLE_FILES) <= {path.name for path in remote["modules_cache"].rglob("*.py")}


@pytest.mark.parametrize("name", list(TRAINED))
def test_remote_code_logits_and_generations_are_identical(trained, remote, name):
    expected = reference_outputs(trained[name])
    assert torch.equal(remote[name]["logits"], expected["logits"])
    assert torch.equal(remote[name]["greedy"], expected["greedy"])
    assert torch.equal(remote[name]["beam"], expected["beam"])
    assert len(set(expected["greedy"][:, 1:].flatten().tolist())) > 3  # guard: varied tokens, not one repeated


# ---------------------------------------------------------------------------------------------------------------
# Seq2SeqTrainer


def seq2seq_collate(features: list[dict]) -> dict[str, torch.Tensor]:
    """Left-padded sources, labels padded with -100 (the model builds decoder_input_ids from them)."""
    batch = pad_sources([f["input_ids"] for f in features], "left")
    width = max(len(f["labels"]) for f in features)
    batch["labels"] = torch.tensor([f["labels"] + [-100] * (width - len(f["labels"])) for f in features])
    return batch


def reversal_dataset(sources: list[list[int]]) -> list[dict]:
    return [{"input_ids": s, "labels": s[::-1] + [EOS]} for s in sources]


# Different target lengths: the two micro-batches hold 8 and 16 scored tokens.
GA_SOURCES = [[4, 5], [6, 7, 8, 9, 10], [11, 12, 13, 4, 5, 6, 7], [8, 9, 10, 11, 12, 13, 4]]


def one_sgd_step(model, output_dir, per_device_batch: int, accumulation: int) -> dict[str, torch.Tensor]:
    args = Seq2SeqTrainingArguments(
        output_dir=str(output_dir),
        per_device_train_batch_size=per_device_batch,
        gradient_accumulation_steps=accumulation,
        max_steps=1,
        optim="sgd",
        learning_rate=1.0,
        lr_scheduler_type="constant",
        weight_decay=0.0,
        max_grad_norm=0.0,
        train_sampling_strategy="sequential",
        use_cpu=True,
        report_to=[],
        save_strategy="no",
        logging_strategy="no",
        disable_tqdm=True,
        seed=0,
    )
    trainer = Seq2SeqTrainer(
        model=model, args=args, train_dataset=reversal_dataset(GA_SOURCES), data_collator=seq2seq_collate
    )
    trainer.train()
    return {name: p.detach().clone() for name, p in model.named_parameters()}


@pytest.mark.parametrize(("cell", "attention", "input_feeding"), [RANDOM_VARIANTS[1], RANDOM_VARIANTS[3]])
def test_trainer_gradient_accumulation_matches_full_batch_update(tmp_path, cell, attention, input_feeding):
    def build():
        return random_model(cell, attention, input_feeding, vocab_size=TASK_VOCAB_SIZE, initializer_range=0.1)

    initial = {name: p.detach().clone() for name, p in build().named_parameters()}
    accumulated = one_sgd_step(build(), tmp_path / "ga", per_device_batch=2, accumulation=2)
    full_batch = one_sgd_step(build(), tmp_path / "full", per_device_batch=4, accumulation=1)
    assert max((full_batch[n] - initial[n]).abs().max().item() for n in initial) > 1e-2  # the step moved weights
    for name, value in full_batch.items():
        torch.testing.assert_close(accumulated[name], value, atol=1e-6, rtol=0, msg=lambda m, n=name: f"{n}: {m}")


def test_seq2seq_trainer_trains_and_evaluates_with_generate(trained, tmp_path):
    model = copy.deepcopy(trained["luong_general"])  # training must not change the shared fixture
    eval_sources = random_sources(10, seed=7)
    eval_dataset = reversal_dataset(eval_sources)
    seen = {}

    def exact_match(prediction):
        predictions = [row.tolist() for row in prediction.predictions]
        seen["predictions"] = predictions
        hits = [
            [t for t in row[1:] if t not in (-100, PAD)][: len(s) + 1] == s[::-1] + [EOS]
            for row, s in zip(predictions, eval_sources)
        ]
        return {"exact_match": sum(hits) / len(hits)}

    args = Seq2SeqTrainingArguments(
        output_dir=str(tmp_path),
        per_device_train_batch_size=4,
        per_device_eval_batch_size=4,
        max_steps=2,
        learning_rate=1e-4,
        predict_with_generate=True,
        generation_max_length=NEW_TOKENS + 1,
        generation_num_beams=2,
        use_cpu=True,
        report_to=[],
        save_strategy="no",
        logging_strategy="no",
        disable_tqdm=True,
    )
    trainer = Seq2SeqTrainer(
        model=model,
        args=args,
        train_dataset=reversal_dataset(random_sources(8, seed=8)),
        eval_dataset=eval_dataset,
        data_collator=seq2seq_collate,
        compute_metrics=exact_match,
    )
    trainer.train()
    metrics = trainer.evaluate()
    assert metrics["eval_loss"] < 0.5
    assert metrics["eval_exact_match"] >= 0.8
    # The predictions are what generate() gives with the same settings.
    with torch.no_grad():
        direct = model.generate(**pad_sources(eval_sources[:4], "left"), max_length=NEW_TOKENS + 1, num_beams=2)
    for row, expected in zip(seen["predictions"][:4], direct.tolist()):
        assert [t for t in row if t != -100][: len(expected)] == expected


# ---------------------------------------------------------------------------------------------------------------
# Config and inputs


INVALID = [
    ("encoder_cell", {"encoder_cell": "transformer"}),
    ("decoder_cell", {"decoder_cell": "LSTM"}),
    ("attention", {"attention": "multihead"}),
    ("vocab_size", {"vocab_size": 0}),
    ("target_vocab_size", {"target_vocab_size": -3}),
    ("embedding_size", {"embedding_size": 0, "tie_word_embeddings": False}),
    ("encoder_hidden_size", {"encoder_hidden_size": 2.5}),
    ("decoder_hidden_size", {"decoder_hidden_size": 0}),
    ("encoder_layers", {"encoder_layers": 0}),
    ("decoder_layers", {"decoder_layers": -1}),
    ("attention_size", {"attention_size": 0}),
    ("encoder_bidirectional", {"encoder_bidirectional": "yes"}),
    ("input_feeding", {"input_feeding": 1}),
    ("share_embeddings", {"share_embeddings": "true"}),
    ("share_embeddings", {"share_embeddings": True, "target_vocab_size": 50}),
    ("tie_word_embeddings", {"tie_word_embeddings": True, "embedding_size": 100}),
    ("embedding_dropout", {"embedding_dropout": -0.1}),
    ("layer_dropout", {"layer_dropout": 1.0}),
    ("output_dropout", {"output_dropout": "0.5"}),
    ("initializer_range", {"initializer_range": 0}),
    ("luong_dot", {"attention": "luong_dot", "encoder_hidden_size": 100, "decoder_hidden_size": 512}),
    ("pad_token_id", {"pad_token_id": 30, "vocab_size": 20, "target_vocab_size": 40}),
    ("bos_token_id", {"bos_token_id": -1}),
    ("decoder_start_token_id", {"decoder_start_token_id": 50, "vocab_size": 100, "target_vocab_size": 40}),
    ("eos_token_id", {"eos_token_id": [3, 99], "vocab_size": 50}),
]


@pytest.mark.parametrize(("field", "values"), INVALID, ids=[f"{f}-{v}" for f, v in INVALID])
def test_invalid_seq2seq_config_value_raises_value_error_naming_the_field(field, values):
    with pytest.raises(ValueError, match=field):
        RNNSeq2SeqConfig(**values)


def test_invalid_value_set_after_construction_is_caught_at_save_time(tmp_path):
    config = RNNSeq2SeqConfig()
    config.attention = "cosine"
    with pytest.raises(ValueError, match="attention"):
        config.save_pretrained(tmp_path)


def test_error_lists_the_allowed_attention_types():
    with pytest.raises(ValueError) as error:
        RNNSeq2SeqConfig(attention="luong")
    for allowed in ("'luong_dot'", "'luong_general'", "'bahdanau'"):
        assert allowed in str(error.value)


def test_config_defaults():
    config = RNNSeq2SeqConfig()
    assert config.is_encoder_decoder and config.encoder_bidirectional and config.tie_word_embeddings
    special_ids = (config.pad_token_id, config.bos_token_id, config.eos_token_id, config.decoder_start_token_id)
    assert special_ids == (0, 2, 3, 2)
    assert config.embedding_size == config.decoder_hidden_size == config.attention_size
    assert config.input_feeding is False and RNNSeq2SeqConfig(attention="bahdanau").input_feeding is True
    assert RNNSeq2SeqConfig(attention="luong_dot").decoder_hidden_size == RNNSeq2SeqConfig().encoder_output_size


def test_config_round_trips_through_auto_config(tmp_path):
    config = RNNSeq2SeqConfig(
        encoder_cell="gru",
        decoder_cell="rnn_tanh",
        target_vocab_size=77,
        attention="bahdanau",
        input_feeding=False,
        layer_dropout=0.25,
        tie_word_embeddings=False,
        embedding_size=9,
    )
    config.save_pretrained(tmp_path)
    loaded = AutoConfig.from_pretrained(tmp_path)
    assert isinstance(loaded, RNNSeq2SeqConfig)

    def fields(c):
        return {key: value for key, value in c.to_dict().items() if key != "_name_or_path"}

    assert fields(loaded) == fields(config)


@pytest.mark.parametrize(("argument", "bad_id"), [("input_ids", RANDOM_VOCAB_SIZE), ("decoder_input_ids", -1)])
def test_ids_outside_the_vocabulary_raise_a_clear_error(argument, bad_id):
    model = random_model()
    inputs = {"input_ids": torch.tensor([[4, 5, 6]]), "decoder_input_ids": torch.tensor([[BOS, 7]])}
    inputs[argument] = torch.tensor([[4, bad_id]])
    with pytest.raises(ValueError, match=rf"{argument} contains {bad_id}"):
        model(**inputs)
